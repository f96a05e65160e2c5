"""Worker keys scoped to job types and user tasks visible only to their assignee and
candidates hold on every route that reads or acts on one job or one task, v2 and Camunda 7
alike: the routes are found in the application's OpenAPI document, not listed here."""

from __future__ import annotations

import re

from api_support import Api

from bpmn_helpers import process, service
from legato.api.c7 import ids
from legato.api.c7.ids import Kind

MODEL = process(
    '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
    + service("ship", "ship")
    + '<bpmn:userTask id="approve"><bpmn:extensionElements>'
    '<zeebe:assignmentDefinition candidateGroups="sales"/></bpmn:extensionElements>'
    "</bpmn:userTask>"
    '<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="fork"/>'
    '<bpmn:sequenceFlow id="f1" sourceRef="fork" targetRef="ship"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="approve"/>',
    process_id="scoped",
)
_JOB_ROUTES = re.compile(r"^/(v2/jobs/\{jobKey\}|engine-rest/external-task/\{task_id\})(/.*)?$")
_TASK_ROUTES = re.compile(r"^/(v2/user-tasks/\{userTaskKey\}|engine-rest/task/\{task_id\})(/.*)?$")


_BODIES = {
    "PATCH /v2/jobs/{jobKey}": {"changeset": {"retries": 1}},
    "POST /v2/jobs/{jobKey}/error": {"errorCode": "E"},
    "POST /engine-rest/external-task/{task_id}/bpmnError": {"workerId": "w", "errorCode": "E"},
    "POST /engine-rest/external-task/{task_id}/extendLock": {"workerId": "w", "newDuration": 1},
    "POST /engine-rest/external-task/{task_id}/lock": {"workerId": "w", "lockDuration": 1000},
    "POST /engine-rest/task/{task_id}/claim": {"userId": "bob"},
    "POST /engine-rest/task/{task_id}/delegate": {"userId": "bob"},
}
"""Bodies that pass validation, so that the answer is the permission's, not the body's."""
_UNKNOWN = 987_654_321


def _refused(api: Api, who: str, method: str, path: str, key: int, kind: Kind) -> str | None:
    """None when ``who`` is refused as for a key that does not exist (403, 404, or Camunda
    7's own answer for an unknown task); else what it got."""
    body = _BODIES.get(f"{method} {path}", {})
    answer = api.client.request(method, _concrete(path, key, kind), json=body, **api.as_(who))
    if answer.status_code in (403, 404):
        return None
    unknown = api.client.request(method, _concrete(path, _UNKNOWN, kind), json=body, **api.as_(who))
    if answer.status_code == unknown.status_code >= 500:
        return None
    return f"{method} {path}: {answer.status_code} {answer.text[:120]}"


def _routes(api: Api, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    schema = api.client.get("/openapi.json", **api.as_("admin")).json()
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if pattern.match(path)
    )


def _concrete(path: str, key: int, kind: Kind) -> str:
    path = path.replace("{jobKey}", str(key)).replace("{userTaskKey}", str(key))
    path = path.replace("{task_id}", ids.to_uuid(kind, key))
    return path.replace("{name}", "x")


def test_a_worker_of_other_job_types_is_refused_every_job_route(api: Api) -> None:
    api.engine.deploy(MODEL)
    key = api.engine.start("scoped").key
    [job] = api.engine.jobs(instance_key=key)
    routes = _routes(api, _JOB_ROUTES)

    let_through = [
        found
        for method, path in routes
        if (found := _refused(api, "worker", method, path, job.job_key, Kind.EXTERNAL_TASK))
    ]

    assert let_through == [], "\n".join(let_through)
    assert len(routes) >= 10
    assert api.engine.job(job.job_key).worker == ""  # nothing was locked or finished


def test_a_person_who_is_no_candidate_is_refused_every_task_route(api: Api) -> None:
    api.engine.deploy(MODEL)
    key = api.engine.start("scoped").key
    [task] = api.engine.user_tasks(instance_key=key)
    routes = _routes(api, _TASK_ROUTES)

    let_through = [
        found
        for method, path in routes
        if (found := _refused(api, "bob", method, path, task.user_task_key, Kind.TASK))
    ]
    seen = api.client.get(f"/v2/user-tasks/{task.user_task_key}", **api.as_("ann"))

    assert let_through == [], "\n".join(let_through)
    assert len(routes) >= 15
    assert seen.status_code == 200, seen.text  # a candidate sees it: the 404s are bob's
    assert api.engine.user_task(task.user_task_key).assignee is None
