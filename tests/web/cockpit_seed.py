"""Seeding the test server for the cockpit's list pages: a process of one service task
(every test its own, so tests sharing the server do not see each other's instances),
instances started through the API, failed jobs (incidents) and a DMN decision."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from legato.testing.server import LegatoServer, admin_client

SERVICE_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d-{pid}" targetNamespace="t">
  <bpmn:process id="{pid}" name="Charge {pid}" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="charge" name="Charge">
      <bpmn:extensionElements><zeebe:taskDefinition type="{pid}"/></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="charge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""

DISCOUNT_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="{did}-defs"
             name="Discounts" namespace="https://legato.dev/tests/{did}">
  <decision id="{did}" name="Discount">
    <decisionTable id="{did}-table" hitPolicy="FIRST">
      <input id="{did}-in" label="Customer tier">
        <inputExpression id="{did}-ie" typeRef="string"><text>tier</text></inputExpression>
      </input>
      <output id="{did}-out" label="Discount" name="discount" typeRef="number"/>
      <rule id="{did}-gold"><inputEntry id="{did}-r1i"><text>"gold"</text></inputEntry>
        <outputEntry id="{did}-r1o"><text>15</text></outputEntry></rule>
      <rule id="{did}-silver"><inputEntry id="{did}-r2i"><text>"silver"</text></inputEntry>
        <outputEntry id="{did}-r2o"><text>5</text></outputEntry></rule>
      <rule id="{did}-other"><inputEntry id="{did}-r3i"><text>-</text></inputEntry>
        <outputEntry id="{did}-r3o"><text>0</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""

DECIDING_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d-{pid}" targetNamespace="t">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:businessRuleTask id="decide" name="Decide discount"><bpmn:extensionElements>
      <zeebe:calledDecision decisionId="{did}" resultVariable="discount"/>
    </bpmn:extensionElements></bpmn:businessRuleTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="decide"/>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def unique(prefix: str) -> str:
    """An id no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _ok(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201, 204), answer.text
    return answer.json() if answer.content else None


def deploy(server: LegatoServer, *resources: tuple[str, str]) -> None:
    """Deploy resources, each (file name, text)."""
    files = [("resources", (name, text.encode(), "text/xml")) for name, text in resources]
    with admin_client(server) as http:
        _ok(http.post("/v2/deployments", files=files))


def deploy_service_process(server: LegatoServer, prefix: str = "cb") -> str:
    """Deploy a process of one service task whose job type is the process id; its id."""
    pid = unique(prefix)
    deploy(server, (f"{pid}.bpmn", SERVICE_PROCESS.format(pid=pid)))
    return pid


def start(
    server: LegatoServer, process_id: str, business_key: str | None = None, **variables: Any
) -> int:
    """Start an instance; its key."""
    body: dict[str, Any] = {"processDefinitionId": process_id, "variables": variables}
    if business_key is not None:
        body["businessId"] = business_key
    with admin_client(server) as http:
        return int(_ok(http.post("/v2/process-instances", json=body))["processInstanceKey"])


def fail_jobs(server: LegatoServer, job_type: str, messages: list[str]) -> None:
    """Activate one job of ``job_type`` per message and fail it with no retries left (an
    incident with that message)."""
    with admin_client(server) as http:
        request = {"type": job_type, "maxJobsToActivate": len(messages), "timeout": 60_000}
        jobs = _ok(http.post("/v2/jobs/activation", json=request))["jobs"]
        assert len(jobs) == len(messages), jobs
        for job, message in zip(jobs, messages, strict=True):
            failure = {"retries": 0, "errorMessage": message}
            _ok(http.post(f"/v2/jobs/{job['jobKey']}/failure", json=failure))


def search(server: LegatoServer, **params: Any) -> list[dict[str, Any]]:
    """The instances ``/legato/v1/instances`` finds (first 500)."""
    with admin_client(server) as http:
        found = _ok(http.get("/legato/v1/instances", params={"limit": 500, **params}))
    items: list[dict[str, Any]] = found["items"]
    return items


def deploy_decision(
    server: LegatoServer, did: str | None = None, pid: str | None = None
) -> tuple[str, str]:
    """Deploy the discount decision and a process that calls it (by default with ids no
    other test uses); (decision id, process id)."""
    did = did or unique("discount")
    pid = pid or unique("decide")
    deploy(
        server,
        (f"{did}.dmn", DISCOUNT_DMN.format(did=did)),
        (f"{pid}.bpmn", DECIDING_PROCESS.format(pid=pid, did=did)),
    )
    return did, pid


def as_json(value: Any) -> str:
    """A value as the pages show it."""
    return json.dumps(value)
