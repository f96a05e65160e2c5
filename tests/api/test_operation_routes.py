"""An operator's commands over HTTP: suspend and resume, variable changes, retries with
fixed variables, batch operations; who did each, what a ``user`` may not do, bad input."""

from __future__ import annotations

from typing import Any

from api_helpers import activate, assert_problem, deploy, start
from api_models import ORDER, PAYMENT
from api_support import Api

from legato.api.c7 import ids
from legato.api.c7.ids import Kind


def _history(api: Api, key: str, event_type: str) -> list[dict[str, Any]]:
    answer = api.client.get(f"/legato/v1/instances/{key}/history", **api.as_("audit")).json()
    return [e["details"] for e in answer["items"] if e["eventType"] == event_type]


def _suspension(api: Api, key: str, method: str = "POST", who: str = "op") -> Any:
    path = f"/legato/v1/process-instances/{key}/suspension"
    return api.client.request(method, path, **api.as_(who))


def test_a_suspended_instance_gives_no_job_to_a_worker_until_resumed(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    assert _suspension(api, key).status_code == 204
    assert activate(api) == []
    shown = api.client.get(f"/v2/process-instances/{key}", **api.as_("audit")).json()
    assert (shown["state"], shown["suspended"]) == ("ACTIVE", True)
    assert api.engine.instance(int(key)).status == "suspended"
    assert _suspension(api, key, "DELETE").status_code == 204
    [job] = activate(api)
    assert job["processInstanceKey"] == key
    assert _history(api, key, "InstanceSuspended") == [{"by": "op"}]
    assert _history(api, key, "InstanceResumed") == [{"by": "op"}]


def test_a_job_activated_before_the_suspension_cannot_be_completed(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    [job] = activate(api)
    _suspension(api, key)
    refused = api.client.post(f"/v2/jobs/{job['jobKey']}/completion", json={}, **api.as_("worker"))
    assert_problem(refused, 409, f"instance {key} is suspended")
    _suspension(api, key, "DELETE")
    [again] = activate(api)
    assert again["jobKey"] == job["jobKey"]


def test_no_message_reaches_a_suspended_instance(api: Api) -> None:
    deploy(api, "payment.bpmn", PAYMENT)
    key = start(api, "payment", orderId="o-7")
    _suspension(api, key)
    message = {"name": "paid", "correlationKey": "o-7", "variables": {"paid": True}}
    answer = api.client.post("/v2/messages/correlation", json=message, **api.as_("op"))
    assert answer.status_code == 404, answer.text  # nobody waits for it now
    _suspension(api, key, "DELETE")
    answer = api.client.post("/v2/messages/correlation", json=message, **api.as_("op"))
    assert answer.status_code == 200, answer.text
    assert api.engine.instance(int(key)).status == "completed"


def test_suspending_twice_and_unknown_keys_are_named(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    assert_problem(_suspension(api, key, "DELETE"), 409, f"instance {key} is not suspended")
    _suspension(api, key)
    assert_problem(_suspension(api, key), 409, f"instance {key} is suspended already")
    assert_problem(_suspension(api, "987654"), 404, "987654")
    assert_problem(_suspension(api, "abc"), 400, "processInstanceKey")


def test_a_user_may_not_operate(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    assert_problem(_suspension(api, key, who="ann"), 403, "instances:modify")
    assert_problem(_suspension(api, key, who="audit"), 403)
    variables = {"variables": {"amount": 4}}
    path = f"/legato/v1/process-instances/{key}/variables"
    assert_problem(api.client.put(path, json=variables, **api.as_("ann")), 403)
    batch = {"kind": "cancel", "keys": [key]}
    assert_problem(
        api.client.post("/legato/v1/batch-operations", json=batch, **api.as_("ann")), 403
    )
    assert api.engine.instance(int(key)).status == "active"


def test_a_variable_change_is_recorded_with_old_and_new_values(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    path = f"/legato/v1/process-instances/{key}/variables"
    answer = api.client.put(path, json={"variables": {"amount": 5}}, **api.as_("op"))
    assert answer.status_code == 204, answer.text
    [edit] = _history(api, key, "VariablesEdited")
    assert edit["changes"] == {"amount": {"old": 3, "new": 5}} and edit["by"] == "op"
    v2 = api.client.put(
        f"/v2/element-instances/{key}/variables",
        json={"variables": {"amount": 6}},
        **api.as_("admin"),
    )
    assert v2.status_code == 204, v2.text
    assert api.engine.instance(int(key)).variables["amount"] == 6
    assert_problem(api.client.put(path, json={"variables": {}}, **api.as_("op")), 400, "variables")
    missing = api.client.put(
        "/v2/element-instances/424242/variables", json={"variables": {"a": 1}}, **api.as_("op")
    )
    assert_problem(missing, 404, "424242")


def test_an_incident_is_retried_after_fixing_variables_in_one_request(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=-1)
    [job] = activate(api)
    failed = api.client.post(
        f"/v2/jobs/{job['jobKey']}/failure",
        json={"retries": 0, "errorMessage": "negative amount"},
        **api.as_("worker"),
    )
    assert failed.status_code == 204, failed.text
    [incident] = api.engine.incidents(instance_key=int(key))
    path = f"/legato/v1/incidents/{incident.incident_key}/retry"
    answer = api.client.post(path, json={"variables": {"amount": 2}}, **api.as_("op"))
    assert answer.status_code == 204, answer.text
    assert [e["by"] for e in _history(api, key, "IncidentResolved")] == ["op"]
    [again] = activate(api)
    assert again["variables"]["amount"] == 2
    assert_problem(api.client.post(path, **api.as_("op")), 409, "is not open")
    assert_problem(api.client.post("/legato/v1/incidents/5/retry", **api.as_("op")), 404, "5")


def test_a_batch_cancels_by_filter_with_a_dry_run_first(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    api.engine.start_many("order", [{"n": n} for n in range(30)])
    other = start(api, "order", amount=1)
    api.engine.cancel(int(other))
    body: dict[str, Any] = {
        "kind": "cancel",
        "filter": {"processDefinitionId": "order", "state": "ACTIVE"},
        "dryRun": True,
    }
    dry = api.client.post("/legato/v1/batch-operations", json=body, **api.as_("op")).json()
    assert (dry["dryRun"], dry["matched"], dry["done"], dry["skipped"]) == (True, 30, 30, 0)
    assert len(api.engine.instances(status="active")) == 30
    body["dryRun"] = False
    done = api.client.post("/legato/v1/batch-operations", json=body, **api.as_("op")).json()
    assert (done["done"], done["skipped"]) == (30, 0)
    assert api.engine.instances(status="active") == []
    [cancelled] = _history(api, done["doneKeys"][0], "InstanceTerminated")
    assert cancelled["by"] == "op"
    again = api.client.post(
        "/legato/v1/batch-operations",
        json={"kind": "retry", "keys": [done["doneKeys"][0], "77"]},
        **api.as_("op"),
    ).json()
    assert again["done"] == 0
    assert again["skippedInstances"] == [
        {
            "processInstanceKey": done["doneKeys"][0],
            "reason": f"instance {done['doneKeys'][0]} is terminated",
        },
        {"processInstanceKey": "77", "reason": "no instance with key 77"},
    ]


def test_a_batch_refuses_bad_input_naming_it(api: Api) -> None:
    def post(body: dict[str, Any]) -> Any:
        return api.client.post("/legato/v1/batch-operations", json=body, **api.as_("op"))

    assert_problem(post({"kind": "delete", "keys": ["1"]}), 400, "kind")
    assert_problem(post({"kind": "cancel"}), 400, "either instance keys or a filter")
    assert_problem(post({"kind": "cancel", "keys": ["1"] * 10_001}), 400, "keys")
    assert_problem(post({"kind": "cancel", "filter": {"state": "SLEEPING"}}), 400, "state")
    assert_problem(
        post({"kind": "cancel", "filter": {"processDefinitionVersion": 2}}),
        400,
        "filter.processDefinitionVersion",
    )
    assert_problem(
        post({"kind": "cancel", "filter": {"startedAfter": "yesterday"}}), 400, "startedAfter"
    )


def test_camunda_7_suspends_lists_and_activates_an_instance(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    running = start(api, "order", amount=4)
    instance_id = ids.to_uuid(Kind.INSTANCE, int(key))
    path = f"/engine-rest/process-instance/{instance_id}"
    answer = api.client.put(f"{path}/suspended", json={"suspended": True}, **api.as_("op"))
    assert answer.status_code == 204, answer.text
    assert api.client.get(path, **api.as_("audit")).json()["suspended"] is True
    listed = api.client.get(
        "/engine-rest/process-instance?suspended=true", **api.as_("audit")
    ).json()
    assert [i["id"] for i in listed] == [instance_id]
    active = api.client.get("/engine-rest/process-instance?active=true", **api.as_("audit")).json()
    assert [i["id"] for i in active] == [ids.to_uuid(Kind.INSTANCE, int(running))]
    tasks = api.client.get(
        f"/engine-rest/external-task?processInstanceId={instance_id}", **api.as_("op")
    ).json()
    assert [t["suspended"] for t in tasks] == [True]
    # As in Camunda, asking for the state it is in changes nothing.
    again = api.client.put(f"{path}/suspended", json={"suspended": True}, **api.as_("op"))
    assert again.status_code == 204
    api.client.put(f"{path}/suspended", json={"suspended": False}, **api.as_("op"))
    assert api.client.get(path, **api.as_("audit")).json()["suspended"] is False
    assert _history(api, key, "InstanceSuspended") == [{"by": "op"}]
