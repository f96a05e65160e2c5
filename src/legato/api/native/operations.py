"""An operator's commands (``/legato/v1``), each recorded in the instance's history with the
caller's name:

- ``POST /process-instances/{key}/suspension`` suspends an instance, ``DELETE`` on the same
  path resumes it (409 when it is suspended already, or not suspended);
- ``PUT /process-instances/{key}/variables`` changes variables (the history keeps the old
  and new values);
- ``POST /incidents/{key}/retry`` fixes variables and retries an incident in one command;
- ``POST /batch-operations`` cancels or retries many instances, by key or by a filter
  (synchronously, at most 10,000; ``dryRun`` only counts).

Every route needs ``instances:modify`` (the ``operator`` and ``admin`` roles).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import AwareDatetime, Field

from legato.api.deps import EngineDep, require
from legato.api.problems import BadRequest
from legato.api.v2.common import (
    Key,
    KeyText,
    Out,
    Strict,
    Variables,
    note_variables,
    parse_key,
)
from legato.errors import InvalidCommandError
from legato.runtime.batches import MAX_BATCH
from legato.runtime.types import InstanceFilter
from legato.security import INSTANCES_MODIFY, Principal

router = APIRouter(tags=["operations"])

Operator = Annotated[Principal, Depends(require(INSTANCES_MODIFY))]
InstanceKeyPath = Annotated[str, Path(description="The process instance's key.")]
Moment = Annotated[AwareDatetime, Field(strict=False)]
"""An ISO 8601 date with its offset (``2026-12-07T10:00:00Z``)."""


@router.post("/process-instances/{processInstanceKey}/suspension", status_code=204)
def suspend_instance(
    processInstanceKey: InstanceKeyPath, engine: EngineDep, principal: Operator
) -> Response:
    """Suspend an instance (and the instances it called): no job of it is handed out, no
    timer fires, no message or signal reaches it, its user tasks cannot be completed, until
    it is resumed. 404 for an unknown key, 409 when it is suspended already or ended."""
    engine.suspend(parse_key(processInstanceKey, "processInstanceKey"), by=principal.name)
    return Response(status_code=204)


@router.delete("/process-instances/{processInstanceKey}/suspension", status_code=204)
def resume_instance(
    processInstanceKey: InstanceKeyPath, engine: EngineDep, principal: Operator
) -> Response:
    """Resume a suspended instance: timers that fell due fire, its jobs are handed out
    again. 404 for an unknown key, 409 when it is not suspended."""
    engine.resume(parse_key(processInstanceKey, "processInstanceKey"), by=principal.name)
    return Response(status_code=204)


class VariableChange(Strict):
    variables: Variables = Field(min_length=1)
    """The variables to set (JSON values)."""
    scopeKey: Key | None = None
    """An element instance of the instance whose scope takes them (its root when absent)."""


@router.put("/process-instances/{processInstanceKey}/variables", status_code=204)
def change_variables(
    request: Request,
    processInstanceKey: InstanceKeyPath,
    body: VariableChange,
    engine: EngineDep,
    principal: Operator,
) -> Response:
    """Set variables of an instance (also while it is suspended); its history records each
    variable's old and new value and who changed them."""
    key = parse_key(processInstanceKey, "processInstanceKey")
    if body.scopeKey is None:
        note_variables(request, engine, key, body.variables or {})
    engine.set_variables(key, body.variables or {}, scope_key=body.scopeKey, by=principal.name)
    return Response(status_code=204)


class IncidentRetry(Strict):
    variables: Variables = None
    """Set in the instance's root scope first, in the same command."""
    retries: int | None = Field(default=None, ge=1)
    """New attempts for a job incident's job (1 when absent)."""


@router.post("/incidents/{incidentKey}/retry", status_code=204)
def retry_incident(
    incidentKey: Annotated[str, Path()],
    engine: EngineDep,
    principal: Operator,
    body: IncidentRetry | None = None,
) -> Response:
    """Fix variables and retry an incident, together or not at all. 404 for an unknown
    incident, 409 when it is resolved already or its instance is suspended."""
    wanted = body or IncidentRetry()
    engine.retry(
        parse_key(incidentKey, "incidentKey"),
        retries=wanted.retries,
        variables=wanted.variables,
        by=principal.name,
    )
    return Response(status_code=204)


class BatchFilter(Strict):
    """Instances that match every member given."""

    processDefinitionId: str | None = None
    processDefinitionVersion: int | None = Field(default=None, ge=1)
    """Only with ``processDefinitionId``."""
    state: Literal["ACTIVE", "SUSPENDED", "COMPLETED", "TERMINATED"] | None = None
    """``ACTIVE`` takes the suspended instances too."""
    businessId: str | None = None
    startedAfter: Moment | None = None
    """Started at or after this."""
    startedBefore: Moment | None = None
    """Started before this."""


class BatchOperation(Strict):
    """What to do to which instances: ``keys`` or ``filter``, exactly one."""

    kind: Literal["cancel", "retry"]
    """``cancel`` terminates them; ``retry`` resolves their open incidents (failed jobs get
    one more attempt)."""
    keys: list[KeyText] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)
    """Process instance keys (decimal strings)."""
    filter: BatchFilter | None = None
    dryRun: bool = False
    """Only say what would be done."""


class SkippedInstance(Out):
    processInstanceKey: KeyText
    reason: str


class BatchOperationResult(Out):
    kind: str
    dryRun: bool
    matched: int
    """How many instances the keys or the filter named."""
    done: int
    """How many were cancelled or retried (would be, in a dry run)."""
    skipped: int
    doneKeys: list[KeyText]
    skippedInstances: list[SkippedInstance]
    """Each instance left alone, with the reason."""


@router.post("/batch-operations", response_model=BatchOperationResult)
def run_batch_operation(
    body: BatchOperation, engine: EngineDep, principal: Operator
) -> BatchOperationResult:
    """Cancel or retry instances named by ``keys`` or matched by ``filter``, at most 10,000
    (a larger selection is refused with 400, not cut short), in transactions of 100; each
    instance's history records the caller. Instances that cannot take it are skipped with
    the reason."""
    wanted = body.filter
    if wanted is not None and wanted.processDefinitionVersion and not wanted.processDefinitionId:
        raise BadRequest("filter.processDefinitionVersion: give filter.processDefinitionId with it")
    selection = None if wanted is None else _selection(wanted)
    try:
        result = engine.batch(
            body.kind,
            keys=None if body.keys is None else [int(key) for key in body.keys],
            filter=selection,
            by=principal.name,
            dry_run=body.dryRun,
        )
    except InvalidCommandError as exc:
        raise BadRequest(str(exc)) from None
    return BatchOperationResult(
        kind=result.kind,
        dryRun=result.dry_run,
        matched=result.matched,
        done=len(result.done),
        skipped=len(result.skipped),
        doneKeys=[str(key) for key in result.done],
        skippedInstances=[
            SkippedInstance(processInstanceKey=str(key), reason=reason)
            for key, reason in result.skipped.items()
        ],
    )


def _selection(wanted: BatchFilter) -> InstanceFilter:
    return InstanceFilter(
        process_id=wanted.processDefinitionId,
        version=wanted.processDefinitionVersion,
        status=wanted.state.lower() if wanted.state else None,
        business_key=wanted.businessId,
        started_after=_utc(wanted.startedAfter),
        started_before=_utc(wanted.startedBefore),
    )


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)
