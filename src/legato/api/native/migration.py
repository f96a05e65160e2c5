"""Instance migration (``/legato/v1``): a dry run, durable batches and their control.

- ``POST /migrations/check``: what migrating each instance by a plan would do, or why it
  cannot (nothing changes);
- ``POST /migrations``: a durable batch migrating the instances named, or every active
  instance of the plan's source version (matching an optional filter), at an optional rate;
  it runs on the servers and resumes after a crash (201 with the batch);
- ``GET /migrations`` and ``GET /migrations/{batchKey}``: the batches and their progress,
  one with the instances that could not move and why;
- ``POST /migrations/{batchKey}/pause``, ``/resume`` and ``/cancel``.

A plan names the process, its source and target versions, the element mappings where ids
differ, variables to set (FEEL) and whether timers whose definition changed are set anew; a
plan naming an element a version lacks is a 400 naming it. Reading needs ``instances:read``,
the rest ``instances:modify``; each migrated instance's history records the caller.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, Field

from legato.api.deps import EngineDep, require
from legato.api.problems import BadRequest
from legato.api.v2.common import KeyText, Out, Strict, iso, parse_key
from legato.errors import MigrationError
from legato.runtime.engine import Engine
from legato.runtime.migration import MigrationPlan
from legato.runtime.migration_batches import MAX_SELECTION, BatchOperation
from legato.runtime.types import InstanceFilter
from legato.security import INSTANCES_MODIFY, INSTANCES_READ, Principal

router = APIRouter(tags=["migration"])

Operator = Annotated[Principal, Depends(require(INSTANCES_MODIFY))]
Reader = Annotated[Principal, Depends(require(INSTANCES_READ))]
BatchKeyPath = Annotated[str, Path(description="The batch operation's key.")]


class Mapping(Strict):
    sourceElementId: str
    targetElementId: str


class Plan(Strict):
    """Which version moves to which, and how."""

    processDefinitionId: str
    sourceVersion: int = Field(ge=1)
    targetVersion: int = Field(ge=1)
    targetProcessDefinitionId: str | None = None
    """Another process to move to (the same one when absent)."""
    mappings: list[Mapping] = Field(default_factory=list)
    """Where element ids differ; the same ids map by themselves."""
    variables: dict[str, str] = Field(default_factory=dict)
    """Root variables set on each instance: name to FEEL expression."""
    recreateTimers: bool = False
    """Timers whose definition changed are set anew (from now); else they keep their due
    time."""


class CheckRequest(Strict):
    plan: Plan
    processInstanceKeys: list[KeyText] = Field(min_length=1, max_length=10_000)


class CheckResult(Out):
    processInstanceKey: KeyText
    ok: bool
    reason: str | None
    changes: list[str]


class CheckResults(Out):
    items: list[CheckResult]


class Selection(Strict):
    """Among the active instances of the plan's source version: those matching every member."""

    businessId: str | None = None
    startedAfter: AwareDatetime | None = None
    startedBefore: AwareDatetime | None = None


class MigrationRequest(Strict):
    plan: Plan
    processInstanceKeys: list[KeyText] | None = Field(
        default=None, min_length=1, max_length=MAX_SELECTION
    )
    """These instances; else every active instance of the source version (``filter``)."""
    filter: Selection | None = None
    rate: float | None = Field(default=None, gt=0)
    """At most this many instances a second."""


class Failure(Out):
    processInstanceKey: KeyText
    reason: str


class BatchResult(Out):
    """A migration batch and its progress."""

    batchKey: KeyText
    status: str
    """``RUNNING``, ``PAUSED``, ``COMPLETED`` or ``CANCELLED``."""
    total: int
    done: int
    failed: int
    pending: int
    rate: float | None
    createdBy: str | None
    createdAt: str
    endedAt: str | None
    processDefinitionId: str
    sourceVersion: int
    targetVersion: int
    failures: list[Failure] | None = None
    """The instances that could not move (one batch only)."""


class BatchList(Out):
    items: list[BatchResult]


@router.post("/migrations/check", response_model=CheckResults)
def check_migration(body: CheckRequest, engine: EngineDep, principal: Operator) -> CheckResults:
    """A dry run: for each instance, the changes migrating it would make, or the reason it
    cannot move. Nothing is written."""
    plan = _plan(engine, body.plan)
    keys = [parse_key(key, "processInstanceKeys") for key in body.processInstanceKeys]
    return CheckResults(
        items=[
            CheckResult(
                processInstanceKey=str(c.instance_key),
                ok=c.ok,
                reason=c.reason,
                changes=list(c.changes),
            )
            for c in engine.check_migration(plan, keys)
        ]
    )


@router.post("/migrations", response_model=BatchResult, status_code=201)
def start_migration(body: MigrationRequest, engine: EngineDep, principal: Operator) -> BatchResult:
    """Start a durable migration batch (it runs on the servers, 100 instances a transaction,
    and resumes after a crash). Instances that cannot move are skipped with the reason."""
    plan = _plan(engine, body.plan)
    keys = None
    if body.processInstanceKeys is not None:
        keys = [parse_key(key, "processInstanceKeys") for key in body.processInstanceKeys]
    selection = None
    if body.filter is not None:
        if keys is not None:
            raise BadRequest("give processInstanceKeys or filter, not both")
        selection = InstanceFilter(
            business_key=body.filter.businessId,
            started_after=_utc(body.filter.startedAfter),
            started_before=_utc(body.filter.startedBefore),
        )
    batch = engine.migrate_in_batch(plan, keys, filter=selection, rate=body.rate, by=principal.name)
    return _result(batch)


@router.get("/migrations", response_model=BatchList)
def list_migrations(engine: EngineDep, principal: Reader) -> BatchList:
    """The migration batches, newest first."""
    return BatchList(items=[_result(b) for b in engine.batch_operations() if b.kind == "migration"])


@router.get("/migrations/{batchKey}", response_model=BatchResult)
def get_migration(batchKey: BatchKeyPath, engine: EngineDep, principal: Reader) -> BatchResult:
    """One batch with its progress and the instances that could not move. 404 if unknown."""
    key = parse_key(batchKey, "batchKey")
    return _result(engine.batch_operation(key), engine.batch_failures(key))


@router.post("/migrations/{batchKey}/pause", response_model=BatchResult)
def pause_migration(batchKey: BatchKeyPath, engine: EngineDep, principal: Operator) -> BatchResult:
    """Stop a running batch after its current chunk (409 unless it runs)."""
    return _result(engine.pause_batch_operation(parse_key(batchKey, "batchKey")))


@router.post("/migrations/{batchKey}/resume", response_model=BatchResult)
def resume_migration(batchKey: BatchKeyPath, engine: EngineDep, principal: Operator) -> BatchResult:
    """Go on with a paused batch (409 unless it is paused)."""
    return _result(engine.resume_batch_operation(parse_key(batchKey, "batchKey")))


@router.post("/migrations/{batchKey}/cancel", response_model=BatchResult)
def cancel_migration(batchKey: BatchKeyPath, engine: EngineDep, principal: Operator) -> BatchResult:
    """End a batch: what it migrated stays migrated (409 when it ended already)."""
    return _result(engine.cancel_batch_operation(parse_key(batchKey, "batchKey")))


def _plan(engine: Engine, plan: Plan) -> MigrationPlan:
    try:
        return engine.migration_plan(
            plan.processDefinitionId,
            plan.sourceVersion,
            plan.targetVersion,
            {m.sourceElementId: m.targetElementId for m in plan.mappings},
            target_process_id=plan.targetProcessDefinitionId,
            variables=plan.variables,
            recreate_timers=plan.recreateTimers,
        )
    except MigrationError as exc:
        raise BadRequest(f"plan: {exc}") from None


def _result(batch: BatchOperation, failures: list[tuple[int, str]] | None = None) -> BatchResult:
    spec = batch.spec
    return BatchResult(
        batchKey=str(batch.key),
        status=batch.status.upper(),
        total=batch.total,
        done=batch.done,
        failed=batch.failed,
        pending=batch.pending,
        rate=batch.rate,
        createdBy=batch.created_by,
        createdAt=iso(batch.created_at) or "",
        endedAt=iso(batch.ended_at),
        processDefinitionId=spec["process_id"],
        sourceVersion=spec["source_version"],
        targetVersion=spec["target_version"],
        failures=None
        if failures is None
        else [Failure(processInstanceKey=str(k), reason=r) for k, r in failures],
    )


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)
