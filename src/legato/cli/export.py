"""``legato export xes|csv``: the event log of chosen instances, for process mining.

```
legato export xes --process onboarding --status completed -o onboarding.xes
legato export csv --process onboarding --since 2024-05-01 --until 2024-06-01 > may.csv
```

The log goes to standard output unless ``--output`` names a file (``.gz`` compresses); a
line on standard error says how many cases and events were written. Bad input (an unknown
process, version or instance, an empty or unreadable time window) is one line naming it,
and nothing is written.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, cast

import typer

from legato.analytics import ExportSummary, export_log, selection
from legato.analytics.eventlog import ActivityLabel, Window
from legato.analytics.export import Format
from legato.errors import LegatoError
from legato.runtime.encryption import DeclaredSensitivity, encrypted_store
from legato.runtime.engine import DEFAULT_DATABASE
from legato.store.records import INSTANCE_STATUSES
from legato.store.sql import SqlStore

export_app = typer.Typer(
    help="Export the event log of instances for process mining (XES or CSV).",
    no_args_is_help=True,
)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write to this file (.gz compresses); standard output if omitted."
    ),
]
ProcessOption = Annotated[
    str | None, typer.Option("--process", "-p", help="Only instances of this process id.")
]
VersionOption = Annotated[
    list[int] | None,
    typer.Option("--version", help="Only this version of --process; repeat for several."),
]
StatusOption = Annotated[
    list[str] | None,
    typer.Option(
        "--status",
        help=f"Only instances in this state ({', '.join(INSTANCE_STATUSES)}); repeat for several.",
    ),
]
InstanceOption = Annotated[
    list[int] | None,
    typer.Option("--instance", "-i", help="Only this instance key; repeat for several."),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Start of the time window, inclusive: ISO 8601 (2024-05-01, 2024-05-01T08:00Z); "
        "UTC unless it says otherwise.",
    ),
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="End of the time window, exclusive (as --since).")
]
WindowOption = Annotated[
    str,
    typer.Option(
        "--window",
        help="What the time window bounds: when instances 'started' or when they 'ended'.",
    ),
]
ActivityOption = Annotated[
    str,
    typer.Option(
        "--activity", help="Name activities by element 'name' (id where unnamed) or by 'id'."
    ),
]
ActivitiesOnlyOption = Annotated[
    bool,
    typer.Option(
        "--activities-only",
        help="Only tasks, sub-processes and call activities (no events, no gateways).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``export`` to the ``legato`` command."""
    app.add_typer(export_app, name="export")


@export_app.command("xes")
def export_xes_command(
    db: DbOption = DEFAULT_DATABASE,
    output: OutputOption = None,
    process: ProcessOption = None,
    version: VersionOption = None,
    status: StatusOption = None,
    instance: InstanceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    window: WindowOption = "started",
    activity: ActivityOption = "name",
    activities_only: ActivitiesOnlyOption = False,
) -> None:
    """Write the event log as IEEE XES (1849-2016).

    A trace per instance; start, complete and abort events per element, with timestamps and
    the users who completed user tasks.
    """
    _export(
        "xes",
        db,
        output,
        process,
        version,
        status,
        instance,
        since,
        until,
        window,
        activity,
        activities_only,
    )


@export_app.command("csv")
def export_csv_command(
    db: DbOption = DEFAULT_DATABASE,
    output: OutputOption = None,
    process: ProcessOption = None,
    version: VersionOption = None,
    status: StatusOption = None,
    instance: InstanceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    window: WindowOption = "started",
    activity: ActivityOption = "name",
    activities_only: ActivitiesOnlyOption = False,
) -> None:
    """Write the event log as CSV (RFC 4180).

    One row per event: case id, activity, lifecycle, timestamp, resource, the element, and
    the case's process, version, business key and status.
    """
    _export(
        "csv",
        db,
        output,
        process,
        version,
        status,
        instance,
        since,
        until,
        window,
        activity,
        activities_only,
    )


def _export(
    format: Format,
    db: str,
    output: Path | None,
    process: str | None,
    versions: list[int] | None,
    statuses: list[str] | None,
    instances: list[int] | None,
    since: str | None,
    until: str | None,
    window: str,
    activity: str,
    activities_only: bool,
) -> None:
    chosen = selection(
        process_id=process,
        versions=versions or None,
        statuses=statuses or None,
        instance_keys=instances or None,
        since=_moment("--since", since),
        until=_moment("--until", until),
        # Checked with the rest of the selection (an unknown word is a one-line error).
        window=cast(Window, window),
        activity=cast(ActivityLabel, activity),
        activities_only=activities_only,
    )
    try:
        # With LEGATO_KEYRING, encrypted values are exported decrypted.
        store = encrypted_store(SqlStore(db), None, "sensitive", DeclaredSensitivity())
    except LegatoError as exc:
        _fail(str(exc))
    try:
        target = output if output is not None else sys.stdout.buffer
        summary = export_log(store, target, format, chosen)
    except LegatoError as exc:
        _fail(str(exc))
    finally:
        store.close()
    sys.stdout.flush()
    typer.echo(_said(summary, output), err=True)


def _said(summary: ExportSummary, output: Path | None) -> str:
    where = f" to {output}" if output is not None else ""
    cases = "case" if summary.cases == 1 else "cases"
    events = "event" if summary.events == 1 else "events"
    return f"exported {summary.cases} {cases} and {summary.events} {events}{where}"


def _moment(option: str, text: str | None) -> datetime | None:
    """An ISO 8601 date or date-time; UTC when it names no offset."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        _fail(
            f"{option} {text!r} is not an ISO 8601 date or date-time (e.g. 2024-05-01 or "
            "2024-05-01T08:00:00Z)",
            code=2,
        )
    return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
