"""The cockpit's alerts (``/cockpit/alerts``): what the SLA sweep raised, newest first, and
resolving one by hand.

The open alerts by default, ``?state=all`` for the resolved ones too. Each row says its kind,
its state and what was expected in words, so nothing is told by colour alone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from legato.api.deps import engine_of
from legato.errors import LegatoError
from legato.runtime.engine import Engine
from legato.security import INCIDENTS_READ, INSTANCES_MODIFY, Principal
from legato.web.session import require_page
from legato.web.ui import redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 200
"""Alerts shown at most."""
KIND_LABELS = {
    "instance_overdue": "Instance overdue",
    "element_overdue": "Element overdue",
    "error_rate": "Error rate",
    "job_queue_age": "Job queue age",
}


def _engine(request: Request) -> Engine:
    engine = engine_of(request)
    return engine


@router.get("/cockpit/alerts")
def alerts_page(
    request: Request,
    principal: Annotated[Principal, Depends(require_page(INCIDENTS_READ))],
    state: str = "open",
) -> HTMLResponse:
    """The open alerts (``state=all``: every alert), newest first."""
    everything = state == "all"
    rows = _engine(request).alerts(include_resolved=everything, limit=PAGE_SIZE)
    context = {
        "alerts": rows,
        "everything": everything,
        "labels": KIND_LABELS,
        "may_resolve": principal.may(INSTANCES_MODIFY),
    }
    return render(request, "alerts.html", context)


@router.post("/cockpit/alerts/{alert_key}/resolve")
async def resolve_one(
    request: Request,
    alert_key: int,
    principal: Annotated[Principal, Depends(require_page(INSTANCES_MODIFY))],
) -> Response:
    """Resolve one alert by hand."""
    engine = _engine(request)
    try:
        await run_in_threadpool(engine.resolve_alert, alert_key)
    except LegatoError as exc:
        return redirect(request, "/cockpit/alerts", flash=f"Not resolved: {exc}.", kind="error")
    return redirect(
        request, "/cockpit/alerts", flash=f"Resolved alert {alert_key}.", kind="success"
    )
