"""``legato audit …``: verify, list, export and prune the audit trail; and the record a
changing command leaves in it (:func:`record_command`).

``legato audit verify`` exits 0 with ``intact: N records, last #seq`` on an intact trail,
and 1 with ``record #k: <what is wrong>`` naming the first record broken (see
:mod:`legato.security.audit_chain`). The commands work on the database directly (``--db``
or ``LEGATO_DB``).
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE
from legato.security.audit import (
    SYSTEM,
    Actor,
    AuditTrail,
    Resource,
    Source,
    audit_query,
    record_json,
)
from legato.security.audit_chain import verify_trail
from legato.store.audit import AuditQuery
from legato.store.ports import Store
from legato.store.sql import SqlStore

audit_app = typer.Typer(
    help="The audit trail: who did what, chained by hash.", no_args_is_help=True
)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
_EXPORT_PAGE = 1000


def register(app: typer.Typer) -> None:
    """Add ``audit`` to the ``legato`` command."""
    app.add_typer(audit_app, name="audit")


def command_actor(by: str | None = None) -> Actor:
    """Who runs a command: ``by`` when given, else the login name (``system`` when there is
    none, as in a bare container)."""
    if by:
        return Actor(by, "user")
    try:
        return Actor(getpass.getuser(), "user")
    except (OSError, KeyError):
        return SYSTEM


def record_command(
    store: Store,
    action: str,
    resource: Resource | None = None,
    details: dict[str, Any] | None = None,
    *,
    by: str | None = None,
) -> None:
    """Record a changing command in the trail (the host as the address, ``legato-cli`` as
    the user agent)."""
    source = Source(socket.gethostname(), "legato-cli")
    AuditTrail(store).record(command_actor(by), action, resource, details=details, source=source)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def _trail(db: str) -> Iterator[AuditTrail]:
    try:
        store = SqlStore(db)
    except LegatoError as exc:
        _fail(str(exc))
    try:
        yield AuditTrail(store)
    except LegatoError as exc:
        _fail(str(exc))
    finally:
        store.close()


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 date: {text!r}", param_hint=option) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@audit_app.command("verify")
def verify(db: DbOption = DEFAULT_DATABASE) -> None:
    """Check the chain: exit 0 when intact, 1 naming the first record broken."""
    with _trail(db) as trail:
        found = verify_trail(trail)
    typer.echo(found.message, err=not found.intact)
    if not found.intact:
        raise typer.Exit(1)


@audit_app.command("list")
def list_records(
    actor: Annotated[str | None, typer.Option(help="A user name or key:<id>.")] = None,
    action: Annotated[
        str | None, typer.Option(help="An action, or a prefix ending in '.' (instance.).")
    ] = None,
    resource: Annotated[
        str | None, typer.Option(help="A resource type (instance) or type:id (instance:42).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="At or after (ISO 8601; UTC if bare).")] = None,
    until: Annotated[str | None, typer.Option(help="Before (ISO 8601; UTC if bare).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """List audit records, newest first."""
    query = audit_query(
        actor=actor,
        action=action,
        resource=resource,
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
        limit=limit,
    )
    with _trail(db) as trail:
        found = trail.records(query)
    for record in found:
        if as_json:
            typer.echo(json.dumps(record_json(record), ensure_ascii=False))
            continue
        target = record.resource_type or "-"
        if record.resource_id is not None:
            target += f":{record.resource_id}"
        when = record.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(
            f"#{record.seq}  {when}  {record.actor}  {record.action}  {target}  {record.outcome}"
        )


@audit_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The JSON lines file to write.")],
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Write every record, oldest first, as JSON lines (one record a line)."""
    count = 0
    with _trail(db) as trail, output.open("w", encoding="utf-8") as sink:
        after = 0
        while page := trail.records(AuditQuery(after_seq=after, limit=_EXPORT_PAGE)):
            for record in page:
                sink.write(json.dumps(record_json(record), ensure_ascii=False) + "\n")
            count += len(page)
            after = page[-1].seq
    typer.echo(f"exported {count} records to {output}")


@audit_app.command("prune")
def prune(
    before: Annotated[str, typer.Option(help="Delete the records older than this date.")],
    force: Annotated[
        bool, typer.Option(help="Prune even when the trail does not verify (it is lost then).")
    ] = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Delete old records; a signed checkpoint at the cut keeps the rest verifiable."""
    cut = _moment(before, "--before")
    assert cut is not None
    with _trail(db) as trail:
        found = verify_trail(trail)
        if not found.intact and not force:
            _fail(f"the trail does not verify ({found.message}); nothing pruned")
        deleted = trail.prune(cut)
        details = {"before": cut.isoformat(), "deleted": deleted}
        trail.record(
            command_actor(), "audit.prune", details=details, source=Source(None, "legato-cli")
        )
    typer.echo(f"pruned {deleted} records older than {cut.isoformat()}")


@audit_app.command("checkpoint")
def checkpoint(db: DbOption = DEFAULT_DATABASE) -> None:
    """Sign the last record now (records removed from the end are then seen)."""
    with _trail(db) as trail:
        made = trail.checkpoint()
    typer.echo("the trail is empty" if made is None else f"signed record #{made.seq}")
