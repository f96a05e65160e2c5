"""Instance migration over HTTP: a dry run, a durable batch run by the server, its control,
who may do what, and bad plans."""

from __future__ import annotations

from typing import Any

from api_helpers import assert_problem, deploy, start
from api_support import Api

from bpmn_helpers import chain, process

V1 = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:endEvent id="e"/>'
    + chain("s", "review", "e")
)
V2 = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="approve"/><bpmn:endEvent id="e"/>'
    + chain("s", "approve", "e")
)
PLAN = {
    "processDefinitionId": "p",
    "sourceVersion": 1,
    "targetVersion": 2,
    "mappings": [{"sourceElementId": "review", "targetElementId": "approve"}],
}


def _setup(api: Api, count: int) -> list[str]:
    deploy(api, "p.bpmn", V1)
    keys = [start(api, "p", i=i) for i in range(count)]
    deploy(api, "p2.bpmn", V2)
    return keys


def _post(api: Api, path: str, body: Any = None, who: str = "op") -> Any:
    return api.client.post(f"/legato/v1{path}", json=body, **api.as_(who))


def test_a_dry_run_then_a_batch_that_the_server_runs(api: Api) -> None:
    keys = _setup(api, 3)
    checked = _post(api, "/migrations/check", {"plan": PLAN, "processInstanceKeys": keys})
    assert checked.status_code == 200, checked.text
    items = checked.json()["items"]
    assert [(i["processInstanceKey"], i["ok"]) for i in items] == [(k, True) for k in keys]
    assert "the token at 'review' moves to 'approve'" in items[0]["changes"]
    assert {api.engine.instance(int(k)).version for k in keys} == {1}
    started = _post(api, "/migrations", {"plan": PLAN})
    assert started.status_code == 201, started.text
    batch = started.json()
    assert (batch["status"], batch["total"], batch["createdBy"]) == ("RUNNING", 3, "op")
    api.engine.run_until_idle()  # what the server's loop does between its other work
    shown = api.client.get(f"/legato/v1/migrations/{batch['batchKey']}", **api.as_("audit"))
    assert shown.status_code == 200, shown.text
    assert (shown.json()["status"], shown.json()["done"], shown.json()["failures"]) == (
        "COMPLETED",
        3,
        [],
    )
    assert {api.engine.instance(int(k)).version for k in keys} == {2}
    listed = api.client.get("/legato/v1/migrations", **api.as_("audit")).json()["items"]
    assert [b["batchKey"] for b in listed] == [batch["batchKey"]]


def test_a_batch_is_paused_resumed_and_cancelled(api: Api) -> None:
    keys = _setup(api, 2)
    batch = _post(api, "/migrations", {"plan": PLAN, "processInstanceKeys": keys[:1]}).json()
    key = batch["batchKey"]
    assert _post(api, f"/migrations/{key}/pause").json()["status"] == "PAUSED"
    assert_problem(_post(api, f"/migrations/{key}/pause"), 409, "is paused")
    assert _post(api, f"/migrations/{key}/resume").json()["status"] == "RUNNING"
    assert _post(api, f"/migrations/{key}/cancel").json()["status"] == "CANCELLED"
    assert_problem(api.client.get("/legato/v1/migrations/77", **api.as_("op")), 404)


def test_bad_plans_and_callers_are_refused(api: Api) -> None:
    keys = _setup(api, 1)
    unknown = {**PLAN, "mappings": [{"sourceElementId": "nope", "targetElementId": "approve"}]}
    answer = _post(api, "/migrations/check", {"plan": unknown, "processInstanceKeys": keys})
    assert_problem(answer, 400, "source element 'nope'")
    assert_problem(_post(api, "/migrations", {"plan": {**PLAN, "targetVersion": 9}}), 404)
    assert_problem(_post(api, "/migrations", {"plan": PLAN}, who="ann"), 403)
    assert api.client.get("/legato/v1/migrations", **api.as_("ann")).status_code == 403
    both = {"plan": PLAN, "processInstanceKeys": keys, "filter": {"businessId": "x"}}
    assert_problem(_post(api, "/migrations", both), 400, "not both")
    assert_problem(_post(api, "/migrations", {"plan": PLAN, "rate": 0}), 400)
    refused = _post(api, "/migrations/check", {"plan": {**PLAN, "mappings": []},
                                               "processInstanceKeys": keys})  # fmt: skip
    [item] = refused.json()["items"]
    assert not item["ok"] and "'review' has no counterpart in version 2" in item["reason"]
