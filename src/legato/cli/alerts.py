"""``legato alerts …``, ``legato sla …`` and ``legato webhooks …``: SLA alerts and where
they are posted, from the command line.

```
legato alerts                       # the open alerts
legato alerts --all --json          # resolved ones too, as JSON
legato alerts resolve 4711          # resolve one by hand
legato sla set onboarding PT4H      # expected duration of an instance (every version)
legato sla set onboarding PT30M --element review --version 3 --threshold 3
legato webhooks add https://ops.example.com/legato --secret "$HOOK_SECRET"
legato webhooks list
legato webhooks remove 12
```

Every command works on the database (``--db`` or ``LEGATO_DB``); a serving node sweeps and
posts (see :mod:`legato.runtime.alerting`). Bad input is one line naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import isodate
import typer
from rich.table import Table
from rich.text import Text

from legato.cli.consoles import WideConsole
from legato.cli.values import to_json
from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE, Engine
from legato.runtime.sla import alert_payload
from legato.store.records import ALERT_KINDS, AlertRecord

alerts_app = typer.Typer(help="SLA alerts: overdue instances and elements, error rates, queues.")
sla_app = typer.Typer(help="Expected durations of processes and elements.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhooks that alerts are posted to.", no_args_is_help=True)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

console = WideConsole()


def register(app: typer.Typer) -> None:
    """Add ``alerts``, ``sla`` and ``webhooks`` to the ``legato`` command."""
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(sla_app, name="sla")
    app.add_typer(webhooks_app, name="webhooks")


@contextmanager
def _engine(db: str) -> Iterator[Engine]:
    """An engine on the database, with one clear line instead of a traceback on an error."""
    try:
        with Engine(db, metrics=False, tracing=False) as engine:
            yield engine
    except LegatoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(to_json(value), ensure_ascii=False))


def _alert_row(alert: AlertRecord) -> list[Text]:
    subject = alert.process_id or str(alert.details.get("jobType", ""))
    if alert.version is not None:
        subject += f" v{alert.version}"
    cells = [
        alert.alert_key,
        alert.kind,
        subject,
        alert.instance_key or "",
        alert.element_id or "",
        alert.raised_at.isoformat(timespec="seconds"),
        "open" if alert.resolved_at is None else "resolved",
    ]
    return [Text(str(cell)) for cell in cells]


@alerts_app.callback(invoke_without_command=True)
def alerts(
    ctx: typer.Context,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Resolved alerts too, not only the open ones.")
    ] = False,
    kind: Annotated[
        str | None, typer.Option("--kind", help=f"Only this kind ({', '.join(ALERT_KINDS)}).")
    ] = None,
    process: Annotated[str | None, typer.Option("--process", "-p")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """List the open alerts (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    if kind is not None and kind not in ALERT_KINDS:
        raise typer.BadParameter(f"one of {', '.join(ALERT_KINDS)}", param_hint="--kind")
    with _engine(db) as engine:
        rows = engine.alerts(
            include_resolved=include_resolved, kind=kind, process_id=process, limit=limit
        )
    if as_json:
        _print_json([alert_payload(row, "listed")["alert"] for row in rows])
    elif rows:
        table = Table("alert", "kind", "process", "instance", "element", "raised", "state")
        for row in rows:
            table.add_row(*_alert_row(row))
        console.print(table)
    else:
        console.print("no alerts" if include_resolved else "no open alerts")


@alerts_app.command("resolve")
def resolve(alert_key: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Resolve an alert by hand (webhooks are told; an overdue run is not raised again)."""
    with _engine(db) as engine:
        engine.resolve_alert(alert_key)
    console.print(f"alert {alert_key} resolved")


def _duration(text: str, hint: str) -> Any:
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        value = None
    if value is None or not hasattr(value, "total_seconds") or value.total_seconds() <= 0:
        raise typer.BadParameter(
            f"{text!r} is not a positive ISO 8601 duration (PT1H, P2D)", param_hint=hint
        )
    return value


@sla_app.command("set")
def sla_set(
    process_id: str,
    expected: Annotated[str, typer.Argument(help="ISO 8601 duration: PT1H, P2D.")],
    element: Annotated[
        str | None, typer.Option("--element", "-e", help="A flow element (else the instance).")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="One version (else every version).")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", min=1.0, help="Overdue factor (default 2).")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Set an expected duration (over the model's ``legato:sla``)."""
    duration = _duration(expected, "EXPECTED")
    with _engine(db) as engine:
        engine.set_sla(process_id, element, expected=duration, version=version, threshold=threshold)
    target = f"{process_id}/{element}" if element else process_id
    console.print(f"{target}: expected {expected}")


@sla_app.command("list")
def sla_list(db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False) -> None:
    """List the expected durations set from here or the API."""
    with _engine(db) as engine:
        rows = engine.slas()
    if as_json:
        _print_json(
            [
                {
                    "processId": r.process_id,
                    "version": r.version or None,
                    "elementId": r.element_id or None,
                    "expectedSeconds": r.expected_duration.total_seconds(),
                    "threshold": r.threshold,
                }
                for r in rows
            ]
        )
        return
    table = Table("process", "version", "element", "expected", "threshold")
    for r in rows:
        cells = [
            r.process_id,
            r.version or "all",
            r.element_id or "(instance)",
            isodate.duration_isoformat(r.expected_duration),
            r.threshold or "default",
        ]
        table.add_row(*[Text(str(c)) for c in cells])
    console.print(table)


@sla_app.command("remove")
def sla_remove(
    process_id: str,
    element: Annotated[str | None, typer.Option("--element", "-e")] = None,
    version: Annotated[int | None, typer.Option("--version", min=1)] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Remove an expected duration set from here or the API."""
    with _engine(db) as engine:
        removed = engine.remove_sla(process_id, element, version=version)
    if not removed:
        raise typer.BadParameter("no such expected duration", param_hint="PROCESS_ID")
    console.print("removed")


@webhooks_app.command("add")
def webhooks_add(
    url: str,
    secret: Annotated[
        str | None, typer.Option("--secret", help="HMAC key (a new random one if omitted).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this alert kind; repeatable.")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Post alerts to URL (the secret is printed once)."""
    with _engine(db) as engine:
        hook = engine.add_webhook(url, secret=secret, kinds=kind or None)
    console.print(f"webhook {hook.webhook_key}: {hook.url}")
    if secret is None:
        console.print(f"secret (shown only now): {hook.secret}")


@webhooks_app.command("list")
def webhooks_list(db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False) -> None:
    """List the webhooks (never their secrets)."""
    with _engine(db) as engine:
        rows = engine.webhooks()
    if as_json:
        _print_json(
            [
                {"webhookKey": r.webhook_key, "url": r.url, "kinds": r.kinds, "enabled": r.enabled}
                for r in rows
            ]
        )
        return
    table = Table("webhook", "url", "kinds", "enabled")
    for r in rows:
        cells = [r.webhook_key, r.url, ", ".join(r.kinds or ("all",)), "yes" if r.enabled else "no"]
        table.add_row(*[Text(str(c)) for c in cells])
    console.print(table)


@webhooks_app.command("remove")
def webhooks_remove(webhook_key: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Stop posting to a webhook."""
    with _engine(db) as engine:
        removed = engine.remove_webhook(webhook_key)
    if not removed:
        raise typer.BadParameter(f"no webhook {webhook_key}", param_hint="WEBHOOK_KEY")
    console.print(f"webhook {webhook_key} removed")
