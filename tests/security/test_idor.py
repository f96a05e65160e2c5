"""Guessing keys (IDOR): a user may not read, claim, assign, complete or read the form and
variables of a user task offered to another group, nor the instance behind it, through the
Camunda 8 and 7 APIs or the web app, knowing its key. The answer is the one for a key that
does not exist (so it does not tell that the task exists), and nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from security_support import Site, open_site

from legato.api.c7 import ids
from legato.api.c7.ids import Kind
from legato.security import Principal

SECRET = "salary-of-the-ceo"
PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="raise" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="approve" name="Approve the raise">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="finance"/>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""

PEOPLE = {
    "fiona": Principal("fiona", frozenset({"user"}), groups=frozenset({"finance"})),
    "sam": Principal("sam", frozenset({"user"}), groups=frozenset({"sales"})),
    "admin": Principal("admin", frozenset({"admin"})),
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from open_site(tmp_path, PEOPLE)


@pytest.fixture
def task(site: Site) -> tuple[int, int]:
    """(the task's key, its instance's key)."""
    site.engine.deploy(PROCESS)
    started = site.engine.start("raise", {"salary": SECRET})
    site.engine.run_until_idle()
    found = site.client.post("/v2/user-tasks/search", json={}, **site.api_auth("fiona")).json()
    (only,) = found["items"]
    return int(only["userTaskKey"]), started.key


def _attempts(task_key: int, instance_key: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(surface, method, path, request keywords) of every way at the task and instance."""
    tid = ids.to_uuid(Kind.TASK, task_key)
    iid = ids.to_uuid(Kind.INSTANCE, instance_key)
    body = {"json": {}}
    return [
        ("v2", "GET", f"/v2/user-tasks/{task_key}", {}),
        ("v2", "GET", f"/v2/user-tasks/{task_key}/form", {}),
        ("v2", "POST", f"/v2/user-tasks/{task_key}/variables/search", body),
        ("v2", "POST", f"/v2/user-tasks/{task_key}/assignment", {"json": {"assignee": "sam"}}),
        ("v2", "DELETE", f"/v2/user-tasks/{task_key}/assignee", {}),
        ("v2", "POST", f"/v2/user-tasks/{task_key}/completion", body),
        ("v2", "GET", f"/v2/process-instances/{instance_key}", {}),
        ("v2", "POST", "/v2/variables/search", {"json": {"filter": {"name": "salary"}}}),
        ("c7", "GET", f"/engine-rest/task/{tid}", {}),
        ("c7", "GET", f"/engine-rest/task/{tid}/variables", {}),
        ("c7", "GET", f"/engine-rest/task/{tid}/variables/salary", {}),
        ("c7", "GET", f"/engine-rest/task/{tid}/localVariables", {}),
        ("c7", "GET", f"/engine-rest/task/{tid}/identity-links", {}),
        ("c7", "POST", f"/engine-rest/task/{tid}/claim", {"json": {"userId": "sam"}}),
        ("c7", "POST", f"/engine-rest/task/{tid}/assignee", {"json": {"userId": "sam"}}),
        ("c7", "POST", f"/engine-rest/task/{tid}/complete", body),
        ("c7", "POST", f"/engine-rest/task/{tid}/submit-form", body),
        ("c7", "PUT", f"/engine-rest/task/{tid}/variables/salary", {"json": {"value": 1}}),
        ("c7", "GET", f"/engine-rest/process-instance/{iid}/variables", {}),
        ("c7", "GET", "/engine-rest/task", {"params": {"processInstanceId": iid}}),
        ("native", "GET", f"/legato/v1/instances/{instance_key}/detail", {}),
        ("native", "GET", f"/legato/v1/instances/{instance_key}/history", {}),
        ("web", "GET", f"/tasks/{task_key}", {}),
        ("web", "GET", f"/tasks/{task_key}/form.json", {}),
        ("web", "GET", f"/tasks/{task_key}/data.json", {}),
        ("web", "POST", f"/tasks/{task_key}/claim", {}),
        ("web", "POST", f"/tasks/{task_key}/assign", {"data": {"assignee": "sam"}}),
        ("web", "POST", f"/tasks/{task_key}/complete", {"json": {}}),
        ("web", "GET", f"/cockpit/instances/{instance_key}", {}),
        ("web", "GET", "/tasks/rows", {}),
    ]


LISTS = frozenset({"/v2/variables/search", "/engine-rest/task", "/tasks/rows"})
"""Lists: they answer 200, with nothing of the task in them."""


def _as(site: Site, surface: str, name: str) -> dict[str, Any]:
    if surface != "web":
        return site.api_auth(name)
    session = site.session(name)
    session["headers"].pop("HX-Request")
    return session


def test_a_user_of_another_group_gets_nothing_by_guessing_keys(
    site: Site, task: tuple[int, int]
) -> None:
    task_key, instance_key = task
    leaked = []
    for surface, method, path, keywords in _attempts(task_key, instance_key):
        extra = dict(keywords)
        auth = _as(site, surface, "sam")
        headers = {**auth.get("headers", {}), **extra.pop("headers", {})}
        answer = site.client.request(
            method,
            path,
            **{k: v for k, v in auth.items() if k != "headers"},
            **extra,
            headers=headers,
        )
        listing = path in LISTS
        if answer.status_code < 400 and not listing:
            leaked.append(f"{method} {path}: {answer.status_code}")
        if listing and surface != "web" and answer.json() not in ([], {"items": []}):
            body = answer.json()
            if not isinstance(body, dict) or body.get("items"):
                leaked.append(f"{method} {path}: lists {body}")
        if SECRET in answer.text or "Approve the raise" in answer.text:
            leaked.append(f"{method} {path}: shows the task or its variables")
    assert leaked == []
    state = site.client.get(f"/v2/user-tasks/{task_key}", **site.api_auth("fiona")).json()
    assert state["state"] == "CREATED"
    assert state.get("assignee") in (None, "")
    variables = site.engine.state(instance_key).variables[instance_key]
    assert variables["salary"] == SECRET


def test_the_refusal_looks_like_a_key_that_does_not_exist(
    site: Site, task: tuple[int, int]
) -> None:
    task_key, _ = task
    missing = task_key + 1_000_000
    for path in ("/v2/user-tasks/{}", "/v2/user-tasks/{}/form"):
        guessed = site.client.get(path.format(task_key), **site.api_auth("sam"))
        absent = site.client.get(path.format(missing), **site.api_auth("sam"))
        assert guessed.status_code == absent.status_code == 404
    tid = ids.to_uuid(Kind.TASK, task_key)
    c7 = site.client.get(f"/engine-rest/task/{tid}", **site.api_auth("sam"))
    assert c7.status_code == 404


def test_the_member_of_the_group_may(site: Site, task: tuple[int, int]) -> None:
    task_key, _ = task
    read = site.client.get(f"/v2/user-tasks/{task_key}", **site.api_auth("fiona"))
    assert read.status_code == 200
    tid = ids.to_uuid(Kind.TASK, task_key)
    variables = site.client.get(f"/engine-rest/task/{tid}/variables", **site.api_auth("fiona"))
    assert SECRET in variables.text
    page = site.client.get(f"/tasks/{task_key}", **_as(site, "web", "fiona"))
    assert page.status_code == 200 and "Approve the raise" in page.text
