"""``legato migrate``: move running instances to another process version.

```
legato migrate plan onboarding --from 1 --to 2 --map review=approve -o plan.json
legato migrate check --plan plan.json                  # a dry run over every waiting instance
legato migrate run --plan plan.json --rate 200         # a durable batch, with its progress
legato migrate status                                  # the batches, newest first
legato migrate pause|resume|cancel BATCH
```

A plan comes from the options (process, ``--from``, ``--to``, ``--map``, ``--set``,
``--recreate-timers``) or from a file ``plan`` wrote. ``check`` changes nothing and exits
with 1 when an instance cannot move; ``run`` migrates every active instance of the source
version (or those of ``--instance`` / ``--business-key``) in a batch that resumes after a
crash: it waits for the end unless ``--no-wait`` leaves it to the servers.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from legato.cli.audit import record_command
from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE, Engine
from legato.runtime.migration import MigrationPlan
from legato.runtime.migration_batches import (
    BatchOperation,
    plan_of,
    plan_spec,
    selected_instances,
)
from legato.runtime.types import InstanceFilter
from legato.security.audit import Resource

migrate_app = typer.Typer(
    help="Move running instances to another process version: plan, check, run, status.",
    no_args_is_help=True,
)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
ProcessArgument = Annotated[
    str | None, typer.Argument(help="The process id (not needed with --plan).")
]
FromOption = Annotated[int | None, typer.Option("--from", help="The source version.")]
ToOption = Annotated[int | None, typer.Option("--to", help="The target version.")]
MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", help="SOURCE=TARGET element ids where they differ; repeat."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="NAME=FEEL: a root variable set on each instance; repeat."),
]
RecreateOption = Annotated[
    bool,
    typer.Option("--recreate-timers", help="Set timers whose definition changed anew (from now)."),
]
PlanOption = Annotated[
    Path | None, typer.Option("--plan", help="A plan file written by 'legato migrate plan'.")
]
InstanceOption = Annotated[
    list[int] | None, typer.Option("--instance", "-i", help="Only this instance; repeat.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Add ``migrate`` to the ``legato`` command."""
    app.add_typer(migrate_app, name="migrate")


@migrate_app.command("plan")
def plan_command(
    process: ProcessArgument = None,
    source: FromOption = None,
    target: ToOption = None,
    mappings: MapOption = None,
    variables: SetOption = None,
    recreate_timers: RecreateOption = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the plan to this file.")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Make a plan, its element ids checked against both versions, and print or save it."""
    with _engine(db) as engine:
        plan = _plan(engine, None, process, source, target, mappings, variables, recreate_timers)
    text = json.dumps(plan_spec(plan), indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"plan written to {output}", err=True)


@migrate_app.command("check")
def check_command(
    process: ProcessArgument = None,
    source: FromOption = None,
    target: ToOption = None,
    mappings: MapOption = None,
    variables: SetOption = None,
    recreate_timers: RecreateOption = False,
    plan_file: PlanOption = None,
    instances: InstanceOption = None,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """A dry run: what migrating each instance would do, or why it cannot (nothing changes).
    Exits with 1 when an instance cannot move."""
    with _engine(db) as engine:
        plan = _plan(
            engine, plan_file, process, source, target, mappings, variables, recreate_timers
        )
        keys = instances or _waiting(engine, plan)
        checks = engine.check_migration(plan, keys)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"instanceKey": c.instance_key, "ok": c.ok, "reason": c.reason,
                     "changes": list(c.changes)}
                    for c in checks
                ],
                indent=2,
            )
        )  # fmt: skip
    else:
        for check in checks:
            if check.ok:
                typer.echo(f"{check.instance_key}  ok: {'; '.join(check.changes)}")
            else:
                typer.echo(f"{check.instance_key}  cannot move: {check.reason}")
        refused = sum(not c.ok for c in checks)
        typer.echo(f"{len(checks) - refused} of {len(checks)} instances can move", err=True)
    if any(not c.ok for c in checks):
        raise typer.Exit(1)


@migrate_app.command("run")
def run_command(
    process: ProcessArgument = None,
    source: FromOption = None,
    target: ToOption = None,
    mappings: MapOption = None,
    variables: SetOption = None,
    recreate_timers: RecreateOption = False,
    plan_file: PlanOption = None,
    instances: InstanceOption = None,
    business_key: Annotated[
        str | None, typer.Option("--business-key", help="Only instances with this key.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="At most this many instances per second.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Run the batch here until it ends.")
    ] = True,
    by: Annotated[str | None, typer.Option("--by", help="Who migrates (the history says).")] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Migrate in a durable batch: every active instance of the source version, or those
    chosen; prints the batch key, its progress and the instances that could not move."""
    with _engine(db) as engine:
        plan = _plan(
            engine, plan_file, process, source, target, mappings, variables, recreate_timers
        )
        selection = InstanceFilter(business_key=business_key) if business_key else None
        batch = engine.migrate_in_batch(
            plan, instances, filter=selection, rate=rate, by=by or _user()
        )
        migration = Resource("migration", str(batch.key))
        details = {"total": batch.total}
        record_command(engine.store, "instance.migrate", migration, details, by=by)
        typer.echo(f"batch {batch.key}: {batch.total} instances", err=True)
        if wait:
            batch = _run_with_progress(engine, batch)
            _print_status(engine, batch)
            if batch.failed:
                raise typer.Exit(1)


@migrate_app.command("status")
def status_command(
    batch: Annotated[
        int | None, typer.Argument(help="One batch (all, newest first, if omitted).")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """The batches and their progress; one batch with the instances that could not move."""
    with _engine(db) as engine:
        found = [engine.batch_operation(batch)] if batch is not None else engine.batch_operations()
        if as_json:
            rows = [_batch_json(b, engine.batch_failures(b.key)) for b in found]
            typer.echo(json.dumps(rows[0] if batch is not None else rows, indent=2))
            return
        for operation in found:
            _print_status(engine, operation, failures=batch is not None)


def _control(batch: int, db: str, action: str) -> None:
    with _engine(db) as engine:
        operation = {
            "pause": engine.pause_batch_operation,
            "resume": engine.resume_batch_operation,
            "cancel": engine.cancel_batch_operation,
        }[action](batch)
        migration = Resource("migration", str(batch))
        record_command(engine.store, "instance.migrate", migration, {"control": action})
    typer.echo(f"batch {operation.key}: {operation.status}")


@migrate_app.command("pause")
def pause_command(batch: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Stop a running batch after its current chunk."""
    _control(batch, db, "pause")


@migrate_app.command("resume")
def resume_command(batch: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Go on with a paused batch (the servers, or 'legato migrate run', run it)."""
    _control(batch, db, "resume")


@migrate_app.command("cancel")
def cancel_command(batch: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """End a batch: migrated instances stay migrated, the others where they are."""
    _control(batch, db, "cancel")


# -- helpers --------------------------------------------------------------------------------------


@contextmanager
def _engine(db: str) -> Iterator[Engine]:
    """An engine on the database; a Legato error is one line on standard error."""
    try:
        engine = Engine(db)
    except LegatoError as exc:
        _fail(str(exc))
    try:
        yield engine
    except LegatoError as exc:
        _fail(str(exc))
    finally:
        engine.close()


def _plan(
    engine: Engine,
    plan_file: Path | None,
    process: str | None,
    source: int | None,
    target: int | None,
    mappings: list[str] | None,
    variables: list[str] | None,
    recreate_timers: bool,
) -> MigrationPlan:
    if plan_file is not None:
        if process or source or target or mappings or variables:
            _fail("give --plan or the plan's options (process, --from, --to, --map, --set)", 2)
        try:
            spec: dict[str, Any] = json.loads(plan_file.read_text(encoding="utf-8"))
            stored = plan_of(spec)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _fail(f"{plan_file}: not a migration plan ({exc})", 2)
        # Checked again against the versions as deployed now.
        return engine.migration_plan(
            stored.process_id,
            stored.source_version,
            stored.target_version,
            dict(stored.mappings),
            target_process_id=stored.target_process_id,
            variables=dict(stored.variables),
            recreate_timers=stored.recreate_timers,
        )
    if process is None or source is None or target is None:
        _fail("give the process id, --from and --to (or --plan FILE)", 2)
    return engine.migration_plan(
        process,
        source,
        target,
        _pairs(mappings, "--map"),
        variables=_pairs(variables, "--set"),
        recreate_timers=recreate_timers,
    )


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or ():
        name, sign, rest = value.partition("=")
        if not sign or not name.strip() or not rest.strip():
            _fail(f"{option} {value!r}: write NAME=VALUE", 2)
        pairs[name.strip()] = rest.strip()
    return pairs


def _waiting(engine: Engine, plan: MigrationPlan) -> list[int]:
    """Every active instance of the plan's source version."""
    with engine.store.transaction() as tx:
        return selected_instances(tx, plan, None)


def _run_with_progress(engine: Engine, batch: BatchOperation) -> BatchOperation:
    console = Console(stderr=True)
    columns = (TextColumn("migrating"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("migrating", total=batch.total)
        while batch.status == "running":
            engine.run_batch_operation_chunk(batch.key)
            batch = engine.batch_operation(batch.key)
            progress.update(task, completed=batch.done + batch.failed)
    return batch


def _print_status(engine: Engine, batch: BatchOperation, *, failures: bool = True) -> None:
    typer.echo(
        f"batch {batch.key} ({batch.kind}, {batch.status}): {batch.done} done, "
        f"{batch.failed} failed, {batch.pending} pending of {batch.total}"
        + (f"; by {batch.created_by}" if batch.created_by else "")
    )
    if failures:
        for key, reason in engine.batch_failures(batch.key):
            typer.echo(f"  {key}  {reason}")


def _batch_json(batch: BatchOperation, failures: list[tuple[int, str]]) -> dict[str, Any]:
    return {
        "key": batch.key,
        "kind": batch.kind,
        "status": batch.status,
        "total": batch.total,
        "done": batch.done,
        "failed": batch.failed,
        "pending": batch.pending,
        "rate": batch.rate,
        "createdBy": batch.created_by,
        "createdAt": batch.created_at.isoformat(),
        "endedAt": batch.ended_at.isoformat() if batch.ended_at else None,
        "plan": batch.spec,
        "failures": [{"instanceKey": key, "reason": reason} for key, reason in failures],
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
