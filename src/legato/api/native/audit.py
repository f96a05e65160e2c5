"""The audit trail (``/legato/v1/audit``), for the ``auditor`` and ``admin`` roles
(``audit:read``):

- ``GET /audit``: records newest first, filtered by ``actor``, ``action`` (exact, or a
  prefix ending in ``.``), ``resource`` (``instance`` or ``instance:42``), ``since`` and
  ``until``; ``limit`` per page and ``nextCursor`` to pass as ``before`` for the next page;
- ``GET /audit/verify``: the chain checked (``intact``, or the first record broken and why);
- ``POST /audit/checkpoint``: sign the last record now.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from legato.api.deps import require
from legato.api.native.cockpit import _instant
from legato.api.v2.common import Out
from legato.security import AUDIT_READ
from legato.security.audit import AuditTrail, audit_query, record_json
from legato.security.audit_chain import verify_trail

router = APIRouter(tags=["audit"], dependencies=[Depends(require(AUDIT_READ))])

MAX_PAGE = 500
"""The most records one page holds."""


async def _trail(request: Request) -> AuditTrail:
    trail: AuditTrail = request.app.state.audit
    return trail


TrailDep = Annotated[AuditTrail, Depends(_trail)]


class AuditPage(Out):
    items: list[dict[str, Any]]
    """The records, newest first: seq, at, actor, actorKind, sourceAddress, userAgent,
    action, resourceType, resourceId, outcome, details, prevHash, hash."""
    nextCursor: str | None
    """Pass as ``before`` for the next (older) page; None on the last page."""


class VerifyResult(Out):
    intact: bool
    records: int
    lastSeq: int | None
    brokenSeq: int | None
    message: str
    """``intact: N records, last #seq`` or ``record #k: <what is wrong>``."""


class CheckpointResult(Out):
    seq: int | None
    hash: str | None


@router.get("/audit", response_model=AuditPage)
async def list_audit(
    trail: TrailDep,
    actor: str | None = None,
    action: str | None = None,
    resource: str | None = None,
    since: Annotated[str | None, Query(description="ISO 8601 with offset: at or after")] = None,
    until: Annotated[str | None, Query(description="ISO 8601 with offset: before")] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditPage:
    """Audit records, newest first, with filters and cursor paging."""
    query = audit_query(
        actor=actor,
        action=action,
        resource=resource,
        since=_instant(since, "since"),
        until=_instant(until, "until"),
        before_seq=before,
        limit=limit,
    )
    found = await run_in_threadpool(trail.records, query)
    cursor = str(found[-1].seq) if len(found) == limit else None
    return AuditPage(items=[record_json(r) for r in found], nextCursor=cursor)


@router.get("/audit/verify", response_model=VerifyResult)
async def verify_audit(trail: TrailDep) -> VerifyResult:
    """Check the whole chain: every record's hash, its link, the numbering and the signed
    checkpoints (it reads every record: seconds for a large trail)."""
    found = await run_in_threadpool(verify_trail, trail)
    return VerifyResult(
        intact=found.intact,
        records=found.records,
        lastSeq=found.last_seq,
        brokenSeq=found.broken_seq,
        message=found.message,
    )


@router.post("/audit/checkpoint", response_model=CheckpointResult)
async def checkpoint_audit(trail: TrailDep) -> CheckpointResult:
    """Sign the last record now, so that removing records from the end is seen."""
    made = await run_in_threadpool(trail.checkpoint)
    if made is None:
        return CheckpointResult(seq=None, hash=None)
    return CheckpointResult(seq=made.seq, hash=made.hash)
