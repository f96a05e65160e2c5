"""Process versions and rollout over HTTP (``/legato/v1``): the versions with their tags and
instances, the diff, suspending and resuming, tagging, and the rollout rule; who may change
them and who may only look."""

from __future__ import annotations

from typing import Any

from api_helpers import assert_problem, deploy
from api_models import ORDER
from api_support import Api

from bpmn_helpers import chain, process, service

ORDER_V2 = process(
    '<bpmn:extensionElements><zeebe:versionTag value="2.0"/></bpmn:extensionElements>'
    '<bpmn:startEvent id="s"/>'
    + service("charge", "charge-card")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "charge", "e"),
    process_id="order",
)


def _get(api: Api, path: str, who: str = "audit") -> Any:
    answer = api.client.get(f"/legato/v1{path}", **api.as_(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _start(api: Api, **body: Any) -> dict[str, Any]:
    answer = api.client.post(
        "/v2/process-instances", json={"processDefinitionId": "order", **body}, **api.as_("admin")
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _two_versions(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    deploy(api, "order.bpmn", ORDER_V2)


def test_versions_show_tags_counts_and_the_diff(api: Api) -> None:
    _two_versions(api)
    _start(api, processDefinitionVersion=1)
    versions = _get(api, "/processes/order/versions")
    assert [(v["version"], v["versionTag"], v["suspended"]) for v in versions] == [
        (1, None, False),
        (2, "2.0", False),
    ]
    assert versions[0]["activeInstances"] == 1
    listed = _get(api, "/processes")
    assert [p["versionTag"] for p in listed] == [None, "2.0"]
    diff = _get(api, "/processes/order/versions/diff?from=1&to=2")
    [changed] = [c for c in diff["changed"] if c["elementId"] == "charge"]
    assert "job type: 'charge' -> 'charge-card'" in changed["changes"]
    assert "process: version tag: none -> '2.0'" in diff["lines"]
    missing = api.client.get(
        "/legato/v1/processes/order/versions/diff?from=1&to=9", **api.as_("audit")
    )
    assert_problem(missing, 404, "no version 9")
    assert_problem(api.client.get("/legato/v1/processes/nope/versions", **api.as_("audit")), 404)


def test_a_suspended_version_refuses_starts_until_resumed(api: Api) -> None:
    _two_versions(api)
    path = "/legato/v1/processes/order/versions/2/suspension"
    assert api.client.post(path, **api.as_("admin")).status_code == 204
    refused = api.client.post(
        "/v2/process-instances", json={"processDefinitionId": "order"}, **api.as_("admin")
    )
    assert_problem(refused, 409, "latest version (2) of process 'order' is suspended")
    assert _get(api, "/processes/order/versions")[1]["suspended"] is True
    assert api.client.delete(path, **api.as_("admin")).status_code == 204
    assert _start(api)["processDefinitionVersion"] == 2


def test_the_rollout_rule_places_new_instances_and_records_why(api: Api) -> None:
    _two_versions(api)
    assert _get(api, "/processes/order/rollout") is None
    answer = api.client.put(
        "/legato/v1/processes/order/rollout",
        json={"split": {"1": 100, "2": 0}},
        **api.as_("admin"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["description"] == "v1 100%, v2 0%"
    assert answer.json()["updatedBy"] == "admin"
    started = _start(api)
    assert started["processDefinitionVersion"] == 1
    assert (
        started["processDefinitionKey"]
        == _get(api, "/processes/order/versions")[0]["definitionKey"]
    )
    detail = _get(api, f"/instances/{started['processInstanceKey']}/detail")
    assert detail["instance"]["versionReason"] == "rollout: 100% split"
    rule = {"rule": 'if region = "EU" then "2.0" else 1'}
    api.client.put("/legato/v1/processes/order/rollout", json=rule, **api.as_("admin"))
    assert _start(api, variables={"region": "EU"})["processDefinitionVersion"] == 2
    bad = api.client.put(
        "/legato/v1/processes/order/rollout", json={"rule": "if then"}, **api.as_("admin")
    )
    assert_problem(bad, 400, "not valid FEEL at line 1, column")
    odd = api.client.put(
        "/legato/v1/processes/order/rollout", json={"split": {"x": 100}}, **api.as_("admin")
    )
    assert_problem(odd, 400, "version numbers")
    assert api.client.delete("/legato/v1/processes/order/rollout", **api.as_("admin")).is_success
    assert _start(api)["processDefinitionVersion"] == 2


def test_tagging_a_version(api: Api) -> None:
    _two_versions(api)
    path = "/legato/v1/processes/order/versions/1/tag"
    answer = api.client.put(path, json={"versionTag": "1.0"}, **api.as_("admin"))
    assert answer.status_code == 204, answer.text
    assert _get(api, "/processes/order/versions")[0]["versionTag"] == "1.0"
    taken = api.client.put(path, json={"versionTag": "2.0"}, **api.as_("admin"))
    assert_problem(taken, 409, "already has version tag '2.0'")


def test_only_deployers_change_versions_and_rollout_readers_see_them(api: Api) -> None:
    _two_versions(api)
    for who in ("audit", "op", "ann"):
        assert_problem(
            api.client.post("/legato/v1/processes/order/versions/1/suspension", **api.as_(who)),
            403,
        )
        assert_problem(
            api.client.put(
                "/legato/v1/processes/order/rollout", json={"split": {"1": 100}}, **api.as_(who)
            ),
            403,
        )
        assert_problem(api.client.delete("/legato/v1/processes/order/rollout", **api.as_(who)), 403)
    assert _get(api, "/processes/order/rollout", who="audit") is None
    assert len(_get(api, "/processes/order/versions", who="audit")) == 2
    assert api.client.get("/legato/v1/processes/order/versions").status_code == 401
