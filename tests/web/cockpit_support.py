"""What the cockpit's browser tests share: a process whose one service task is worked by
the test through the API (the server runs no handler for it), and the API calls around it."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect
from web_support import TIMEOUT_MS

from legato.testing.server import LegatoServer, admin_client

CHECK_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
                  id="{process_id}-definitions" targetNamespace="https://legato.dev/tests">
  <bpmn:process id="{process_id}" name="Check {process_id}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_check" sourceRef="start" targetRef="check"/>
    <bpmn:serviceTask id="check" name="Check">
      <bpmn:extensionElements><zeebe:taskDefinition type="{process_id}"/></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="to_done" sourceRef="check" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>
"""
"""A process ``start -> check -> done``; the job type of ``check`` is the process id."""

expect.set_options(timeout=TIMEOUT_MS)  # a loaded machine: wait on conditions generously


def marked(css_class: str) -> re.Pattern[str]:
    """Matches a class attribute that holds ``css_class`` (a diagram marker)."""
    return re.compile(rf"(^|\s){re.escape(css_class)}(\s|$)")


CALLER_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
                  id="{process_id}-definitions" targetNamespace="https://legato.dev/tests">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_call" sourceRef="start" targetRef="call"/>
    <bpmn:callActivity id="call">
      <bpmn:extensionElements><zeebe:calledElement processId="{called}"/></bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="to_done" sourceRef="call" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>
"""
"""A process that calls ``{called}`` and ends."""


def deploy_check(server: LegatoServer, process_id: str, model: str = CHECK_MODEL) -> None:
    """Deploy ``model`` (:data:`CHECK_MODEL`) as ``process_id``."""
    xml = model.format(process_id=process_id, called=f"{process_id}-called")
    with admin_client(server) as http:
        answer = http.post(
            "/v2/deployments", files={"resources": (f"{process_id}.bpmn", xml, "text/xml")}
        )
        assert answer.status_code == 200, answer.text


def start(server: LegatoServer, process_id: str, variables: dict[str, Any]) -> str:
    """Start an instance; its key."""
    with admin_client(server) as http:
        answer = http.post(
            "/v2/process-instances",
            json={"processDefinitionId": process_id, "variables": variables},
        )
        assert answer.status_code == 200, answer.text
        key: str = answer.json()["processInstanceKey"]
        return key


def take_job(server: LegatoServer, process_id: str) -> dict[str, Any]:
    """Activate the one job of ``process_id``'s check (waiting for it)."""
    with admin_client(server) as http:
        answer = http.post(
            "/v2/jobs/activation",
            json={
                "type": process_id,
                "timeout": 300_000,
                "maxJobsToActivate": 1,
                "requestTimeout": 30_000,
            },
        )
        assert answer.status_code == 200, answer.text
        jobs: list[dict[str, Any]] = answer.json()["jobs"]
        assert len(jobs) == 1, jobs
        return jobs[0]


def fail_job(server: LegatoServer, job: dict[str, Any], message: str) -> None:
    """Fail ``job`` with no retries left: an incident."""
    with admin_client(server) as http:
        answer = http.post(
            f"/v2/jobs/{job['jobKey']}/failure", json={"retries": 0, "errorMessage": message}
        )
        assert answer.status_code == 204, answer.text


def complete_job(server: LegatoServer, job: dict[str, Any]) -> None:
    """Complete ``job``."""
    with admin_client(server) as http:
        answer = http.post(f"/v2/jobs/{job['jobKey']}/completion", json={})
        assert answer.status_code == 204, answer.text


def with_incident(server: LegatoServer, process_id: str, variables: dict[str, Any]) -> str:
    """Start an instance and fail its check job into an incident; the instance's key."""
    key = start(server, process_id, variables)
    job = take_job(server, process_id)
    assert job["processInstanceKey"] == key
    fail_job(server, job, "approved must be true, got false")
    return key


def open_incident_key(server: LegatoServer, instance_key: str) -> str:
    """The key of the instance's open incident."""
    with admin_client(server) as http:
        answer = http.post(
            "/v2/incidents/search",
            json={"filter": {"processInstanceKey": instance_key, "state": "ACTIVE"}},
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        assert len(items) == 1, items
        key: str = items[0]["incidentKey"]
        return key


def csrf_of(client: httpx.Client, path: str) -> str:
    """The CSRF token of a signed-in web client's session (from ``path``'s page)."""
    page = client.get(path)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def add_user(server: LegatoServer, name: str, password: str, roles: list[str]) -> None:
    """Create a user unless it exists."""
    with admin_client(server) as http:
        made = http.post(
            "/legato/v1/users",
            json={"name": name, "password": password, "roles": roles, "groups": []},
        )
        assert made.status_code in (201, 409), made.text
