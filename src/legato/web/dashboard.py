"""The cockpit's process dashboards (``/cockpit/processes/{id}/dashboard``): throughput over
time, cycle-time percentiles, error rate and open incidents, the diagram as a heat map, the
slowest elements, and one version against another.

The page carries the choices (versions, window) and the URLs of its data; the bundle
(``web/src/dashboard.js``) fetches the JSON and draws it. The JSON is the analytics report of
``GET /legato/v1/analytics/processes/{processId}`` (and ``.../compare``), served here under
the cockpit's session as ``/cockpit/processes/{id}/analytics`` (and ``.../compare``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from legato.api.deps import engine_of
from legato.errors import NotFoundError
from legato.runtime.cockpit import ProcessVersionInfo
from legato.security import INSTANCES_READ, Principal
from legato.web.processes import group_versions, versions_of
from legato.web.session import require_page
from legato.web.ui import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require_page(INSTANCES_READ))]

WINDOWS: dict[str, tuple[str, timedelta]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}
"""The windows offered besides ``custom``: name -> (label, length)."""
BUCKET_HOURS = (1, 2, 6, 12, 24, 7 * 24)
"""Bucket lengths the throughput chart may use (the rollup is hourly)."""
MAX_BUCKETS = 60
"""The most bars the throughput chart draws per series: the finest bucket that keeps to it."""


@dataclass(frozen=True, slots=True)
class Window:
    """The time a dashboard covers, and the throughput bucket for it."""

    name: str
    since: datetime
    until: datetime
    bucket: timedelta

    @property
    def bucket_iso(self) -> str:
        """The bucket as an ISO 8601 duration (``PT6H``)."""
        return f"PT{int(self.bucket.total_seconds()) // 3600}H"


class WindowError(ValueError):
    """A window the page cannot show (its message names the field)."""


def bucket_for(length: timedelta) -> timedelta:
    """The finest bucket of :data:`BUCKET_HOURS` that cuts ``length`` into at most
    :data:`MAX_BUCKETS` buckets (the coarsest when none does)."""
    for hours in BUCKET_HOURS:
        if length / timedelta(hours=hours) <= MAX_BUCKETS:
            return timedelta(hours=hours)
    return timedelta(hours=BUCKET_HOURS[-1])


def _parse_time(name: str, text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(f"{name}: '{text}' is not a date and time (2026-01-31T08:00)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def window_of(name: str, since: str | None, until: str | None, now: datetime) -> Window:
    """The window called ``name`` ending ``now``, or for ``custom`` the one from ``since``
    to ``until`` (ISO; without a zone: UTC; ``until`` empty: ``now``)."""
    if name in WINDOWS:
        length = WINDOWS[name][1]
        return Window(name, now - length, now, bucket_for(length))
    if name != "custom":
        raise WindowError(f"window: '{name}' is none of {', '.join([*WINDOWS, 'custom'])}")
    if not since:
        raise WindowError("since: a custom window needs its start")
    start = _parse_time("since", since)
    end = _parse_time("until", until) if until else now
    if end <= start:
        raise WindowError("until: must be later than since")
    return Window(name, start, end, bucket_for(end - start))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _shown_versions(versions: list[ProcessVersionInfo], wanted: list[int]) -> list[int]:
    known = {v.version for v in versions}
    missing = [str(v) for v in wanted if v not in known]
    if missing:
        process_id = versions[0].process_id
        raise NotFoundError(f"version {', '.join(missing)} of process {process_id} is not deployed")
    return sorted(set(wanted))


ANALYTICS_API = "/legato/v1/analytics/processes"
"""Where the API serves the analytics report of a process (``/{processId}``) and the
comparison of two versions (``/{processId}/compare``)."""


class _FromApi(Response):
    """The answer of the API's route at ``path`` to this request's query, asked as the
    signed-in user: the same parameters, checks, JSON and problem details as the API (whose
    routes want API credentials, which a browser session does not carry)."""

    def __init__(self, path: str, principal: Principal) -> None:
        super().__init__()
        self.path = path
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = {**scope.get("state", {}), "principal": self.principal}
        raw = quote(self.path).encode()
        asked = {**scope, "path": self.path, "raw_path": raw, "state": state}
        await scope["app"].router(asked, receive, send)


@router.get("/cockpit/processes/{process_id}/analytics")
def analytics_report(process_id: str, principal: Reader) -> Response:
    """The analytics report of ``GET /legato/v1/analytics/processes/{processId}`` (same
    query parameters, same JSON), for the dashboard."""
    return _FromApi(f"{ANALYTICS_API}/{process_id}", principal)


@router.get("/cockpit/processes/{process_id}/analytics/compare")
def analytics_comparison(process_id: str, principal: Reader) -> Response:
    """The comparison of ``GET /legato/v1/analytics/processes/{processId}/compare`` (same
    query parameters, same JSON), for the dashboard."""
    return _FromApi(f"{ANALYTICS_API}/{process_id}/compare", principal)


@router.get("/cockpit/dashboards")
def dashboards_page(request: Request, principal: Reader) -> HTMLResponse:
    """Every deployed process with a link to its dashboard."""
    processes = group_versions(engine_of(request).process_definitions())
    return render(request, "dashboards.html", {"processes": processes})


@router.get("/cockpit/processes/{process_id}/dashboard")
def dashboard_page(
    request: Request,
    process_id: str,
    principal: Reader,
    version: Annotated[list[int] | None, Query()] = None,
    window: str = "7d",
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    """One process's dashboard over the chosen versions (none chosen: every version) and
    window (``24h``, ``7d``, ``30d`` or ``custom`` with ``since`` and ``until``)."""
    try:
        versions = versions_of(request, process_id)
        chosen = _shown_versions(versions, version or [])
    except NotFoundError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status=404)
    now = engine_of(request).clock.now()
    error: str | None = None
    try:
        shown = window_of(window, since, until, now)
    except WindowError as exc:
        shown, error = window_of("7d", None, None, now), str(exc)
    diagram = next(v for v in versions if not chosen or v.version == max(chosen))
    base = f"/cockpit/processes/{quote(process_id, safe='')}/analytics"
    span = {"since": _iso(shown.since), "until": _iso(shown.until)}
    report = {**({"versions": ",".join(map(str, chosen))} if chosen else {}), **span}
    context = {
        "process_id": process_id,
        "name": versions[0].name or process_id,
        "versions": versions,
        "chosen": chosen,
        "diagram": diagram,
        "windows": WINDOWS,
        "window": shown,
        "custom_since": since or "",
        "custom_until": until or "",
        "window_error": error,
        "report_url": f"{base}?{urlencode({**report, 'bucket': shown.bucket_iso})}",
        "compare_url": f"{base}/compare?{urlencode(span)}",
        "compare_a": versions[1].version if len(versions) > 1 else versions[0].version,
        "compare_b": versions[0].version,
    }
    return render(request, "dashboard.html", context, status=400 if error else 200)
