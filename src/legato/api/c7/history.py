"""``/history/process-instance`` and ``/variable-instance``: instances whatever their state,
and variables with the scope that holds them (what camunda-client reads).

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
from legato.api.c7.routing import C7Route, flag, json_body, ok
from legato.api.c7.variables import encode_value
from legato.api.deps import EngineDep, require
from legato.errors import NotFoundError
from legato.runtime.engine import Engine
from legato.runtime.types import InstanceInfo
from legato.security import INSTANCES_READ, Principal

router = APIRouter(route_class=C7Route, tags=["c7: history"])

Reader = Annotated[Principal, Depends(require(INSTANCES_READ))]

STATES = {"active": "ACTIVE", "completed": "COMPLETED", "terminated": "EXTERNALLY_TERMINATED"}
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
        and not (finished and info.status == "active")
        and not (unfinished and info.status != "active")
        and (
            not params.get("processDefinitionId")
            or definitions.of(info.process_id, info.version) == params["processDefinitionId"]
        )
    ]
    found.sort(key=lambda info: info.key)
    first = int(params.get("firstResult") or 0)
    count = params.get("maxResults")
    end = None if count in (None, "") else first + int(count)
    return [historic_instance(info, definitions) for info in found[first:end]]


def _names(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


# -- variable instances ---------------------------------------------------------------------------


@router.get("/variable-instance")
def list_variable_instances(request: Request, engine: EngineDep, principal: Reader) -> Response:
    """Variables of running instances matching the query parameters, with their scopes."""
    return ok(_variable_query(engine, dict(request.query_params)))


@router.post("/variable-instance")
async def query_variable_instances(
    request: Request, engine: EngineDep, principal: Reader
) -> Response:
    """Variables matching the JSON body's filters (paging from the query string)."""
    params = {**(await json_body(request)), **dict(request.query_params)}
    return ok(await run_in_threadpool(_variable_query, engine, params))


def _variable_query(engine: Engine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
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
        found += _scoped_variables(engine, key, definitions)
    found = [
        v
        for v in found
        if (name is None or v["name"] == name) and (like is None or _like(v["name"], str(like)))
    ]
    first = int(params.get("firstResult") or 0)
    count = params.get("maxResults")
    end = None if count in (None, "") else first + int(count)
    return found[first:end]


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("%", "*").replace("_", "?"))


def _scoped_variables(
    engine: Engine, instance_key: int, definitions: DefinitionIds
) -> Iterable[dict[str, Any]]:
    try:
        state = engine.state(instance_key)
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
