"""The ``legato`` command line."""

from __future__ import annotations

import importlib.util
import json
import signal as os_signal
import sys
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from legato import dmn, feel
from legato.cli.values import parse_vars, show, to_json
from legato.errors import LegatoError
from legato.runtime.engine import DEFAULT_DATABASE, Engine
from legato.runtime.retention import DEFAULT_BATCH_SIZE, parse_age, sweep_ended_instances
from legato.runtime.types import HistoryEntry
from legato.store.records import NodeRecord

app = typer.Typer(
    help="Legato: run BPMN processes durably, from the command line.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="LEGATO_DB", help="Database URL (SQLite file by default)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
VarOption = Annotated[
    list[str] | None,
    typer.Option("--var", "-v", help="A variable NAME=VALUE (VALUE as JSON if it parses)."),
]
VarsOption = Annotated[str | None, typer.Option("--vars", help="Variables as a JSON object.")]


def _engine(db: str) -> Engine:
    return Engine(db)


def _load_handlers(engine: Engine, path: Path) -> list[str]:
    if not path.exists():
        raise typer.BadParameter(f"handlers file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"legato_handlers_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise typer.BadParameter(f"cannot load handlers from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    registered = engine.register_module(module)
    if not registered:
        raise typer.BadParameter(f"{path} marks no function with @legato.handler(...)")
    return registered


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(to_json(value), ensure_ascii=False))


@app.command()
def deploy(files: list[Path], db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False) -> None:
    """Deploy BPMN files (a new version per changed process)."""
    with _engine(db) as engine:
        rows = []
        for file in files:
            deployment = engine.deploy(file)
            rows += [
                (p.process_id, p.version, p.definition_key, file.name) for p in deployment.processes
            ]
    if as_json:
        _print_json(
            [
                dict(zip(("process_id", "version", "definition_key", "file"), r, strict=True))
                for r in rows
            ]
        )
        return
    table = Table("process", "version", "definition key", "file", title="Deployed")
    for row in rows:
        table.add_row(*(str(c) for c in row))
    console.print(table)


@app.command()
def start(
    process_id: str,
    var: VarOption = None,
    variables: VarsOption = None,
    business_key: Annotated[str | None, typer.Option("--business-key", "-k")] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Starts once per id.")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Start an instance of a deployed process."""
    with _engine(db) as engine:
        info = engine.start(
            process_id, parse_vars(var, variables), business_key=business_key, request_id=request_id
        )
    if as_json:
        _print_json(info)
    else:
        console.print(
            f"started instance [bold]{info.key}[/] of {info.process_id} v{info.version}: "
            f"{info.status}"
        )


@app.command()
def run(
    model: Path,
    handlers: Annotated[
        Path, typer.Option("--handlers", help="A Python file of @legato.handler functions.")
    ],
    var: VarOption = None,
    variables: VarsOption = None,
    process: Annotated[
        str | None, typer.Option("--process", help="Process id (default: the file's first).")
    ] = None,
    business_key: Annotated[str | None, typer.Option("--business-key", "-k")] = None,
    count: Annotated[int, typer.Option("--count", "-n", help="How many instances to run.")] = 1,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Deploy MODEL, start it, run its jobs with HANDLERS and print the trace."""
    with _engine(db) as engine:
        deployment = engine.deploy(model)
        _load_handlers(engine, handlers)
        process_id = process or deployment.processes[0].process_id
        values = parse_vars(var, variables)
        if count > 1:
            _run_many(engine, process_id, values, count)
            return
        info = engine.start(process_id, values, business_key=business_key)
        printed = 0
        if not as_json:
            console.print(f"instance [bold]{info.key}[/] of {process_id} v{info.version}")
            printed = _print_trace(engine.history(info.key), printed)
        while engine.run_once() or _wait_for_retry(engine):
            if not as_json:
                printed = _print_trace(engine.history(info.key), printed)
        final = engine.instance(info.key)
        if as_json:
            _print_json({"instance": final, "history": engine.history(info.key)})
            return
        _print_trace(engine.history(info.key), printed)
        _print_outcome(engine, final.key)


def _wait_for_retry(engine: Engine) -> bool:
    with engine.store.transaction() as tx:
        due = tx.next_job_due_at(engine.job_types)
    if due is None:
        return False
    engine.clock.sleep(max((due - engine.clock.now()).total_seconds(), 0.0))
    return True


def _ended(engine: Engine) -> int:
    with engine.store.transaction() as tx:
        return tx.count_instances(status="completed") + tx.count_instances(status="terminated")


def _run_many(engine: Engine, process_id: str, values: dict[str, Any], count: int) -> None:
    ended_before = _ended(engine)
    with Progress(console=console) as progress:
        task = progress.add_task(f"running {count} instances of {process_id}", total=count)
        for start in range(0, count, engine.batch_size):
            size = min(engine.batch_size, count - start)
            engine.start_many(process_id, [values] * size)
        done = _ended(engine) - ended_before
        progress.update(task, completed=done)
        while done < count and (engine.run_once() or _wait_for_retry(engine)):
            done = _ended(engine) - ended_before
            progress.update(task, completed=done)
    console.print(f"{done} of {count} instances ended")


_SHOWN = {
    "ElementCompleted",
    "ElementTerminated",
    "IncidentRaised",
    "JobFailed",
    "UserTaskCreated",
    "InstanceCompleted",
    "InstanceTerminated",
}


def _print_trace(history: list[HistoryEntry], printed: int) -> int:
    for entry in history[printed:]:
        if entry.event_type not in _SHOWN:
            continue
        time = entry.at.strftime("%H:%M:%S.%f")[:-3]
        outcome = {
            "ElementCompleted": "[green]completed[/]",
            "ElementTerminated": "[yellow]terminated[/]",
            "IncidentRaised": f"[red]incident:[/] {entry.details.get('message')}",
            "JobFailed": f"[yellow]attempt failed:[/] {entry.details.get('error_message')}",
            "UserTaskCreated": "[cyan]waiting for a person[/] "
            f"(user task {entry.details.get('user_task_key')})",
            "InstanceCompleted": "[bold green]instance completed[/]",
            "InstanceTerminated": "[bold yellow]instance terminated[/]",
        }[entry.event_type]
        console.print(f"  {time}  {entry.element_id or '':<28} {outcome}")
    return len(history)


def _print_outcome(engine: Engine, instance_key: int) -> None:
    info = engine.instance(instance_key)
    console.print(f"status: [bold]{info.status}[/]")
    if info.active_elements:
        console.print(f"waiting at: {', '.join(info.active_elements)}")
    table = Table("variable", "value", title="Variables")
    for name, value in sorted(info.variables.items()):
        table.add_row(name, show(value))
    console.print(table)


@app.command()
def instances(
    status: Annotated[str | None, typer.Option(help="active, completed or terminated")] = None,
    process: Annotated[str | None, typer.Option("--process")] = None,
    limit: int = 50,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """List instances, newest first."""
    with _engine(db) as engine:
        rows = engine.instances(status=status, process_id=process, limit=limit)
    if as_json:
        _print_json(rows)
        return
    table = Table(
        "key", "process", "version", "status", "business key", "started", "waiting at", "incidents"
    )
    for r in rows:
        table.add_row(
            str(r.key),
            r.process_id,
            str(r.version),
            r.status,
            r.business_key or "",
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            ", ".join(r.active_elements),
            str(r.incidents or ""),
        )
    console.print(table)


@app.command("show")
def show_instance(
    instance_key: int, db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False
) -> None:
    """Show an instance: state, tokens, variables and history."""
    with _engine(db) as engine:
        info = engine.instance(instance_key)
        state = engine.state(instance_key)
        history = engine.history(instance_key)
        incidents = engine.incidents(instance_key=instance_key)
    tokens = [
        {
            "element_instance_key": e.key,
            "element_id": e.element_id,
            "kind": e.kind,
            "scope_key": e.parent_key,
            "incident_key": e.incident_key,
        }
        for e in state.elements.values()
        if e.parent_key is not None
    ]
    if as_json:
        _print_json(
            {
                "instance": info,
                "tokens": tokens,
                "history": history,
                "incidents": incidents,
                "scopes": {str(k): v for k, v in state.variables.items()},
            }
        )
        return
    console.print(
        f"instance [bold]{info.key}[/] of {info.process_id} v{info.version}: [bold]{info.status}[/]"
        + (f"  business key {info.business_key}" if info.business_key else "")
    )
    table = Table("element instance", "element", "kind", "scope", "incident", title="Tokens")
    for t in tokens:
        table.add_row(
            *(
                str(t[k] if t[k] is not None else "")
                for k in ("element_instance_key", "element_id", "kind", "scope_key", "incident_key")
            )
        )
    console.print(table)
    variables = Table("scope", "variable", "value", title="Variables")
    for scope, scope_vars in state.variables.items():
        for name, value in sorted(scope_vars.items()):
            variables.add_row(str(scope), name, show(value))
    console.print(variables)
    events = Table("#", "time", "event", "element", title="History")
    for entry in history:
        events.add_row(
            str(entry.position),
            entry.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            entry.event_type,
            entry.element_id or "",
        )
    console.print(events)
    _print_incidents(incidents)


def _print_incidents(rows: list[Any]) -> None:
    if not rows:
        return
    table = Table("incident", "instance", "element", "type", "message", title="Incidents")
    for i in rows:
        table.add_row(
            str(i.incident_key), str(i.instance_key), i.element_id, i.error_type, i.message
        )
    console.print(table)


@app.command()
def incidents(db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False) -> None:
    """List open incidents: the manual queue."""
    with _engine(db) as engine:
        rows = engine.incidents()
    if as_json:
        _print_json(rows)
    elif rows:
        _print_incidents(rows)
    else:
        console.print("no open incidents")


@app.command()
def retry(
    incident_key: int,
    retries: Annotated[
        int | None, typer.Option(help="New attempts for a failed job (default 1).")
    ] = None,
    var: VarOption = None,
    variables: VarsOption = None,
    handlers: Annotated[
        Path | None, typer.Option("--handlers", help="Run the jobs afterwards.")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Resolve an incident (after fixing variables) and try again."""
    with _engine(db) as engine:
        engine.retry(incident_key, retries=retries, variables=parse_vars(var, variables) or None)
        console.print(f"incident {incident_key} resolved; retrying")
        if handlers is not None:
            _load_handlers(engine, handlers)
            engine.run_until_idle()


@app.command()
def tasks(
    assignee: str | None = None,
    group: Annotated[str | None, typer.Option("--group")] = None,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """List open user tasks."""
    with _engine(db) as engine:
        rows = engine.user_tasks(assignee=assignee, candidate_group=group)
    if as_json:
        _print_json(rows)
        return
    table = Table("task", "instance", "element", "name", "assignee", "groups", "due")
    for t in rows:
        table.add_row(
            str(t.user_task_key),
            str(t.instance_key),
            t.element_id,
            t.name or "",
            t.assignee or "",
            ", ".join(t.candidate_groups),
            t.due_at.isoformat() if t.due_at else "",
        )
    console.print(table)


@app.command()
def complete(
    user_task_key: int,
    var: VarOption = None,
    variables: VarsOption = None,
    user: Annotated[str | None, typer.Option("--user")] = None,
    handlers: Annotated[
        Path | None, typer.Option("--handlers", help="Run the jobs afterwards.")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
) -> None:
    """Complete a user task."""
    with _engine(db) as engine:
        engine.complete_user_task(user_task_key, parse_vars(var, variables), user=user)
        console.print(f"user task {user_task_key} completed")
        if handlers is not None:
            _load_handlers(engine, handlers)
            engine.run_until_idle()


@app.command()
def publish(
    name: str,
    correlation_key: Annotated[
        str | None, typer.Option("--key", "-k", help="Correlation key.")
    ] = None,
    var: VarOption = None,
    variables: VarsOption = None,
    ttl: Annotated[float, typer.Option("--ttl", help="Seconds to keep it if nobody waits.")] = 0,
    message_id: Annotated[str | None, typer.Option("--id", help="Publish once per id.")] = None,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Publish a message to the instances waiting for it (or start a process)."""
    with _engine(db) as engine:
        result = engine.publish_message(
            name,
            correlation_key,
            parse_vars(var, variables),
            time_to_live=timedelta(seconds=ttl),
            message_id=message_id,
        )
    if as_json:
        _print_json(result)
    elif result.duplicate:
        console.print(f"message {message_id!r} was published already")
    elif result.correlated or result.started:
        console.print(
            f"message {name!r} reached {len(result.correlated)} waiting instance(s) and "
            f"started {result.started}"
        )
    elif result.buffered_message_key is not None:
        console.print(f"nobody waits for {name!r} yet: kept for {ttl:g} s")
    else:
        console.print(f"nobody waits for message {name!r}")


@app.command()
def signal(
    name: str,
    var: VarOption = None,
    variables: VarsOption = None,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Broadcast a signal to every element waiting for it."""
    with _engine(db) as engine:
        result = engine.broadcast_signal(name, parse_vars(var, variables))
    if as_json:
        _print_json(result)
    else:
        console.print(
            f"signal {name!r} reached {len(result.correlated)} waiting element(s) and "
            f"started {result.started} instance(s)"
        )


@app.command()
def cancel(instance_key: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Cancel an instance."""
    with _engine(db) as engine:
        engine.cancel(instance_key)
    console.print(f"instance {instance_key} cancelled")


PollOption = Annotated[float, typer.Option(help="Seconds between polls when idle.")]


@app.command()
def serve(
    handlers: Annotated[
        Path | None,
        typer.Option("--handlers", help="A Python file of @legato.handler functions."),
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
    poll_interval: PollOption = 0.5,
) -> None:
    """Run an engine node until stopped (Ctrl-C or SIGTERM): fire timers, expire messages
    and run the jobs of the handlers in FILE. Start several against one PostgreSQL database
    to share the work (`legato nodes` lists them)."""
    with _engine(db) as engine:
        types = _load_handlers(engine, handlers) if handlers else []
        console.print(f"node {engine.worker_name} serving {', '.join(types) or 'timers'}")
        _serve(engine, poll_interval)


@app.command()
def worker(
    handlers: Annotated[
        Path, typer.Option("--handlers", help="A Python file of @legato.handler functions.")
    ],
    db: DbOption = DEFAULT_DATABASE,
    poll_interval: PollOption = 0.5,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop when nothing is left.")
    ] = False,
) -> None:
    """Run the jobs of the handlers in FILE until stopped (Ctrl-C), as an engine node."""
    with _engine(db) as engine:
        types = _load_handlers(engine, handlers)
        console.print(f"worker {engine.worker_name} serving {', '.join(types)}")
        if until_idle:
            console.print(f"{engine.run_until_idle()} jobs run")
            return
        _serve(engine, poll_interval)


def _serve(engine: Engine, poll_interval: float) -> None:
    # SIGTERM (a service manager, a container stop) ends the node like Ctrl-C: the batch in
    # hand is finished and committed, and the node says goodbye in the nodes table.
    previous = os_signal.signal(os_signal.SIGTERM, lambda *_: engine.stop())
    try:
        engine.serve(poll_interval=poll_interval)
    except KeyboardInterrupt:
        pass
    finally:
        os_signal.signal(os_signal.SIGTERM, previous)
    console.print("stopped")


@app.command()
def nodes(db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False) -> None:
    """List the engine nodes of the database with their heartbeat, status and load."""
    with _engine(db) as engine:
        rows = engine.nodes()
        now = engine.clock.now()
    if as_json:
        _print_json([{**to_json(asdict(r)), "seconds_since_heartbeat": _age(now, r)} for r in rows])
        return
    table = Table("node", "host", "pid", "status", "heartbeat", "load", "jobs", "timers", "since")
    for r in rows:
        table.add_row(
            r.node_id,
            r.host,
            str(r.pid),
            r.status,
            f"{_age(now, r):.0f} s ago",
            f"{r.load:.0%}",
            str(r.jobs_done),
            str(r.timers_fired),
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


def _age(now: datetime, node: NodeRecord) -> float:
    return round(max((now - node.heartbeat_at).total_seconds(), 0.0), 1)


@app.command()
def decide(
    model: Path,
    decision: Annotated[str, typer.Option("--decision", "-d", help="Decision name or id.")],
    inputs: Annotated[str, typer.Option("--input", "-i", help="Inputs as a JSON object.")] = "{}",
    as_json: JsonOption = False,
) -> None:
    """Evaluate a decision of a DMN file and show which rules matched."""
    values = parse_vars(None, inputs)
    result = dmn.load(model).evaluate(decision, values)
    if as_json:
        _print_json(
            {
                "decision": result.name,
                "value": result.value,
                "matched_rules": [
                    {"table": m.table, "rule": m.rule_id, "index": m.index}
                    for m in result.matched_rules
                ],
                "errors": list(result.errors),
            }
        )
    else:
        console.print(f"[bold]{result.name}[/] = {show(result.value)}")
        for match in result.matched_rules:
            console.print(f"  matched {match.table} rule {match.index} ({match.rule_id or '-'})")
        for error in result.errors:
            err.print(f"[red]error:[/] {error}")
    if result.errors:
        raise SystemExit(1)


@app.command("feel")
def feel_command(
    expression: str,
    context: Annotated[str, typer.Option("--context", "-c", help="Variables as JSON.")] = "{}",
    as_json: JsonOption = False,
) -> None:
    """Evaluate one FEEL expression."""
    try:
        compiled = feel.compile(expression)
    except feel.FeelSyntaxError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(2) from None
    try:
        result = compiled.evaluate_detailed(parse_vars(None, context))
    except feel.FeelLimitError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None
    if as_json:
        _print_json({"value": result.value, "warnings": result.warnings})
    else:
        console.print(show(result.value))
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/] {warning}")


def main() -> None:
    """Entry point of the ``legato`` script: clear one-line errors instead of tracebacks."""
    try:
        app()
    except LegatoError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None


@app.command()
def retention(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete instances that ended longer ago than this: 30d, 12h, 90m, 2w.",
        ),
    ],
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive", help="First append each instance and its history to this JSON-lines file."
        ),
    ] = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Instances per transaction.")
    ] = DEFAULT_BATCH_SIZE,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Delete completed and terminated instances older than an age, with all their rows."""
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    with _engine(db) as engine:
        report = sweep_ended_instances(
            engine.store, age, archive=archive, batch_size=batch, now=engine.clock.now()
        )
    if as_json:
        _print_json(asdict(report))
        return
    if report.busy:
        err.print("[yellow]another node is sweeping; stopped[/]")
    where = f", archived to {archive}" if archive is not None else ""
    console.print(f"deleted {report.deleted} instances in {report.batches} batches{where}")
