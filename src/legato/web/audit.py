"""The audit page (``/audit``, for who holds ``audit:read``: the ``auditor`` and ``admin``
roles): the audit trail newest first, filtered by actor, action, resource and time, paged,
and a check of the whole chain on request (see :mod:`legato.security.audit`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from legato.security import AUDIT_READ, Principal
from legato.security.audit import AuditTrail, audit_query
from legato.security.audit_chain import verify_trail
from legato.web.session import require_page
from legato.web.ui import register_nav, render

router = APIRouter(include_in_schema=False)
register_nav("Audit", "/audit", AUDIT_READ, order=40)

PAGE_SIZE = 50
"""Records per page."""
FILTERS = ("actor", "action", "resource", "since", "until")


def _moment(text: str, name: str, errors: dict[str, str]) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        errors[name] = f"Not a date and time: {text!r}."
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get("/audit")
async def audit_page(
    request: Request,
    principal: Annotated[Principal, Depends(require_page(AUDIT_READ))],
    before: int | None = None,
    verify: bool = False,
) -> HTMLResponse:
    """Audit records newest first, with filters; ``verify=true`` checks the chain too."""
    trail: AuditTrail = request.app.state.audit
    values = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    errors: dict[str, str] = {}
    since = _moment(values["since"], "since", errors)
    until = _moment(values["until"], "until", errors)
    records = []
    if not errors:
        query = audit_query(
            actor=values["actor"],
            action=values["action"],
            resource=values["resource"],
            since=since,
            until=until,
            before_seq=before,
            limit=PAGE_SIZE,
        )
        records = await run_in_threadpool(trail.records, query)
    verification = await run_in_threadpool(verify_trail, trail) if verify else None
    context = {
        "records": records,
        "details": {r.seq: json.dumps(r.details, ensure_ascii=False) for r in records},
        "values": values,
        "errors": errors,
        "next_before": records[-1].seq if len(records) == PAGE_SIZE else None,
        "verification": verification,
    }
    return render(request, "audit.html", context, status=400 if errors else 200)
