"""The cockpit's incidents (``/cockpit/incidents``): the open incidents of every process
grouped by cause, a group's incidents, and retrying one incident or a whole group.

A group is one process, element, error type and normalised message
(:meth:`~legato.runtime.engine.Engine.incident_groups`). Retrying a group retries each of
its open incidents (not the other incidents of the same instances); the outcome comes back
as a flash message, with the incidents that could not be retried and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from legato.api.deps import engine_of
from legato.errors import LegatoError
from legato.runtime.cockpit import MAX_PAGE
from legato.runtime.engine import Engine
from legato.security import INCIDENTS_READ, INSTANCES_MODIFY, Principal
from legato.security.sensitive import Viewer
from legato.web.session import require_page
from legato.web.ui import redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Incidents per page of a group."""
MAX_GROUP_RETRY = 10_000
"""The most incidents one group retry takes."""
SHOWN_REASONS = 5
"""Incidents whose refusal a flash message names (the others are counted)."""


def _engine(request: Request) -> Engine:
    engine = engine_of(request)
    return engine


@router.get("/cockpit/incidents")
def incidents_page(
    request: Request,
    principal: Annotated[Principal, Depends(require_page(INCIDENTS_READ))],
) -> HTMLResponse:
    """Open incidents grouped by cause, largest group first (a message's sensitive values
    masked unless the user may see them)."""
    groups = _engine(request).incident_groups(viewer=Viewer(principal))
    context = {
        "groups": groups,
        "total": sum(g.count for g in groups),
        "may_retry": principal.may(INSTANCES_MODIFY),
    }
    return render(request, "incidents.html", context)


@router.get("/cockpit/incidents/groups/{group}")
def group_page(
    request: Request,
    group: str,
    principal: Annotated[Principal, Depends(require_page(INCIDENTS_READ))],
    after: str | None = None,
) -> HTMLResponse:
    """The open incidents of one group, oldest first, paged."""
    engine = _engine(request)
    viewer = Viewer(principal)
    found = next((g for g in engine.incident_groups(viewer=viewer) if g.key == group), None)
    if found is None:
        context = {"status": 404, "message": "This group has no open incidents (any more)."}
        return render(request, "error.html", context, status=404)
    page = engine.group_incidents(group, after=after, limit=PAGE_SIZE, viewer=viewer)
    context = {
        "group": found,
        "page": page,
        "now": datetime.now(UTC),
        "first_page": after is None,
        "may_retry": principal.may(INSTANCES_MODIFY),
    }
    return render(request, "incident_group.html", context)


@router.post("/cockpit/incidents/{incident_key}/retry")
async def retry_one(
    request: Request,
    incident_key: int,
    principal: Annotated[Principal, Depends(require_page(INSTANCES_MODIFY))],
) -> Response:
    """Retry one incident (a failed job gets one more attempt)."""
    back_to = _back_to(await _form_text(request, "back_to"))
    engine = _engine(request)
    try:
        await run_in_threadpool(lambda: engine.retry(incident_key, by=principal.name))
    except LegatoError as exc:
        return redirect(request, back_to, flash=f"Not retried: {exc}.", kind="error")
    return redirect(request, back_to, flash=f"Retried incident {incident_key}.", kind="success")


@router.post("/cockpit/incidents/groups/{group}/retry")
async def retry_group(
    request: Request,
    group: str,
    principal: Annotated[Principal, Depends(require_page(INSTANCES_MODIFY))],
) -> Response:
    """Retry every open incident of a group."""
    engine = _engine(request)
    try:
        keys = await run_in_threadpool(_group_incident_keys, engine, group, Viewer(principal))
    except LegatoError as exc:
        return redirect(request, "/cockpit/incidents", flash=f"Nothing done: {exc}.", kind="error")
    refused: dict[int, str] = {}
    by = principal.name

    def retry_each() -> None:
        for key in keys:
            try:
                engine.retry(key, by=by)
            except LegatoError as exc:
                refused[key] = str(exc)

    await run_in_threadpool(retry_each)
    return redirect(
        request,
        "/cockpit/incidents",
        flash=retry_outcome(len(keys) - len(refused), refused),
        kind="info" if refused else "success",
    )


def retry_outcome(done: int, refused: dict[int, str]) -> str:
    """A group retry's outcome for a flash message."""
    text = f"Retried {done:,} incident" + ("" if done == 1 else "s") + "."
    if refused:
        reasons = list(refused.items())[:SHOWN_REASONS]
        text += f" Not retried: {len(refused):,}: " + "; ".join(
            f"incident {key}: {reason}" for key, reason in reasons
        )
        more = len(refused) - len(reasons)
        text += f"; and {more} more." if more else "."
    return text


def _group_incident_keys(engine: Engine, group: str, viewer: Viewer) -> list[int]:
    keys: list[int] = []
    after: str | None = None
    while len(keys) < MAX_GROUP_RETRY:
        page = engine.group_incidents(group, after=after, limit=MAX_PAGE, viewer=viewer)
        keys += [incident.incident_key for incident in page.incidents]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    return keys[:MAX_GROUP_RETRY]


async def _form_text(request: Request, name: str) -> str:
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else ""


def _back_to(target: str) -> str:
    return target if target.startswith("/cockpit/") and "//" not in target else "/cockpit/incidents"
