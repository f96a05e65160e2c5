"""An event log as CSV (RFC 4180): one row per event, a header row first.

Rows end in CRLF and fields are quoted where they hold a comma, a quote or a line break, as
RFC 4180 says; the text is UTF-8. The columns are those process mining tools map on import
(case id, activity, lifecycle transition, timestamp, resource) and then the element and the
case's attributes; times are ISO 8601 in UTC with microseconds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from legato.analytics.eventlog import LogCase, LogEvent, LogItem

COLUMNS = (
    "case_id",
    "activity",
    "lifecycle",
    "timestamp",
    "resource",
    "element_id",
    "element_type",
    "element_instance_key",
    "position",
    "process_id",
    "process_version",
    "business_key",
    "case_status",
)
"""The header row."""

FLUSH_EVERY = 1000
"""Rows written before their text is handed on."""


def iso_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds: ``2024-05-01T12:00:00.123456+00:00``."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def csv_text(items: Iterable[LogItem]) -> Iterator[str]:
    """The CSV document of a log, in pieces of text to write one after the other."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    case: tuple[str, str, str, str] = ("", "", "", "")
    rows = 0
    last_at: datetime | None = None
    last_stamp = ""
    for item in items:
        if type(item) is LogEvent:
            if item.at is not last_at:
                last_at, last_stamp = item.at, iso_timestamp(item.at)
            writer.writerow(
                (
                    item.instance_key,
                    item.activity,
                    item.transition,
                    last_stamp,
                    item.resource or "",
                    item.element_id,
                    item.element_type,
                    item.element_instance_key,
                    item.position,
                    *case,
                )
            )
            rows += 1
            if rows % FLUSH_EVERY == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        else:
            assert isinstance(item, LogCase)
            instance = item.instance
            case = (
                instance.process_id,
                str(instance.version),
                instance.business_key or "",
                instance.status,
            )
    yield buffer.getvalue()
