"""Principals limited to some processes: lists leave out other processes, single reads and
actions by key of another process answer 404, on the native API, Camunda 7 and v2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import PRINCIPALS, Api
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app
from legato.security import Principal, StaticAuthenticator
from legato.web import mount
from legato.web.session import SESSION_COOKIE

TEAM = frozenset({"billing-*"})


def _model(process_id: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
             targetNamespace="t" id="d-{process_id}">
  <process id="{process_id}" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="charge"/>
    <serviceTask id="charge">
      <extensionElements><zeebe:taskDefinition type="charge"/></extensionElements>
    </serviceTask>
    <sequenceFlow id="f2" sourceRef="charge" targetRef="review"/>
    <userTask id="review">
      <extensionElements><zeebe:assignmentDefinition candidateGroups="team"/></extensionElements>
    </userTask>
    <sequenceFlow id="f3" sourceRef="review" targetRef="e"/>
    <endEvent id="e"/>
  </process>
</definitions>"""


SCOPED = {
    "bop": Principal("bop", frozenset({"operator"}), processes=TEAM),
    "bworker": Principal("bworker", frozenset({"worker"}), processes=TEAM),
    "bdev": Principal("bdev", frozenset({"developer"}), processes=TEAM),
    "buser": Principal("buser", frozenset({"user"}), groups=frozenset({"team"}), processes=TEAM),
    "huser": Principal("huser", frozenset({"user"}), groups=frozenset({"team"})),
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    engine = Engine(f"sqlite:///{tmp_path / 'scope.db'}")
    everyone = {**PRINCIPALS, **SCOPED}
    users = {name: (name, principal) for name, principal in everyone.items()}
    app = create_app(engine, StaticAuthenticator(users))
    mount(app)
    with TestClient(app) as client:
        yield Api(engine, client)
    engine.close()


@pytest.fixture
def keys(api: Api) -> dict[str, int]:
    """An instance of ``billing-invoice`` and one of ``hr-onboard``, each at its job."""
    for process_id in ("billing-invoice", "hr-onboard"):
        api.engine.deploy(_model(process_id))
    return {
        "billing": api.engine.start("billing-invoice").key,
        "hr": api.engine.start("hr-onboard").key,
    }


def _get(api: Api, who: str, path: str, **params: Any) -> Any:
    answer = api.client.get(path, params=params, **api.as_(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_native_lists_hold_only_the_processes_of_the_limit(api: Api, keys: dict[str, int]) -> None:
    listed = _get(api, "bop", "/legato/v1/instances")
    processes = _get(api, "bop", "/legato/v1/processes")

    assert {i["processId"] for i in listed["items"]} == {"billing-invoice"}
    assert {p["processId"] for p in processes} == {"billing-invoice"}
    everything = _get(api, "op", "/legato/v1/instances")
    assert {i["processId"] for i in everything["items"]} == {"billing-invoice", "hr-onboard"}


def test_a_key_of_another_process_answers_404_like_an_unknown_key(
    api: Api, keys: dict[str, int]
) -> None:
    hr, billing = keys["hr"], keys["billing"]
    [c7_hr] = [
        i["id"]
        for i in _get(api, "op", "/engine-rest/process-instance")
        if i["definitionKey"] == "hr-onboard"
    ]
    for path in (
        f"/legato/v1/instances/{hr}/history",
        f"/legato/v1/instances/{hr}/detail",
        f"/v2/process-instances/{hr}",
        f"/engine-rest/history/process-instance/{c7_hr}",
        f"/engine-rest/process-instance/{c7_hr}/variables",
    ):
        assert api.client.get(path, **api.as_("bop")).status_code == 404, path
        assert api.client.get(path, **api.as_("op")).status_code == 200, path
    assert api.client.get(f"/v2/process-instances/{billing}", **api.as_("bop")).status_code == 200
    for path in (
        "/legato/v1/processes/hr-onboard/versions",
        "/legato/v1/processes/hr-onboard/statistics",
        "/legato/v1/analytics/processes/hr-onboard",
    ):
        assert api.client.get(path, **api.as_("bop")).status_code == 404, path
        assert api.client.get(path, **api.as_("op")).status_code == 200, path


def test_acting_on_another_process_answers_404_and_changes_nothing(
    api: Api, keys: dict[str, int]
) -> None:
    hr = keys["hr"]

    cancel = api.client.post(f"/v2/process-instances/{hr}/cancellation", **api.as_("bop"))
    started = api.client.post(
        "/v2/process-instances", json={"processDefinitionId": "hr-onboard"}, **api.as_("bop")
    )
    own = api.client.post(
        "/v2/process-instances", json={"processDefinitionId": "billing-invoice"}, **api.as_("bop")
    )

    assert cancel.status_code == 404, cancel.text
    assert started.status_code == 404, started.text
    assert own.status_code == 200, own.text
    assert api.engine.instance(hr).status == "active"
    assert len(api.engine.instances(process_id="hr-onboard")) == 1


def test_v2_and_c7_searches_leave_out_other_processes(api: Api, keys: dict[str, int]) -> None:
    v2 = api.client.post("/v2/process-instances/search", json={}, **api.as_("bop"))
    c7 = _get(api, "bop", "/engine-rest/process-instance")
    history = _get(api, "bop", "/engine-rest/history/process-instance")
    definitions = _get(api, "bop", "/engine-rest/process-definition")

    assert v2.status_code == 200, v2.text
    assert {i["processDefinitionId"] for i in v2.json()["items"]} == {"billing-invoice"}
    assert {i["definitionKey"] for i in c7} == {"billing-invoice"}
    assert {i["processDefinitionKey"] for i in history} == {"billing-invoice"}
    assert {d["key"] for d in definitions} == {"billing-invoice"}


def test_a_limited_worker_gets_only_jobs_of_its_processes(api: Api, keys: dict[str, int]) -> None:
    v2 = api.client.post(
        "/v2/jobs/activation",
        json={"type": "charge", "timeout": 30_000, "maxJobsToActivate": 5, "requestTimeout": -1},
        **api.as_("bworker"),
    )
    c7 = api.client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 5,
            "topics": [{"topicName": "charge", "lockDuration": 1000}],
        },
        **api.as_("bworker"),
    )

    assert v2.status_code == 200, v2.text
    assert [j["processInstanceKey"] for j in v2.json()["jobs"]] == [str(keys["billing"])]
    assert c7.status_code == 200, c7.text
    assert c7.json() == []  # the only job of its processes is leased already
    # The job of the other process was not locked by the refused fetch: it is still there.
    [hr_job] = api.engine.jobs(instance_key=keys["hr"])
    assert hr_job.state == "activatable"


def test_user_tasks_of_other_processes_are_not_seen(api: Api, keys: dict[str, int]) -> None:
    _finish_jobs(api)

    mine = api.client.post("/v2/user-tasks/search", json={}, **api.as_("buser"))
    everyone = api.client.post("/v2/user-tasks/search", json={}, **api.as_("huser"))
    c7 = _get(api, "buser", "/engine-rest/task")
    [other] = api.engine.user_tasks(instance_key=keys["hr"])

    assert mine.status_code == 200, mine.text
    assert {t["processInstanceKey"] for t in mine.json()["items"]} == {str(keys["billing"])}
    assert len(everyone.json()["items"]) == 2
    assert [t["processDefinitionId"].split(":")[0] for t in c7] == ["billing-invoice"]
    claim = api.client.post(
        f"/v2/user-tasks/{other.user_task_key}/assignment",
        json={"assignee": "buser"},
        **api.as_("buser"),
    )
    assert claim.status_code == 404, claim.text
    assert api.engine.user_task(other.user_task_key).assignee is None


def test_a_deployment_of_another_process_is_refused(api: Api) -> None:
    refused = api.client.post(
        "/v2/deployments",
        files={"resources": ("hr.bpmn", _model("hr-onboard").encode())},
        **api.as_("bdev"),
    )
    allowed = api.client.post(
        "/v2/deployments",
        files={"resources": ("b.bpmn", _model("billing-refund").encode())},
        **api.as_("bdev"),
    )

    assert refused.status_code == 403, refused.text
    assert "hr-onboard" in refused.json()["detail"]
    assert allowed.status_code == 200, allowed.text
    assert [p.process_id for p in api.engine.process_definitions()] == ["billing-refund"]


def _finish_jobs(api: Api) -> None:
    for job in api.engine.activate_jobs("charge", worker="w"):
        api.engine.complete_job(job.key)


def test_the_web_app_shows_only_the_processes_of_the_limit(api: Api, keys: dict[str, int]) -> None:
    api.client.cookies.set(SESSION_COOKIE, "bop:bop")
    listed = api.client.get("/cockpit/instances")
    other = api.client.get(f"/cockpit/instances/{keys['hr']}")
    own = api.client.get(f"/cockpit/instances/{keys['billing']}")

    assert listed.status_code == 200, listed.text
    assert "billing-invoice" in listed.text
    assert "hr-onboard" not in listed.text
    assert other.status_code == 404
    assert own.status_code == 200
    api.client.cookies.set(SESSION_COOKIE, "op:op")
    assert "hr-onboard" in api.client.get("/cockpit/instances").text
