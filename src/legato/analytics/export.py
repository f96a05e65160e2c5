"""Export the event log of chosen instances to a file or a stream, as XES or CSV.

```python
from legato.analytics import export_xes

summary = export_xes(engine, "onboarding.xes", process_id="onboarding", statuses=["completed"])
print(summary.cases, summary.events)
```

The selection is checked before anything is written; a file is written under a temporary
name beside it and renamed when complete, so a failed export leaves no half log behind. A
file name ending in ``.gz`` is gzip-compressed (``log.xes.gz`` is what process mining tools
open directly).
"""

from __future__ import annotations

import gzip
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from legato.analytics.csvlog import csv_text
from legato.analytics.eventlog import (
    ActivityLabel,
    EventLogSelection,
    LogCase,
    LogItem,
    Source,
    Window,
    check_selection,
    read_event_log,
    store_of,
)
from legato.analytics.xes import xes_text
from legato.errors import InvalidCommandError

Format = Literal["xes", "csv"]
FORMATS: tuple[Format, ...] = ("xes", "csv")

Target = str | os.PathLike[str] | BinaryIO
"""A file name, or a binary stream (``sys.stdout.buffer``, an open file, a ``BytesIO``)."""


@dataclass(slots=True)
class ExportSummary:
    """What an export wrote."""

    cases: int = 0
    """Traces (instances)."""
    events: int = 0


def selection(
    *,
    process_id: str | None = None,
    versions: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    instance_keys: Iterable[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    window: Window = "started",
    activity: ActivityLabel = "name",
    activities_only: bool = False,
) -> EventLogSelection:
    """An :class:`EventLogSelection` from keyword arguments (any iterables)."""
    return EventLogSelection(
        process_id=process_id,
        versions=None if versions is None else tuple(versions),
        statuses=None if statuses is None else tuple(statuses),
        instance_keys=None if instance_keys is None else tuple(instance_keys),
        since=since,
        until=until,
        window=window,
        activity=activity,
        activities_only=activities_only,
    )


def event_log(source: Source, chosen: EventLogSelection) -> Iterator[LogItem]:
    """The log of the chosen instances: each :class:`LogCase`, then its events.

    Raises:
        InvalidCommandError, NotFoundError: as :func:`~legato.analytics.eventlog.check_selection`,
            at once (before the first item).
    """
    check_selection(store_of(source), chosen)
    return read_event_log(source, chosen)


def log_text(
    source: Source, chosen: EventLogSelection, format: Format, summary: ExportSummary
) -> Iterator[str]:
    """The log in ``format``, in pieces of text; ``summary`` counts as they are made.

    Raises:
        InvalidCommandError: an unknown format, or as :func:`event_log`, at once.
        NotFoundError: as :func:`event_log`, at once.
    """
    if format not in FORMATS:
        raise InvalidCommandError(f"unknown format {format!r}: expected xes or csv")
    items = _counted(event_log(source, chosen), summary)
    if format == "csv":
        return csv_text(items)
    return xes_text(items, _log_name(chosen))


def export_xes(
    source: Source,
    target: Target,
    *,
    process_id: str | None = None,
    versions: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    instance_keys: Iterable[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    window: Window = "started",
    activity: ActivityLabel = "name",
    activities_only: bool = False,
) -> ExportSummary:
    """Write the event log of chosen instances as IEEE XES.

    Args:
        source: an engine, or a store.
        target: a file name (``.gz`` compresses), or a binary stream.
        process_id: only instances of this process.
        versions: only these versions of ``process_id``.
        statuses: only instances in these states (``active``, ``completed``, ``terminated``).
        instance_keys: only these instances.
        since: the start of the time window (aware; inclusive).
        until: the end of the time window (aware; exclusive).
        window: what the window bounds: when instances ``started`` or when they ``ended``.
        activity: what names an event's activity: the element's ``name`` (its id where it
            has none) or its ``id``.
        activities_only: leave out events and gateways (keep tasks, sub-processes and call
            activities).

    Raises:
        InvalidCommandError: a selection that cannot hold (see
            :func:`~legato.analytics.eventlog.check_selection`).
        NotFoundError: an unknown process, version or instance.
    """
    chosen = selection(
        process_id=process_id,
        versions=versions,
        statuses=statuses,
        instance_keys=instance_keys,
        since=since,
        until=until,
        window=window,
        activity=activity,
        activities_only=activities_only,
    )
    return export_log(source, target, "xes", chosen)


def export_csv(
    source: Source,
    target: Target,
    *,
    process_id: str | None = None,
    versions: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    instance_keys: Iterable[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    window: Window = "started",
    activity: ActivityLabel = "name",
    activities_only: bool = False,
) -> ExportSummary:
    """Write the event log of chosen instances as CSV (RFC 4180); arguments and errors as
    :func:`export_xes`."""
    chosen = selection(
        process_id=process_id,
        versions=versions,
        statuses=statuses,
        instance_keys=instance_keys,
        since=since,
        until=until,
        window=window,
        activity=activity,
        activities_only=activities_only,
    )
    return export_log(source, target, "csv", chosen)


def export_log(
    source: Source, target: Target, format: Format, chosen: EventLogSelection
) -> ExportSummary:
    """Write the log of ``chosen`` in ``format`` to ``target``; errors as :func:`export_xes`.

    The selection is checked before ``target`` is touched.
    """
    summary = ExportSummary()
    pieces = log_text(source, chosen, format, summary)
    # The selection was checked when the pieces were asked for: only now is a file made.
    first = next(pieces)
    if isinstance(target, str | os.PathLike):
        _write_file(Path(target), first, pieces)
    else:
        _write_stream(target.write, first, pieces)
    return summary


def _write_file(path: Path, first: str, rest: Iterator[str]) -> None:
    # A name of its own beside the target (so the rename stays on one file system), made
    # with the permissions any new file gets here (mkstemp's would be private).
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        with partial.open("xb") as raw:
            if path.suffix == ".gz":
                with gzip.GzipFile(filename=path.stem, mode="wb", fileobj=raw) as packed:
                    _write_stream(packed.write, first, rest)
            else:
                _write_stream(raw.write, first, rest)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write_stream(write: Callable[[bytes], object], first: str, rest: Iterator[str]) -> None:
    write(first.encode("utf-8"))
    for piece in rest:
        write(piece.encode("utf-8"))


def _counted(items: Iterator[LogItem], summary: ExportSummary) -> Iterator[LogItem]:
    for item in items:
        if type(item) is LogCase:
            summary.cases += 1
        else:
            summary.events += 1
        yield item


def _log_name(chosen: EventLogSelection) -> str:
    if chosen.process_id is None:
        return "Legato event log"
    if chosen.versions:
        versions = ", ".join(map(str, sorted(chosen.versions)))
        return f"{chosen.process_id} (version {versions})"
    return chosen.process_id


__all__ = [
    "FORMATS",
    "ExportSummary",
    "Format",
    "Target",
    "event_log",
    "export_csv",
    "export_log",
    "export_xes",
    "log_text",
    "selection",
]
