"""The ``/v2`` routes in process: each one's success shape and its errors (401 without
credentials, 403 for a role without the permission, 404 for an unknown key, 400 naming the
bad member of a body, 409 for a command that does not fit the state)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from api_helpers import activate, assert_problem, deploy, start
from api_models import BROKEN, CREDIT_DMN, ORDER, PAYMENT, RISKY_ORDER
from api_support import Api, wait_until
from fastapi.testclient import TestClient

from legato.api.v2.jobs import JobActivationResult

# -- authentication and permissions -----------------------------------------------------------


def test_every_route_but_health_needs_credentials(api: Api) -> None:
    assert_problem(api.client.get("/v2/topology"), 401)
    assert_problem(api.client.get("/v2/topology", auth=("admin", "wrong")), 401)
    assert api.client.get("/health").status_code == 200
    assert api.client.get("/ready").json() == {"status": "UP"}


def test_every_route_declares_its_permission_in_the_schema(api: Api) -> None:
    spec = api.client.get("/openapi.json", **api.as_("admin")).json()
    paths = spec["paths"]
    for path in (
        "/v2/deployments",
        "/v2/process-instances",
        "/v2/jobs/activation",
        "/v2/messages/publication",
        "/v2/topology",
    ):
        assert path in paths
    activation = paths["/v2/jobs/activation"]["post"]
    schema = activation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("JobActivationResult")


def test_a_role_without_the_permission_is_refused(api: Api) -> None:
    answer = api.client.post(
        "/v2/deployments", files={"resources": ("order.bpmn", ORDER.encode())}, **api.as_("ann")
    )
    assert_problem(answer, 403, "definitions:deploy")
    assert_problem(
        api.client.post(
            "/v2/process-instances", json={"processDefinitionId": "order"}, **api.as_("audit")
        ),
        403,
    )


def test_a_worker_works_only_on_its_job_types(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    start(api, "order")
    answer = api.client.post(
        "/v2/jobs/activation",
        json={"type": "ship", "timeout": 1000, "maxJobsToActivate": 1, "requestTimeout": -1},
        **api.as_("worker"),
    )
    assert_problem(answer, 403, "ship")
    [job] = activate(api)
    assert job["type"] == "charge"


def test_authentication_me_names_the_caller(api: Api) -> None:
    me = api.client.get("/v2/authentication/me", **api.as_("ann")).json()
    assert me["username"] == "ann"
    assert me["groups"] == ["sales"]
    assert me["roles"] == ["user"]
    assert "tasks:work" in me["permissions"]


# -- deployments ------------------------------------------------------------------------------


def test_a_deployment_answers_its_definitions_and_is_idempotent(api: Api) -> None:
    first = deploy(api, "order.bpmn", ORDER, who="dev")
    assert first["tenantId"] == "<default>"
    [metadata] = first["deployments"]
    process = metadata["processDefinition"]
    assert process["processDefinitionId"] == "order"
    assert process["processDefinitionVersion"] == 1
    assert process["resourceName"] == "order.bpmn"
    assert process["tenantId"] == "<default>"
    again = deploy(api, "order.bpmn", ORDER)
    assert again["deployments"] == first["deployments"]
    changed = deploy(api, "order.bpmn", ORDER.replace('id="e"', 'id="end"').replace('"e"', '"end"'))
    assert changed["deployments"][0]["processDefinition"]["processDefinitionVersion"] == 2


def test_decisions_deploy_beside_processes(api: Api) -> None:
    answer = api.client.post(
        "/v2/deployments",
        files=[
            ("resources", ("order.bpmn", ORDER.encode())),
            ("resources", ("credit.dmn", CREDIT_DMN.encode())),
        ],
        data={"tenantId": "<default>"},
        **api.as_("dev"),
    )
    assert answer.status_code == 200, answer.text
    deployments = answer.json()["deployments"]
    assert [next(iter(d)) for d in deployments] == [
        "processDefinition",
        "decisionRequirements",
        "decisionDefinition",
    ]
    decision = deployments[2]["decisionDefinition"]
    assert decision["decisionDefinitionId"] == "approval"
    assert decision["version"] == 1
    assert decision["name"] == "Approval"
    assert set(decision) == {
        "decisionDefinitionId", "version", "name", "tenantId", "decisionRequirementsId",
        "decisionDefinitionKey", "decisionRequirementsKey",
    }  # fmt: skip
    assert api.engine.evaluate_decision("approval", {"score": 800}).value == "approve"


def test_a_broken_model_is_refused_naming_file_and_element(api: Api) -> None:
    answer = api.client.post(
        "/v2/deployments",
        files={"resources": ("broken.bpmn", BROKEN.encode())},
        **api.as_("admin"),
    )
    body = assert_problem(answer, 400, "broken.bpmn:4", "element 'f'", "nowhere")
    assert "legato-deploy" not in body["detail"]
    not_xml = api.client.post(
        "/v2/deployments", files={"resources": ("x.bpmn", b"hello")}, **api.as_("admin")
    )
    assert_problem(not_xml, 400, "x.bpmn:1", "malformed XML")


def test_an_oversized_upload_is_refused_with_413(api: Api) -> None:
    big = ORDER.replace("<bpmn:process", "<!--" + "x" * 70_000 + "--><bpmn:process")
    answer = api.client.post(
        "/v2/deployments", files={"resources": ("big.bpmn", big.encode())}, **api.as_("admin")
    )
    assert_problem(answer, 413)


def test_an_unknown_tenant_is_refused(api: Api) -> None:
    answer = api.client.post(
        "/v2/deployments",
        files={"resources": ("order.bpmn", ORDER.encode())},
        data={"tenantId": "acme"},
        **api.as_("admin"),
    )
    assert_problem(answer, 400, "tenant")


# -- process instances ------------------------------------------------------------------------


def test_an_instance_is_created_by_id_or_key_once_per_operation_reference(api: Api) -> None:
    deployed = deploy(api, "order.bpmn", ORDER)
    definition_key = deployed["deployments"][0]["processDefinition"]["processDefinitionKey"]
    body = {
        "processDefinitionKey": definition_key,
        "variables": {"amount": 5},
        "operationReference": "op-1",
        "tenantId": "<default>",
        "fetchVariables": ["amount"],
        "unknownMember": True,
    }
    first = api.client.post("/v2/process-instances", json=body, **api.as_("admin")).json()
    again = api.client.post("/v2/process-instances", json=body, **api.as_("admin")).json()
    assert first["processInstanceKey"] == again["processInstanceKey"]
    assert first["variables"] == {"amount": 5}
    assert set(first) >= {
        "processDefinitionId",
        "processDefinitionVersion",
        "tenantId",
        "variables",
        "processDefinitionKey",
        "processInstanceKey",
        "tags",
        "businessId",
    }
    assert len(api.engine.instances()) == 1
    latest = api.client.post(
        "/v2/process-instances",
        json={"processDefinitionId": "order", "processDefinitionVersion": -1},
        **api.as_("admin"),
    )
    assert latest.json()["processDefinitionKey"] == definition_key


def test_creating_an_instance_names_the_bad_member(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    wrong_type = api.client.post(
        "/v2/process-instances",
        json={"processDefinitionId": "order", "variables": "not an object"},
        **api.as_("admin"),
    )
    assert_problem(wrong_type, 400, "variables")
    not_a_version = api.client.post(
        "/v2/process-instances",
        json={"processDefinitionId": "order", "processDefinitionVersion": "1"},
        **api.as_("admin"),
    )
    assert_problem(not_a_version, 400, "processDefinitionVersion")
    bad_key = api.client.post(
        "/v2/process-instances", json={"processDefinitionKey": "abc"}, **api.as_("admin")
    )
    assert_problem(bad_key, 400, "processDefinitionKey")
    unknown = api.client.post(
        "/v2/process-instances", json={"processDefinitionId": "nope"}, **api.as_("admin")
    )
    assert_problem(unknown, 404, "nope")
    elsewhere = api.client.post(
        "/v2/process-instances",
        json={"processDefinitionId": "order", "startInstructions": [{"elementId": "charge"}]},
        **api.as_("admin"),
    )
    assert_problem(elsewhere, 400, "startInstructions")


def test_awaiting_completion_answers_the_variables_or_runs_out(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    # Nobody works on the order's job: the wait runs out.
    waiting = api.client.post(
        "/v2/process-instances",
        json={"processDefinitionId": "order", "awaitCompletion": True, "requestTimeout": 50},
        **api.as_("admin"),
    )
    assert_problem(waiting, 504, "did not complete")
    [instance] = api.engine.instances()
    assert instance.status == "active"

    def work() -> None:
        wait_until(lambda: len(api.engine.instances()) == 2, "the second instance")
        for job in activate(api):  # the first instance's job too
            api.client.post(
                f"/v2/jobs/{job['jobKey']}/completion",
                json={"variables": {"charged": True}},
                **api.as_("worker"),
            )

    # A worker completes the job while the request waits.
    worker = threading.Thread(target=work)
    worker.start()
    done = api.client.post(
        "/v2/process-instances",
        json={
            "processDefinitionId": "order",
            "variables": {"amount": 3},
            "awaitCompletion": True,
            "requestTimeout": 120_000,
        },
        **api.as_("admin"),
    )
    worker.join()
    assert done.status_code == 200, done.text
    assert done.json()["variables"] == {"amount": 3, "charged": True}
    key = int(done.json()["processInstanceKey"])
    assert api.engine.instance(key).status == "completed"


def test_instances_are_searched_by_state_and_key_and_cancelled(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    deploy(api, "payment.bpmn", PAYMENT)
    keys = [start(api, "order") for _ in range(3)]
    start(api, "payment", orderId="o-1")
    answer = api.client.post(
        "/v2/process-instances/search",
        json={
            "filter": {"processDefinitionId": "order", "state": "ACTIVE"},
            "page": {"from": 0, "limit": 2},
            "sort": [{"field": "processInstanceKey", "order": "asc"}],
        },
        **api.as_("audit"),
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert [i["processInstanceKey"] for i in result["items"]] == keys[:2]
    assert result["page"]["totalItems"] == 3
    assert set(result["page"]) == {"totalItems", "hasMoreTotalItems", "startCursor", "endCursor"}
    following = api.client.post(
        "/v2/process-instances/search",
        json={
            "filter": {"processDefinitionId": "order"},
            "page": {"after": result["page"]["endCursor"], "limit": 2},
            "sort": [{"field": "processInstanceKey", "order": "ASC"}],
        },
        **api.as_("audit"),
    ).json()
    assert [i["processInstanceKey"] for i in following["items"]] == keys[2:]

    cancel = api.client.post(
        f"/v2/process-instances/{keys[0]}/cancellation", json={}, **api.as_("op")
    )
    assert cancel.status_code == 204
    assert api.engine.instance(int(keys[0])).status == "terminated"
    terminated = api.client.post(
        "/v2/process-instances/search",
        json={"filter": {"state": "TERMINATED"}},
        **api.as_("audit"),
    ).json()
    assert [i["processInstanceKey"] for i in terminated["items"]] == [keys[0]]
    one = api.client.get(f"/v2/process-instances/{keys[1]}", **api.as_("audit")).json()
    assert one["state"] == "ACTIVE"
    assert one["hasIncident"] is False
    assert_problem(api.client.get("/v2/process-instances/1", **api.as_("audit")), 404)
    assert_problem(api.client.post("/v2/process-instances/77/cancellation", **api.as_("op")), 404)
    assert_problem(
        api.client.post(f"/v2/process-instances/{keys[1]}/cancellation", **api.as_("dev")), 403
    )
    bad_sort = api.client.post(
        "/v2/process-instances/search",
        json={"sort": [{"field": "processInstanceKey", "order": "sideways"}]},
        **api.as_("audit"),
    )
    assert_problem(bad_sort, 400, "order")


# -- jobs -------------------------------------------------------------------------------------


def test_an_activation_answers_exactly_what_its_documented_model_renders(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    start(api, "order", amount=42.5, when="2026-01-02", nested={"a": [1, None, True]})
    start(api, "order", amount=2**70)  # beyond 64 bits: still a JSON number
    answer = api.client.post(
        "/v2/jobs/activation",
        json={"type": "charge", "timeout": 30_000, "maxJobsToActivate": 5, "requestTimeout": -1},
        **api.as_("worker"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert len(body["jobs"]) == 2
    assert JobActivationResult.model_validate(body).model_dump(mode="json") == body
    amounts = sorted(job["variables"]["amount"] for job in body["jobs"])
    assert amounts == [42.5, 2**70]


def test_an_activated_job_has_every_member_the_python_sdk_requires(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=42, note="x")
    answer = api.client.post(
        "/v2/jobs/activation",
        json={
            "type": "charge",
            "worker": "w1",
            "timeout": 30_000,
            "maxJobsToActivate": 5,
            "fetchVariable": ["amount"],
            "requestTimeout": -1,
            "tenantIds": ["<default>"],
        },
        **api.as_("worker"),
    )
    [job] = answer.json()["jobs"]
    assert set(job) >= {
        "type", "processDefinitionId", "processDefinitionVersion", "elementId", "customHeaders",
        "worker", "retries", "deadline", "variables", "tenantId", "physicalTenantId", "jobKey",
        "processInstanceKey", "processDefinitionKey", "elementInstanceKey", "kind",
        "listenerEventType", "userTask", "tags", "rootProcessInstanceKey", "businessId",
        "priority",
    }  # fmt: skip
    assert job["processInstanceKey"] == key
    assert job["variables"] == {"amount": 42}
    assert job["worker"] == "w1"
    assert isinstance(job["deadline"], int)
    assert job["kind"] == "BPMN_ELEMENT"


def test_jobs_are_completed_failed_and_errors_thrown(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    deploy(api, "risky.bpmn", RISKY_ORDER)
    done = start(api, "order")
    [job] = activate(api)
    completed = api.client.post(
        f"/v2/jobs/{job['jobKey']}/completion", json={"variables": {"ok": 1}}, **api.as_("worker")
    )
    assert completed.status_code == 204
    assert api.engine.instance(int(done)).status == "completed"
    assert_problem(
        api.client.post(f"/v2/jobs/{job['jobKey']}/completion", json={}, **api.as_("worker")),
        404,
    )

    failing = start(api, "order")
    [job] = activate(api)
    failed = api.client.post(
        f"/v2/jobs/{job['jobKey']}/failure",
        json={"retries": 0, "errorMessage": "card declined"},
        **api.as_("worker"),
    )
    assert failed.status_code == 204
    [incident] = api.engine.incidents(instance_key=int(failing))
    assert "card declined" in incident.message

    risky = start(api, "risky")
    [job] = activate(api)
    bad = api.client.post(f"/v2/jobs/{job['jobKey']}/error", json={}, **api.as_("worker"))
    assert_problem(bad, 400, "errorCode")
    thrown = api.client.post(
        f"/v2/jobs/{job['jobKey']}/error",
        json={"errorCode": "OUT_OF_STOCK", "errorMessage": "none"},
        **api.as_("worker"),
    )
    assert thrown.status_code == 204
    assert api.engine.instance(int(risky)).status == "completed"
    assert_problem(api.client.post("/v2/jobs/abc/completion", **api.as_("worker")), 400, "jobKey")
    assert_problem(
        api.client.post("/v2/jobs/activation", json={"type": "charge"}, **api.as_("worker")),
        400,
        "timeout",
    )


def test_a_job_lease_is_extended(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    start(api, "order")
    [job] = activate(api)
    answer = api.client.patch(
        f"/v2/jobs/{job['jobKey']}", json={"changeset": {"timeout": 600_000}}, **api.as_("worker")
    )
    assert answer.status_code == 204, answer.text
    [record] = api.engine.jobs()
    assert record.lease_until is not None
    assert (record.lease_until - api.engine.clock.now()).total_seconds() > 300
    assert_problem(api.client.patch("/v2/jobs/12345", json={"changeset": {}}, **api.as_("op")), 404)


def test_new_retries_resolve_a_job_incident_and_stale_commands_conflict(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order")
    [job] = activate(api)
    api.client.post(f"/v2/jobs/{job['jobKey']}/failure", json={"retries": 0}, **api.as_("worker"))
    assert api.engine.incidents(instance_key=int(key))
    # The job waits in an incident: it cannot be completed.
    stale = api.client.post(f"/v2/jobs/{job['jobKey']}/completion", **api.as_("worker"))
    assert_problem(stale, 409)
    assert_problem(
        api.client.patch(
            f"/v2/jobs/{job['jobKey']}", json={"changeset": {"retries": 2}}, **api.as_("dev")
        ),
        403,
    )
    retried = api.client.patch(
        f"/v2/jobs/{job['jobKey']}", json={"changeset": {"retries": 2}}, **api.as_("op")
    )
    assert retried.status_code == 204, retried.text
    assert not api.engine.incidents(instance_key=int(key))
    [again] = activate(api)
    assert again["jobKey"] == job["jobKey"]
    assert again["retries"] == 2


# -- messages, signals, topology -------------------------------------------------------------


def test_messages_are_published_and_correlated(api: Api) -> None:
    deploy(api, "payment.bpmn", PAYMENT)
    key = start(api, "payment", orderId="o-1")
    missing = api.client.post(
        "/v2/messages/correlation",
        json={"name": "paid", "correlationKey": "o-2"},
        **api.as_("worker"),
    )
    assert_problem(missing, 404, "paid")
    correlated = api.client.post(
        "/v2/messages/correlation",
        json={"name": "paid", "correlationKey": "o-1", "variables": {"amount": 3}},
        **api.as_("worker"),
    )
    assert correlated.status_code == 200, correlated.text
    assert correlated.json()["processInstanceKey"] == key
    assert api.engine.instance(int(key)).status == "completed"
    published = api.client.post(
        "/v2/messages/publication",
        json={"name": "paid", "correlationKey": "o-9", "timeToLive": 60_000, "messageId": "m"},
        **api.as_("worker"),
    ).json()
    assert published["tenantId"] == "<default>"
    later = start(api, "payment", orderId="o-9")
    assert api.engine.instance(int(later)).status == "completed"
    assert_problem(
        api.client.post(
            "/v2/messages/publication", json={"name": "x", "timeToLive": "1"}, **api.as_("worker")
        ),
        400,
        "timeToLive",
    )


def test_signals_are_broadcast_and_the_topology_lists_nodes(api: Api) -> None:
    answer = api.client.post(
        "/v2/signals/broadcast", json={"signalName": "closed"}, **api.as_("op")
    )
    assert answer.status_code == 200
    assert set(answer.json()) == {"tenantId", "signalKey"}
    topology = api.client.get("/v2/topology", **api.as_("worker")).json()
    assert topology["clusterSize"] >= 1
    assert topology["gatewayVersion"]


@pytest.mark.parametrize("order", ["asc", "ASC", "desc", "DESC"])
def test_sort_orders_are_accepted_in_either_case(api: Api, order: str) -> None:
    answer = api.client.post(
        "/v2/process-instances/search",
        json={"sort": [{"field": "startDate", "order": order}]},
        **api.as_("admin"),
    )
    assert answer.status_code == 200, answer.text


# -- operator routes --------------------------------------------------------------------------


def test_incidents_are_searched_and_resolved(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order")
    [job] = activate(api)
    api.client.post(
        f"/v2/jobs/{job['jobKey']}/failure",
        json={"retries": 0, "errorMessage": "down"},
        **api.as_("worker"),
    )
    found = api.client.post(
        "/v2/incidents/search",
        json={"filter": {"processInstanceKey": key, "state": "ACTIVE"}},
        **api.as_("audit"),
    ).json()
    [incident] = found["items"]
    assert incident["errorType"] == "JOB_NO_RETRIES"
    assert incident["errorMessage"] == "down"
    assert incident["elementId"] == "charge"
    assert incident["jobKey"] == job["jobKey"]
    assert incident["processDefinitionId"] == "order"
    one = api.client.get(f"/v2/incidents/{incident['incidentKey']}", **api.as_("audit"))
    assert one.json() == incident
    assert_problem(
        api.client.post(f"/v2/incidents/{incident['incidentKey']}/resolution", **api.as_("audit")),
        403,
    )
    resolved = api.client.post(
        f"/v2/incidents/{incident['incidentKey']}/resolution", **api.as_("op")
    )
    assert resolved.status_code == 204
    assert not api.engine.incidents(instance_key=int(key))
    [again] = activate(api)
    assert again["jobKey"] == job["jobKey"]
    assert_problem(api.client.post("/v2/incidents/42/resolution", **api.as_("op")), 404)


def test_variables_are_searched_with_values_as_json_text(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=5, customer={"name": "Ann"}, ratio=0.5)
    start(api, "order", amount=6)
    found = api.client.post(
        "/v2/variables/search",
        json={"filter": {"processInstanceKey": key}, "sort": [{"field": "name"}]},
        **api.as_("audit"),
    ).json()
    values = {v["name"]: v["value"] for v in found["items"]}
    assert values == {"amount": "5", "customer": '{"name": "Ann"}', "ratio": "0.5"}
    assert {v["scopeKey"] for v in found["items"]} == {key}
    named = api.client.post(
        "/v2/variables/search", json={"filter": {"name": "amount"}}, **api.as_("audit")
    ).json()
    assert sorted(v["value"] for v in named["items"]) == ["5", "6"]


def test_element_instances_come_from_the_history(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order")
    found = api.client.post(
        "/v2/element-instances/search",
        json={"filter": {"processInstanceKey": key}, "sort": [{"field": "elementInstanceKey"}]},
        **api.as_("audit"),
    ).json()
    states = {e["elementId"]: (e["type"], e["state"]) for e in found["items"]}
    assert states == {"s": ("START_EVENT", "COMPLETED"), "charge": ("SERVICE_TASK", "ACTIVE")}


def test_process_definitions_are_searched_and_their_xml_read(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    deploy(api, "payment.bpmn", PAYMENT)
    found = api.client.post(
        "/v2/process-definitions/search",
        json={"filter": {"processDefinitionId": "order"}},
        **api.as_("ann"),
    ).json()
    [definition] = found["items"]
    assert definition["resourceName"] == "order.bpmn"
    assert definition["version"] == 1
    xml = api.client.get(
        f"/v2/process-definitions/{definition['processDefinitionKey']}/xml", **api.as_("ann")
    )
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("text/xml")
    assert xml.text == ORDER
    assert_problem(api.client.get("/v2/process-definitions/999/xml", **api.as_("ann")), 404)
    assert_problem(api.client.get("/v2/process-definitions/x/xml", **api.as_("ann")), 400)


def test_a_command_that_does_not_fit_the_state_is_a_conflict(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order")
    assert (
        api.client.post(f"/v2/process-instances/{key}/cancellation", **api.as_("op")).status_code
        == 204
    )
    again = api.client.post(f"/v2/process-instances/{key}/cancellation", **api.as_("op"))
    assert_problem(again, 409)


def test_variables_that_cannot_be_stored_are_a_bad_request(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    nested: dict[str, Any] = {}
    deepest = nested
    for _ in range(150):
        deepest["x"] = {}
        deepest = deepest["x"]
    answer = api.client.post(
        "/v2/process-instances",
        json={"processDefinitionId": "order", "variables": {"deep": nested}},
        **api.as_("admin"),
    )
    assert_problem(answer, 400, "variables", "deep")
    not_a_number = api.client.post(
        "/v2/messages/publication",
        content=b'{"name": "m", "variables": {"n": NaN}}',
        headers={"Content-Type": "application/json"},
        **api.as_("admin"),
    )
    assert_problem(not_a_number, 400, "variables")
    assert api.engine.instances() == []


def test_an_unexpected_error_is_a_problem_detail(api: Api, monkeypatch: Any) -> None:
    def broken() -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(api.engine, "nodes", broken)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    body = assert_problem(client.get("/v2/topology", auth=("op", "op")), 500, "RuntimeError")
    assert "fire" not in body["detail"]


def test_completions_outside_the_plain_shape_are_answered_as_every_request(api: Api) -> None:
    # The plain completion takes a short way past the framework; every other body must get
    # the same answers as the route gives.
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order")
    [job] = activate(api)
    path = f"/v2/jobs/{job['jobKey']}/completion"
    worker = api.as_("worker")
    not_json = api.client.post(
        path, content=b"{not json", headers={"Content-Type": "application/json"}, **worker
    )
    assert_problem(not_json, 400)
    assert_problem(api.client.post(path, json={"variables": [1, 2]}, **worker), 400, "variables")
    deep: dict[str, object] = {}
    for _ in range(150):
        deep = {"d": deep}
    assert_problem(api.client.post(path, json={"variables": {"deep": deep}}, **worker), 400)
    with_result = api.client.post(path, json={"result": {"type": "userTask"}}, **worker)
    assert_problem(with_result, 400, "result")
    assert api.engine.instance(int(key)).status == "active"  # none of them changed anything

    done = api.client.post(path, json={"variables": {"total": 12.5, "items": ["a"]}}, **worker)
    assert done.status_code == 204
    assert done.content == b""
    info = api.engine.instance(int(key))
    assert info.status == "completed"
    assert info.variables["total"] == 12.5
    assert info.variables["items"] == ["a"]


def test_durations_beyond_the_calendar_are_refused_naming_the_field(api: Api) -> None:
    # A time to live of a million years overflowed the calendar (500) before.
    huge = 86_400_000_000_000_000
    published = api.client.post(
        "/v2/messages/publication",
        json={"name": "paid", "correlationKey": "k", "timeToLive": huge},
        **api.as_("op"),
    )
    assert_problem(published, 400, "timeToLive")
    activation = {"type": "charge", "timeout": huge, "maxJobsToActivate": 1}
    assert_problem(
        api.client.post("/v2/jobs/activation", json=activation, **api.as_("worker")),
        400,
        "timeout",
    )
