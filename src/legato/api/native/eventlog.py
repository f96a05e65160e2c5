"""The event log of chosen instances, streamed (``GET /legato/v1/export/xes`` and
``/export/csv``), as ``legato export`` writes it (:mod:`legato.analytics`).

The query parameters are the command's options: ``processId``, ``version`` (repeat for
several), ``status`` (repeat), ``instanceKey`` (repeat), ``since`` and ``until`` (ISO 8601
with an offset), ``window`` (``started`` or ``ended``), ``activity`` (``name`` or ``id``),
``activitiesOnly``. The selection is checked before the answer starts (an unknown process,
version or instance is a 404, other bad input a 400 naming it); then the log streams, read a
page at a time, so a large log never sits in the server's memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from legato.analytics import ExportSummary, selection
from legato.analytics.eventlog import ActivityLabel, Window
from legato.analytics.export import Format, log_text
from legato.api.deps import EngineDep, require
from legato.api.problems import BadRequest
from legato.api.v2.common import parse_key
from legato.errors import InvalidCommandError
from legato.security import INSTANCES_READ

router = APIRouter(tags=["legato"])

_MEDIA_TYPES: dict[Format, str] = {
    "xes": "application/xml",
    "csv": "text/csv; charset=utf-8; header=present",
}

Repeated = Annotated[list[str] | None, Query()]


@router.get(
    "/export/{format}",
    response_class=StreamingResponse,
    dependencies=[Depends(require(INSTANCES_READ))],
    responses={200: {"content": {"application/xml": {}, "text/csv": {}}}},
)
def export_event_log(
    format: Format,
    engine: EngineDep,
    processId: str | None = None,
    version: Annotated[list[int] | None, Query()] = None,
    status: Repeated = None,
    instanceKey: Repeated = None,
    since: str | None = None,
    until: str | None = None,
    window: str = "started",
    activity: str = "name",
    activitiesOnly: bool = False,
) -> StreamingResponse:
    """The event log of the instances every filter selects, as IEEE XES or CSV (RFC 4180)."""
    chosen = selection(
        process_id=processId,
        versions=version or None,
        statuses=status or None,
        instance_keys=(
            None if not instanceKey else [parse_key(key, "instanceKey") for key in instanceKey]
        ),
        since=_instant(since, "since"),
        until=_instant(until, "until"),
        # Checked with the rest of the selection (an unknown word is a 400 naming it).
        window=cast(Window, window),
        activity=cast(ActivityLabel, activity),
        activities_only=activitiesOnly,
    )
    # The selection is checked here, before the first byte is sent. A refused word or window
    # is bad input (400), not a conflict with some state: this route changes nothing.
    try:
        pieces = log_text(engine.store, chosen, format, ExportSummary())
    except InvalidCommandError as exc:
        raise BadRequest(str(exc)) from None
    return StreamingResponse(
        _encoded(pieces),
        media_type=_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="event-log.{format}"'},
    )


def _encoded(pieces: Iterator[str]) -> Iterator[bytes]:
    # A plain iterator: the server runs it on a worker thread, page by page.
    for piece in pieces:
        yield piece.encode("utf-8")


def _instant(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: '{value}' is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: '{value}' has no offset (add Z or +hh:mm)")
    return moment
