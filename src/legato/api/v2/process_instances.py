"""Process instances: create, get, search, cancel."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from legato.api.deps import EngineDep, engine_of, require, viewer_of
from legato.api.problems import ApiError, BadRequest, Conflict, NotFound, Unavailable
from legato.api.v2.common import (
    DEFAULT_TENANT,
    FilterValue,
    Key,
    KeyText,
    Out,
    SearchRequest,
    SearchResult,
    Strict,
    Tenant,
    Variables,
    all_match,
    echo_tenant,
    exact,
    iso,
    key_text,
    paginate,
    parse_key,
    plain,
)
from legato.runtime.arguments import MAX_MILLISECONDS
from legato.runtime.engine import Engine
from legato.runtime.types import InstanceInfo
from legato.security import INSTANCES_MODIFY, INSTANCES_READ, INSTANCES_START, Principal
from legato.store.records import DefinitionRecord, InstanceRecord

router = APIRouter(tags=["process instances"])

_STATES = {"active": "ACTIVE", "completed": "COMPLETED", "terminated": "TERMINATED"}
SEARCH_LIMIT = 10_000
"""The most instances a search looks at (newest first)."""


class CreateProcessInstance(Strict):
    """Start an instance by process id (and version) or by definition key."""

    processDefinitionId: str | None = None
    processDefinitionVersion: int = -1
    """-1 for the latest version."""
    processDefinitionKey: Key | None = None
    variables: Variables = None
    tenantId: Tenant | None = None
    operationReference: Key | str | None = None
    """Makes the request idempotent: a repeated request answers the instance the first
    one started."""
    businessId: str | None = None
    """The business key of the instance."""
    awaitCompletion: bool = False
    """Answer once the instance completed (with its variables), not at its first wait."""
    fetchVariables: list[str] | None = None
    requestTimeout: int | None = Field(default=None, le=MAX_MILLISECONDS)
    """With ``awaitCompletion``: how long to wait, in ms (0 or absent: 15 s)."""
    tags: list[str] | None = None
    startInstructions: list[dict[str, Any]] | None = None


class CreateProcessInstanceResult(Out):
    processDefinitionId: str
    processDefinitionVersion: int
    processDefinitionKey: KeyText
    processInstanceKey: KeyText
    tenantId: str = DEFAULT_TENANT
    variables: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    businessId: str | None = None


class ProcessInstanceResult(Out):
    processDefinitionId: str
    processDefinitionName: str | None
    processDefinitionVersion: int
    processDefinitionVersionTag: str | None = None
    startDate: str | None
    endDate: str | None
    state: str
    """ACTIVE, COMPLETED or TERMINATED."""
    suspendedDate: str | None = None
    suspended: bool = False
    """Legato: held by an operator (``state`` stays ``ACTIVE``, as Camunda 8 has no
    suspended state); see ``/legato/v1/process-instances/{key}/suspension``."""
    hasIncident: bool
    tenantId: str = DEFAULT_TENANT
    processInstanceKey: KeyText
    processDefinitionKey: KeyText
    parentProcessInstanceKey: KeyText | None
    parentElementInstanceKey: KeyText | None = None
    rootProcessInstanceKey: KeyText | None
    tags: list[str] = Field(default_factory=list)
    businessId: str | None


class ProcessInstanceFilter(Strict):
    processInstanceKey: FilterValue | None = None
    processDefinitionId: FilterValue | None = None
    processDefinitionKey: FilterValue | None = None
    processDefinitionVersion: FilterValue | None = None
    processDefinitionName: FilterValue | None = None
    state: FilterValue | None = None
    hasIncident: FilterValue | None = None
    parentProcessInstanceKey: FilterValue | None = None
    businessId: FilterValue | None = None
    startDate: FilterValue | None = None
    endDate: FilterValue | None = None
    tenantId: FilterValue | None = None


class ProcessInstanceSearch(SearchRequest):
    filter: ProcessInstanceFilter = Field(default_factory=ProcessInstanceFilter)


class CancelProcessInstance(Strict):
    operationReference: Key | str | None = None


@router.post(
    "/process-instances",
    response_model=CreateProcessInstanceResult,
    dependencies=[Depends(require(INSTANCES_START))],
)
async def create_process_instance(
    body: CreateProcessInstance, request: Request
) -> CreateProcessInstanceResult:
    """Start an instance of a process; it runs to its first wait states before the answer.
    By process id without a version, the process's rollout rule chooses the version (the
    latest without one). With ``operationReference`` a repeated request answers the first
    one's instance. With ``awaitCompletion`` the answer waits (holding no thread) until the
    instance completes, up to ``requestTimeout`` ms (15 s when 0 or absent; 504 when it runs
    out), and carries its root variables (those of ``fetchVariables`` when given)."""
    tenant = echo_tenant(body.tenantId)
    if body.startInstructions:
        raise BadRequest("startInstructions: starting at other elements is not supported")
    engine = engine_of(request)
    definition = await run_in_threadpool(_definition, engine, body)
    request_id = None if body.operationReference is None else str(body.operationReference)
    # A start by process id without a version goes where the process's rollout rule says.
    chosen = body.processDefinitionKey is not None or body.processDefinitionVersion >= 0
    info = await run_in_threadpool(
        partial(
            engine.start,
            definition.process_id,
            body.variables or {},
            business_key=body.businessId,
            request_id=request_id,
            version=definition.version if chosen else None,
        )
    )
    if info.version != definition.version:
        definition = await run_in_threadpool(_version, engine, info.process_id, info.version)
    fetched = body.fetchVariables
    variables: dict[str, Any] = {}
    if body.awaitCompletion:
        info = await _completed(request, engine, info, body.requestTimeout)
    if body.awaitCompletion or fetched:
        info = await run_in_threadpool(engine.masking.instance, viewer_of(request), info)
    if body.awaitCompletion:
        variables = info.variables if not fetched else {k: info.variables.get(k) for k in fetched}
    elif fetched:
        variables = {k: info.variables.get(k) for k in fetched}
    return CreateProcessInstanceResult(
        processDefinitionId=info.process_id,
        processDefinitionVersion=info.version,
        processDefinitionKey=str(definition.definition_key),
        processInstanceKey=str(info.key),
        tenantId=tenant,
        variables=plain(variables),
        tags=body.tags or [],
        businessId=info.business_key,
    )


AWAIT_TIMEOUT = 15.0
"""Seconds ``awaitCompletion`` waits when the request does not say (Zeebe's default)."""
_AWAIT_POLL = (0.02, 0.5)
"""The first and the longest pause between two looks at an awaited instance."""


async def _completed(
    request: Request, engine: Engine, info: InstanceInfo, timeout_ms: int | None
) -> InstanceInfo:
    loop = asyncio.get_running_loop()
    seconds = AWAIT_TIMEOUT if not timeout_ms or timeout_ms <= 0 else timeout_ms / 1000
    deadline = loop.time() + seconds
    pause, longest = _AWAIT_POLL
    while info.is_active:
        if loop.time() >= deadline:
            raise ApiError(
                f"instance {info.key} did not complete within {seconds:g} s",
                status=504,
                title="DEADLINE_EXCEEDED",
            )
        if request.app.state.stopping:
            raise Unavailable("the server is stopping")
        await asyncio.sleep(min(pause, max(deadline - loop.time(), 0)))
        pause = min(pause * 2, longest)
        info = await run_in_threadpool(engine.instance, info.key)
    if info.status != "completed":
        raise Conflict(f"instance {info.key} was {info.status}, not completed")
    return info


def _version(engine: Engine, process_id: str, version: int) -> DefinitionRecord:
    with engine.store.transaction() as tx:
        record = tx.find_definition(process_id, version)
    if record is None:
        raise NotFound(f"no process '{process_id}' with version {version}")
    return record


def _definition(engine: Engine, body: CreateProcessInstance) -> DefinitionRecord:
    with engine.store.transaction() as tx:
        if body.processDefinitionKey is not None:
            record = tx.get_definition(body.processDefinitionKey)
            missing = f"no process definition with key {body.processDefinitionKey}"
        elif body.processDefinitionId:
            version = body.processDefinitionVersion
            record = tx.find_definition(body.processDefinitionId, None if version < 0 else version)
            missing = f"no process '{body.processDefinitionId}'" + (
                f" with version {version}" if version >= 0 else " is deployed"
            )
        else:
            raise BadRequest("processDefinitionId or processDefinitionKey is required")
    if record is None or record.process_id.startswith("dmn:"):
        raise NotFound(missing)
    return record


@router.get(
    "/process-instances/{processInstanceKey}",
    response_model=ProcessInstanceResult,
    dependencies=[Depends(require(INSTANCES_READ))],
)
def get_process_instance(
    processInstanceKey: Annotated[str, Path()], engine: EngineDep
) -> ProcessInstanceResult:
    """One instance."""
    key = parse_key(processInstanceKey, "processInstanceKey")
    with engine.store.transaction() as tx:
        record = tx.get_instance(key)
        if record is None:
            raise NotFound(f"no process instance with key {key}")
        names = _names(tx.list_definitions())
    return _result(record, names)


@router.post(
    "/process-instances/search",
    response_model=SearchResult[ProcessInstanceResult],
    dependencies=[Depends(require(INSTANCES_READ))],
)
def search_process_instances(
    body: ProcessInstanceSearch, engine: EngineDep
) -> SearchResult[ProcessInstanceResult]:
    """Instances matching the filter (the newest :data:`SEARCH_LIMIT` are looked at)."""
    wanted = body.filter
    state = exact(wanted.state)
    status = str(state).lower() if isinstance(state, str) else None
    if status is not None and status not in _STATES:
        status = None  # An unknown state (SUSPENDED) matches nothing below.
    with engine.store.transaction() as tx:
        key = exact(wanted.processInstanceKey)
        if isinstance(key, (str, int)) and str(key).lstrip("-").isdigit():
            one = tx.get_instance(int(key))
            records = [one] if one is not None else []
        else:
            process_id = exact(wanted.processDefinitionId)
            business_key = exact(wanted.businessId)
            records = tx.list_instances(
                status=status,
                process_id=process_id if isinstance(process_id, str) else None,
                business_key=business_key if isinstance(business_key, str) else None,
                limit=SEARCH_LIMIT,
            )
        names = _names(tx.list_definitions())
    results = [_result(r, names) for r in records]
    chosen = [r for r in results if _matches(r, wanted)]
    items, page = paginate(
        chosen,
        body,
        capped=len(records) >= SEARCH_LIMIT,
        sort_keys={
            "processInstanceKey": lambda r: int(r.processInstanceKey),
            "processDefinitionId": lambda r: r.processDefinitionId,
            "processDefinitionKey": lambda r: int(r.processDefinitionKey),
            "processDefinitionVersion": lambda r: r.processDefinitionVersion,
            "processDefinitionName": lambda r: r.processDefinitionName,
            "startDate": lambda r: r.startDate,
            "endDate": lambda r: r.endDate,
            "state": lambda r: r.state,
            "hasIncident": lambda r: r.hasIncident,
            "businessId": lambda r: r.businessId,
            "parentProcessInstanceKey": lambda r: r.parentProcessInstanceKey,
            "tenantId": lambda r: r.tenantId,
        },
    )
    return SearchResult[ProcessInstanceResult](items=items, page=page)


def _matches(result: ProcessInstanceResult, wanted: ProcessInstanceFilter) -> bool:
    return all_match(
        [
            (result.processInstanceKey, wanted.processInstanceKey),
            (result.processDefinitionId, wanted.processDefinitionId),
            (result.processDefinitionKey, wanted.processDefinitionKey),
            (result.processDefinitionVersion, wanted.processDefinitionVersion),
            (result.processDefinitionName, wanted.processDefinitionName),
            (result.state, wanted.state),
            (result.hasIncident, wanted.hasIncident),
            (result.parentProcessInstanceKey, wanted.parentProcessInstanceKey),
            (result.businessId, wanted.businessId),
            (result.startDate, wanted.startDate),
            (result.endDate, wanted.endDate),
            (result.tenantId, wanted.tenantId),
        ]
    )


def _names(definitions: list[DefinitionRecord]) -> dict[int, str | None]:
    return {d.definition_key: d.name for d in definitions}


def _result(record: InstanceRecord, names: dict[int, str | None]) -> ProcessInstanceResult:
    return ProcessInstanceResult(
        processDefinitionId=record.process_id,
        processDefinitionName=names.get(record.definition_key) or record.process_id,
        processDefinitionVersion=record.version,
        startDate=iso(record.started_at),
        endDate=iso(record.ended_at),
        state=_STATES.get(record.status, record.status.upper()),
        hasIncident=record.incident_count > 0,
        suspended=record.suspended,
        processInstanceKey=str(record.instance_key),
        processDefinitionKey=str(record.definition_key),
        parentProcessInstanceKey=key_text(record.parent_instance_key),
        rootProcessInstanceKey=str(record.instance_key)
        if record.parent_instance_key is None
        else None,
        businessId=record.business_key,
    )


@router.post(
    "/process-instances/{processInstanceKey}/cancellation",
    status_code=204,
    response_class=Response,
)
def cancel_process_instance(
    processInstanceKey: Annotated[str, Path()],
    engine: EngineDep,
    principal: Annotated[Principal, Depends(require(INSTANCES_MODIFY))],
    body: CancelProcessInstance | None = None,
) -> Response:
    """Terminate an instance and everything it runs (a suspended one too)."""
    key = parse_key(processInstanceKey, "processInstanceKey")
    engine.cancel(key, reason="cancelled through the API", by=principal.name)
    return Response(status_code=204)
