"""The cockpit's read routes under ``/legato/v1``: instance search and detail, process
versions and element statistics, incident groups, decisions and their evaluations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api_helpers import assert_problem, deploy, start
from api_models import CREDIT_DMN as DMN
from api_models import ORDER
from api_support import Api

DECIDE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="decider" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:businessRuleTask id="decide"><bpmn:extensionElements>
      <zeebe:calledDecision decisionId="approval" resultVariable="route"/>
    </bpmn:extensionElements></bpmn:businessRuleTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="decide"/>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _get(api: Api, path: str, who: str = "audit", **params: Any) -> Any:
    answer = api.client.get(f"/legato/v1{path}", params=params, **api.as_(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _fail_charge(api: Api, instance_key: str, message: str) -> None:
    [job] = api.engine.jobs(instance_key=int(instance_key))
    api.engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
    api.engine.fail_job(job.job_key, message, retries=0)


def test_instances_are_searched_and_paged_with_a_bounded_count(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    keys = [start(api, "order", tier="gold" if i % 2 else "silver", amount=i) for i in range(5)]
    _fail_charge(api, keys[1], "card 4242 declined")

    first = _get(api, "/instances", limit=2, withCount="true")
    second = _get(api, "/instances", limit=2, after=first["nextCursor"])
    third = _get(api, "/instances", limit=2, after=second["nextCursor"])

    paged = [i["instanceKey"] for page in (first, second, third) for i in page["items"]]
    assert sorted(paged) == sorted(keys) and len(set(paged)) == 5
    assert third["nextCursor"] is None
    assert first["count"] == {"count": 5, "capped": False, "label": "5"}
    gold = _get(api, "/instances", variableName="tier", variableValue="gold")
    assert sorted(i["instanceKey"] for i in gold["items"]) == sorted([keys[1], keys[3]])
    assert gold["items"][0]["variables"]["tier"] == "gold"
    by_number = _get(api, "/instances", variableName="amount", variableValue="3")
    assert [i["instanceKey"] for i in by_number["items"]] == [keys[3]]
    stuck = _get(api, "/instances", status="incident", processId="order")
    assert [i["instanceKey"] for i in stuck["items"]] == [keys[1]]
    assert stuck["items"][0]["activeElements"] == ["charge"]
    later = _get(api, "/instances", startedFrom="2999-01-01T00:00:00Z")
    assert later["items"] == []


def test_bad_search_parameters_are_a_400_naming_them(api: Api) -> None:
    for params, named in (
        ({"status": "bogus"}, "status"),
        ({"after": "nonsense"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"startedFrom": "yesterday"}, "startedFrom"),
        ({"endedBefore": "2026-01-01T00:00:00"}, "endedBefore"),
        ({"variableName": "tier"}, "variableValue"),
        ({"variableName": "tier", "variableValue": '{"a": 1}'}, "variableValue"),
        ({"parentInstanceKey": "abc"}, "parentInstanceKey"),
    ):
        answer = api.client.get("/legato/v1/instances", params=params, **api.as_("audit"))
        assert_problem(answer, 400, named)


def test_the_detail_statistics_and_process_versions_of_a_stuck_instance(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order")
    start(api, "order")
    _fail_charge(api, key, "card declined")

    detail = _get(api, f"/instances/{key}/detail")
    stats = _get(api, "/processes/order/statistics")
    versions = _get(api, "/processes")

    assert detail["instance"]["instanceKey"] == key
    assert detail["path"]["completedElements"] == ["s"]
    assert detail["path"]["activeElements"] == ["charge"]
    assert detail["path"]["takenFlows"] == ["f_s_charge"]
    [incident] = detail["incidents"]
    assert incident["message"] == "card declined" and incident["state"] == "open"
    assert detail["calling"] is None and detail["called"] == []
    assert {s["elementId"]: (s["active"], s["completed"], s["incidents"]) for s in stats} == {
        "s": (0, 2, 0),
        "charge": (2, 0, 1),
    }
    assert [
        (v["processId"], v["version"], v["activeInstances"], v["openIncidents"]) for v in versions
    ] == [("order", 1, 2, 1)]
    assert _get(api, "/processes/order/statistics", version=1) == stats
    assert_problem(
        api.client.get("/legato/v1/processes/order/statistics?version=2", **api.as_("audit")),
        404,
    )
    assert_problem(api.client.get("/legato/v1/instances/77/detail", **api.as_("audit")), 404)
    assert_problem(api.client.get(f"/legato/v1/instances/{key}/detail", **api.as_("worker")), 403)
    assert_problem(api.client.get("/legato/v1/processes", **api.as_("ann")), 403)


def test_incidents_are_grouped_by_cause_and_listed_per_group(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    keys = [start(api, "order") for _ in range(3)]
    _fail_charge(api, keys[0], "card 4242 declined")
    _fail_charge(api, keys[1], "card 1111 declined")
    _fail_charge(api, keys[2], "gateway timeout")

    groups = _get(api, "/incident-groups", who="op")
    first = _get(api, f"/incident-groups/{groups[0]['group']}/incidents", limit=1)
    rest = _get(api, f"/incident-groups/{groups[0]['group']}/incidents", after=first["nextCursor"])

    assert [(g["message"], g["count"]) for g in groups] == [
        ("card <n> declined", 2),
        ("gateway timeout", 1),
    ]
    assert groups[0]["processId"] == "order" and groups[0]["elementId"] == "charge"
    listed = [i["instanceKey"] for i in [*first["items"], *rest["items"]]]
    assert sorted(listed) == sorted(keys[:2])
    assert rest["nextCursor"] is None
    assert_problem(
        api.client.get("/legato/v1/incident-groups/nonsense/incidents", **api.as_("op")),
        400,
        "group",
    )
    assert_problem(api.client.get("/legato/v1/incident-groups", **api.as_("ann")), 403)


def test_decisions_and_their_evaluations_with_the_matched_rules(api: Api) -> None:
    deploy(api, "credit.dmn", DMN)
    deploy(api, "decide.bpmn", DECIDE)
    high = start(api, "decider", score=800)
    low = start(api, "decider", score=600)

    decisions = _get(api, "/decisions")
    evaluations = _get(api, "/decisions/approval/evaluations")

    assert [(d["decisionId"], d["version"], d["name"]) for d in decisions] == [
        ("approval", 1, "Approval")
    ]
    by_instance = {e["instanceKey"]: e for e in evaluations["items"]}
    assert by_instance[high]["matchedRules"] == ["auto"]
    assert by_instance[high]["result"] == "approve"
    assert by_instance[low]["matchedRules"] == ["manual"]
    assert by_instance[low]["elementId"] == "decide"
    assert evaluations["nextCursor"] is None
    assert_problem(
        api.client.get("/legato/v1/decisions/approval/evaluations?limit=900", **api.as_("audit")),
        400,
        "limit",
    )
