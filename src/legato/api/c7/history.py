"""``/history/process-instance``, ``/history/task`` and ``/variable-instance``: instances and
user tasks whatever their state, and variables with the scope that holds them (what
camunda-client reads).

A historic instance's ``state`` is ``ACTIVE``, ``COMPLETED`` or ``EXTERNALLY_TERMINATED``
(Legato's active, completed and terminated). A variable instance's id is its scope's id and
its name (Legato keeps no variable rows of their own); the root scope's execution is the
process instance, as in Camunda.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from legato.api.c7 import ids
from legato.api.c7.dates import format_date
from legato.api.c7.dto import DefinitionIds
from legato.api.c7.errors import not_found
from legato.api.c7.ids import Kind
from legato.api.c7.routing import C7Route, flag, json_body, ok, page_of
from legato.api.c7.variables import encode_value
from legato.api.deps import EngineDep, ViewerDep, require
from legato.errors import NotFoundError
from legato.runtime.engine import Engine
from legato.runtime.types import InstanceInfo
from legato.security import INSTANCES_READ, Principal
from legato.security.sensitive import Viewer
from legato.store.records import UserTaskRecord

router = APIRouter(route_class=C7Route, tags=["c7: history"])

Reader = Annotated[Principal, Depends(require(INSTANCES_READ))]

STATES = {
    "active": "ACTIVE",
    "suspended": "SUSPENDED",
    "completed": "COMPLETED",
    "terminated": "EXTERNALLY_TERMINATED",
}
"""Camunda's historic state of each Legato instance status."""
_QUERY_LIMIT = 100_000


# -- historic process instances -------------------------------------------------------------------


def historic_instance(info: InstanceInfo, definitions: DefinitionIds) -> dict[str, Any]:
    """An instance as ``HistoricProcessInstanceDto``."""
    instance_id = ids.to_uuid(Kind.INSTANCE, info.key)
    duration = None
    if info.ended_at is not None:
        duration = int((info.ended_at - info.started_at).total_seconds() * 1000)
    parent = info.parent_instance_key
    return {
        "id": instance_id,
        "businessKey": info.business_key,
        "processDefinitionId": definitions.of(info.process_id, info.version),
        "processDefinitionKey": info.process_id,
        "processDefinitionName": None,
        "processDefinitionVersion": info.version,
        "startTime": format_date(info.started_at),
        "endTime": format_date(info.ended_at),
        "removalTime": None,
        "durationInMillis": duration,
        "startUserId": None,
        "startActivityId": None,
        "deleteReason": None,
        "rootProcessInstanceId": instance_id if parent is None else None,
        "superProcessInstanceId": ids.to_uuid(Kind.INSTANCE, parent) if parent else None,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "tenantId": None,
        "state": STATES.get(info.status, info.status.upper()),
    }


@router.get("/history/process-instance/{instance_id}")
def get_historic_instance(instance_id: str, engine: EngineDep, principal: Reader) -> Response:
    """One instance, running or ended."""
    info = _instance(engine, instance_id)
    if info is None:
        raise not_found(f"Historic process instance with id {instance_id} does not exist")
    return ok(historic_instance(info, DefinitionIds(engine)))


def _instance(engine: Engine, instance_id: str) -> InstanceInfo | None:
    key = ids.key_of(Kind.INSTANCE, instance_id)
    if key is None:
        return None
    try:
        return engine.instance(key)
    except NotFoundError:
        return None


@router.get("/history/process-instance")
def list_historic_instances(request: Request, engine: EngineDep, principal: Reader) -> Response:
    """Instances matching the query parameters."""
    return ok(_historic_query(engine, dict(request.query_params)))


@router.post("/history/process-instance")
async def query_historic_instances(
    request: Request, engine: EngineDep, principal: Reader
) -> Response:
    """Instances matching the JSON body's filters (paging from the query string)."""
    params = {**(await json_body(request)), **dict(request.query_params)}
    return ok(await run_in_threadpool(_historic_query, engine, params))


def _historic_query(engine: Engine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    wanted = _names(params.get("processInstanceIds"))
    single = params.get("processInstanceId")
    if single:
        wanted = [*(wanted or []), str(single)]
    finished = flag(params.get("finished"))
    unfinished = flag(params.get("unfinished"))
    process_id = params.get("processDefinitionKey") or None
    business_key = params.get("processInstanceBusinessKey") or None
    found: list[InstanceInfo]
    if wanted is not None:
        found = [i for i in (_instance(engine, text) for text in wanted) if i is not None]
    else:
        found = engine.instances(
            process_id=process_id, business_key=business_key, limit=_QUERY_LIMIT
        )
    definitions = DefinitionIds(engine)
    found = [
        info
        for info in found
        if (process_id is None or info.process_id == process_id)
        and (business_key is None or info.business_key == business_key)
        and not (finished and info.is_active)
        and not (unfinished and not info.is_active)
        and (
            not params.get("processDefinitionId")
            or definitions.of(info.process_id, info.version) == params["processDefinitionId"]
        )
    ]
    found.sort(key=lambda info: info.key)
    return [historic_instance(info, definitions) for info in found[page_of(params)]]


def _names(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


# -- variable instances ---------------------------------------------------------------------------


@router.get("/variable-instance")
def list_variable_instances(
    request: Request, engine: EngineDep, principal: Reader, viewer: ViewerDep
) -> Response:
    """Variables of running instances matching the query parameters, with their scopes."""
    return ok(_variable_query(engine, viewer, dict(request.query_params)))


@router.post("/variable-instance")
async def query_variable_instances(
    request: Request, engine: EngineDep, principal: Reader, viewer: ViewerDep
) -> Response:
    """Variables matching the JSON body's filters (paging from the query string)."""
    params = {**(await json_body(request)), **dict(request.query_params)}
    return ok(await run_in_threadpool(_variable_query, engine, viewer, params))


def _variable_query(
    engine: Engine, viewer: Viewer, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    instance_ids = _names(params.get("processInstanceIdIn"))
    if instance_ids is not None:
        keys = [k for k in (ids.key_of(Kind.INSTANCE, t) for t in instance_ids) if k is not None]
    else:
        keys = [i.key for i in engine.instances(status="active", limit=_QUERY_LIMIT)]
    name = params.get("variableName") or None
    like = params.get("variableNameLike") or None
    found: list[dict[str, Any]] = []
    definitions = DefinitionIds(engine)
    for key in sorted(set(keys)):
        found += _scoped_variables(engine, viewer, key, definitions)
    found = [
        v
        for v in found
        if (name is None or v["name"] == name) and (like is None or _like(v["name"], str(like)))
    ]
    return found[page_of(params)]


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("%", "*").replace("_", "?"))


def _scoped_variables(
    engine: Engine, viewer: Viewer, instance_key: int, definitions: DefinitionIds
) -> Iterable[dict[str, Any]]:
    try:
        state = engine.state(instance_key, viewer=viewer)
    except NotFoundError:
        return []
    if state.status != "active":
        return []
    instance_id = ids.to_uuid(Kind.INSTANCE, instance_key)
    definition_id = definitions.of(state.process_id, state.version)
    rows = []
    for scope, variables in sorted(state.variables.items()):
        element = state.elements.get(scope)
        root = scope == instance_key
        execution = instance_id if root else ids.to_uuid(Kind.EXECUTION, scope)
        task_key = element.user_task_key if element is not None else None
        activity = (
            instance_id
            if root or element is None
            else ids.activity_instance_id(element.element_id, scope)
        )
        for name, value in sorted(variables.items()):
            rows.append(
                {
                    "id": f"{execution}:{name}",
                    "name": name,
                    **encode_value(value),
                    "processDefinitionId": definition_id,
                    "processInstanceId": instance_id,
                    "executionId": execution,
                    "caseInstanceId": None,
                    "caseExecutionId": None,
                    "taskId": ids.to_uuid(Kind.TASK, task_key) if task_key else None,
                    "batchId": None,
                    "activityInstanceId": activity,
                    "tenantId": None,
                    "errorMessage": None,
                }
            )
    return rows


# -- historic user tasks --------------------------------------------------------------------------

_TASK_END_REASONS = {"completed": "completed", "canceled": "deleted"}


def historic_task(task: UserTaskRecord) -> dict[str, Any]:
    """A user task, open or finished, as ``HistoricTaskInstanceDto``."""
    instance_id = ids.to_uuid(Kind.INSTANCE, task.instance_key)
    duration = None
    if task.completed_at is not None:
        duration = int((task.completed_at - task.created_at).total_seconds() * 1000)
    return {
        "id": ids.to_uuid(Kind.TASK, task.user_task_key),
        "processDefinitionKey": task.process_id,
        "processDefinitionId": ids.definition_id(
            task.process_id, task.process_version, task.definition_key
        ),
        "processInstanceId": instance_id,
        "executionId": ids.to_uuid(Kind.EXECUTION, task.element_instance_key),
        "caseDefinitionKey": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "caseExecutionId": None,
        "activityInstanceId": ids.activity_instance_id(task.element_id, task.element_instance_key),
        "name": task.name,
        "description": None,
        "deleteReason": _TASK_END_REASONS.get(task.state),
        "owner": task.owner,
        "assignee": task.assignee,
        "startTime": format_date(task.created_at),
        "endTime": format_date(task.completed_at),
        "duration": duration,
        "taskDefinitionKey": task.element_id,
        "priority": task.priority,
        "due": format_date(task.due_at),
        "parentTaskId": None,
        "followUp": format_date(task.follow_up_at),
        "tenantId": None,
        "removalTime": None,
        "rootProcessInstanceId": instance_id,
        "taskState": task.state.capitalize(),
    }


@router.get("/history/task")
def list_historic_tasks(request: Request, engine: EngineDep, principal: Reader) -> Response:
    """User tasks, open or finished, matching the query parameters."""
    return ok(_task_query(engine, dict(request.query_params)))


@router.post("/history/task")
async def query_historic_tasks(request: Request, engine: EngineDep, principal: Reader) -> Response:
    """User tasks matching the JSON body's filters (nulls are absent filters; paging from
    the query string)."""
    body = {k: v for k, v in (await json_body(request)).items() if v is not None}
    params = {**body, **dict(request.query_params)}
    return ok(await run_in_threadpool(_task_query, engine, params))


def _task_query(engine: Engine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    def key_of(name: str, kind: Kind) -> int | None:
        text = params.get(name)
        if not text:
            return None
        return ids.key_of(kind, str(text)) or -1

    instance_key = key_of("processInstanceId", Kind.INSTANCE)
    task_key = key_of("taskId", Kind.TASK)
    if -1 in (instance_key, task_key):
        return []
    tasks = engine.user_tasks(
        state=None,
        assignee=params.get("taskAssignee") or None,
        instance_key=instance_key,
        process_id=params.get("processDefinitionKey") or None,
        element_id=params.get("taskDefinitionKey") or None,
        user_task_key=task_key,
        limit=_QUERY_LIMIT,
    )
    if flag(params.get("finished")):
        tasks = [t for t in tasks if t.state != "created"]
    if flag(params.get("unfinished")):
        tasks = [t for t in tasks if t.state == "created"]
    business_key = params.get("processInstanceBusinessKey")
    if business_key:
        tasks = [t for t in tasks if t.business_key == business_key]
    return [historic_task(t) for t in tasks[page_of(params)]]
