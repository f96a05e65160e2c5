"""The ``legato`` command line."""

from __future__ import annotations

import getpass
import importlib.util
import json
import os
import signal as os_signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from legato import dmn, feel
from legato.cli import running
from legato.cli.accounts import keys_app
from legato.cli.accounts import register as register_accounts
from legato.cli.alerts import register as register_alerts
from legato.cli.analytics import register as register_analytics
from legato.cli.audit import record_command
from legato.cli.audit import register as register_audit
from legato.cli.consoles import WideConsole
from legato.cli.database import register as register_database
from legato.cli.encryption import register as register_encryption
from legato.cli.export import register as register_export
from legato.cli.logs import LogFormatOption, json_logs, logging_to_stderr
from legato.cli.migrate import register as register_migrate
from legato.cli.modify import register as register_modify
from legato.cli.sensitive import (
    RevealOption,
    cli_viewer,
    policy_from_env,
    record_reveal,
)
from legato.cli.simulate import register as register_simulate
from legato.cli.values import parse_vars, show, to_json
from legato.cli.versions import register as register_versions
from legato.errors import LegatoError, ValidationIssue
from legato.model import Expression, ProcessDefinition
from legato.runtime import queries
from legato.runtime.engine import DEFAULT_DATABASE, Engine
from legato.runtime.retention import DEFAULT_BATCH_SIZE, parse_age, sweep_ended_instances
from legato.runtime.types import HistoryEntry
from legato.security.audit import Resource
from legato.security.sensitive import Viewer
from legato.store.records import INSTANCE_FILTER_STATUSES, NodeRecord

app = typer.Typer(
    help="Legato: run BPMN processes durably, from the command line.",
    no_args_is_help=True,
    add_completion=False,
)
register_accounts(app)
register_audit(app)
register_alerts(app)
register_export(app)
register_migrate(app)
register_versions(app)
register_database(app)
register_modify(app)
register_analytics(app)
register_encryption(app, keys_app)

console = WideConsole()
err = WideConsole(stderr=True)
register_simulate(app, console, err)


def _cells(*values: object) -> list[Text]:
    """Table cells shown as they are: text from the database is never read as markup
    (a business key ``[/x]`` made rich raise)."""
    return [Text(str(v)) for v in values]


def _plain(value: object) -> str:
    """A value for a line with markup, with its own brackets escaped."""
    return escape(str(value))


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


_MODEL_SUFFIXES = (".form", ".dmn", ".bpmn")
"""What ``deploy DIR`` deploys, in this order: forms and decisions before the processes that
use them."""


def _model_files(paths: list[Path]) -> list[Path]:
    """The files to deploy: each file given, and for a directory its ``.form``, then ``.dmn``,
    then ``.bpmn`` files, by name.

    Raises:
        typer.BadParameter: a path does not exist, or a directory holds no model.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [
                f
                for suffix in _MODEL_SUFFIXES
                for f in sorted(path.iterdir())
                if f.suffix.lower() == suffix and f.is_file()
            ]
            if not found:
                raise typer.BadParameter(f"{path} holds no .bpmn or .dmn file", param_hint="PATHS")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise typer.BadParameter(f"{path} does not exist", param_hint="PATHS")
    return files


StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict", help="Refuse every broken BPMN rule (the default profile is compatible)."
    ),
]


def _engine(db: str, strict: bool = False) -> Engine:
    return Engine(db, validation="strict" if strict else "compatible", policy=policy_from_env())


def _job_types(process: ProcessDefinition) -> list[dict[str, str]]:
    """The constant job types of a process's tasks, by element (shown on deployment)."""
    return [
        {"element_id": element.element_id, "job_type": str(job_type.constant)}
        for element in process.elements.values()
        if (job_type := getattr(element, "job_type", None)) is not None
        and isinstance(job_type, Expression)
        and job_type.is_static
    ]


@app.command()
def deploy(
    paths: Annotated[list[Path], typer.Argument(help="BPMN or DMN files, or directories of them.")],
    db: DbOption = DEFAULT_DATABASE,
    strict: StrictOption = False,
    as_json: JsonOption = False,
    reveal: RevealOption = False,
) -> None:
    """Deploy BPMN and DMN files (a new version per changed process or decision); a directory
    deploys its .dmn files, then its .bpmn files, by name. Lists the job types of the tasks
    and the warnings of the validation profile (with --json, each process carries the
    warnings of its file)."""
    files = _model_files(paths)
    rows: list[dict[str, Any]] = []
    warnings: list[ValidationIssue] = []
    with _engine(db, strict) as engine:
        for file in files:
            deployment = engine.deploy(file)
            warnings += deployment.warnings
            rows += [
                {"kind": "process", "process_id": p.process_id, "version": p.version,
                 "definition_key": p.definition_key, "file": file.name,
                 "job_types": _job_types(p.process),
                 "warnings": [_issue_json(w) for w in deployment.warnings]}
                for p in deployment.processes
            ]  # fmt: skip
            rows += [
                {"kind": "decision", "decision_id": d.decision_id, "version": d.version,
                 "definition_key": d.definition_key, "file": file.name}
                for d in deployment.decisions
            ]  # fmt: skip
        deployed = [f"{r.get('process_id', r.get('decision_id'))} v{r['version']}" for r in rows]
        record_command(engine.store, "definition.deploy", details={"deployed": deployed})
    if as_json:
        _print_json(rows)
        return
    table = Table("kind", "id", "version", "definition key", "file", title="Deployed")
    for row in rows:
        name = row.get("process_id", row.get("decision_id"))
        table.add_row(
            *_cells(row["kind"], name, row["version"], row["definition_key"], row["file"])
        )
    console.print(table)
    jobs = Table("process", "element", "job type", title="Job types")
    for row in rows:
        for job in row.get("job_types", ()):
            jobs.add_row(*_cells(row["process_id"], job["element_id"], job["job_type"]))
    if jobs.row_count:
        console.print(jobs)
    for warning in warnings:
        _print_warning(warning)


def _print_warning(issue: ValidationIssue) -> None:
    where, rule = _plain(issue.location), _plain(issue.rule)
    err.print(f"[yellow]warning:[/] {where}: \\[{rule}] {_plain(issue.message)}")


def _issue_json(issue: ValidationIssue) -> dict[str, Any]:
    location = issue.location
    return {
        "rule": issue.rule,
        "severity": issue.severity,
        "message": issue.message,
        "file": location.file,
        "line": location.line,
        "element_id": location.element_id,
    }


@app.command()
def start(
    process_id: str,
    var: VarOption = None,
    variables: VarsOption = None,
    business_key: Annotated[str | None, typer.Option("--business-key", "-k")] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Starts once per id.")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="This version (not the rollout's).")
    ] = None,
    version_tag: Annotated[
        str | None, typer.Option("--version-tag", help="The version with this tag.")
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
) -> None:
    """Start an instance of a deployed process: of the version given, else of the one the
    rollout rule chooses (``legato rollout``), else of the latest."""
    with _engine(db) as engine:
        info = engine.start(
            process_id,
            parse_vars(var, variables),
            business_key=business_key,
            request_id=request_id,
            version=version,
            version_tag=version_tag,
        )
        record_command(engine.store, "instance.start", Resource("instance", str(info.key)))
        info = engine.masking.instance(Viewer(), info)
    if as_json:
        _print_json(info)
    else:
        console.print(
            f"started instance [bold]{info.key}[/] of {_plain(info.process_id)} v{info.version}: "
            f"{info.status} ({_plain(info.version_reason or 'latest')})"
        )


@app.command()
def run(
    model: Path,
    handlers: Annotated[
        Path | None,
        typer.Option(
            "--handlers", help="A Python file of @legato.handler functions (if it has jobs)."
        ),
    ] = None,
    var: VarOption = None,
    variables: VarsOption = None,
    process: Annotated[
        str | None, typer.Option("--process", help="Process id (default: the file's first).")
    ] = None,
    business_key: Annotated[str | None, typer.Option("--business-key", "-k")] = None,
    count: Annotated[int, typer.Option("--count", "-n", help="How many instances to run.")] = 1,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0,
            help="Seconds to wait at most for the instances' timers and retries.",
        ),
    ] = None,
    db: DbOption = DEFAULT_DATABASE,
    strict: StrictOption = False,
    as_json: JsonOption = False,
    reveal: RevealOption = False,
) -> None:
    """Deploy MODEL, start it, run its jobs with HANDLERS and its timers as they fall due,
    and print the trace.

    Exits 1 when the instance stops at an incident or is cancelled, 3 when it waits for jobs
    that no handler given handles, 4 when --timeout runs out first; 0 when it completed or
    waits for a person or a message.
    """
    values = parse_vars(var, variables)
    deadline = None if timeout is None else time.monotonic() + timeout
    with _engine(db, strict) as engine:
        deployment = engine.deploy(model)
        for warning in deployment.warnings:
            _print_warning(warning)
        if not deployment.processes:
            raise typer.BadParameter(f"{model} has no executable process", param_hint="MODEL")
        if handlers is not None:
            _load_handlers(engine, handlers)
        process_id = process or deployment.processes[0].process_id
        if count > 1:
            code = _run_many(engine, process_id, values, count, deadline, timeout)
        else:
            viewer = cli_viewer(reveal)
            code = _run_one(
                engine, process_id, values, business_key, deadline, timeout, as_json, viewer
            )
            record_reveal(engine, viewer)
    if code:
        raise typer.Exit(code)


def _run_one(
    engine: Engine,
    process_id: str,
    values: dict[str, Any],
    business_key: str | None,
    deadline: float | None,
    timeout: float | None,
    as_json: bool,
    viewer: Viewer,
) -> int:
    info = engine.start(process_id, values, business_key=business_key)
    printed = 0
    if not as_json:
        console.print(f"instance [bold]{info.key}[/] of {_plain(process_id)} v{info.version}")
        printed = _print_trace(engine.history(info.key, viewer=viewer), printed)

    def progress() -> None:
        nonlocal printed
        if not as_json:
            printed = _print_trace(engine.history(info.key, viewer=viewer), printed)

    timed_out = running.drive(engine, [info.key], deadline=deadline, progress=progress)
    final = engine.instance(info.key, viewer=viewer)
    if as_json:
        _print_json({"instance": final, "history": engine.history(info.key, viewer=viewer)})
    else:
        _print_trace(engine.history(info.key, viewer=viewer), printed)
        _print_outcome(engine, final.key, viewer)
    verdict = running.verdict(
        engine, info.key, timed_out=timeout if timed_out else None, viewer=viewer
    )
    for problem in verdict.problems:
        err.print(f"[red]error:[/] {_plain(problem)}")
    return verdict.code


def _run_many(
    engine: Engine,
    process_id: str,
    values: dict[str, Any],
    count: int,
    deadline: float | None,
    timeout: float | None,
) -> int:
    ended_before = queries.count_ended(engine.store)
    keys: list[int] = []
    with Progress(console=console) as progress:
        task = progress.add_task(f"running {count} instances of {process_id}", total=count)
        for start in range(0, count, engine.batch_size):
            size = min(engine.batch_size, count - start)
            keys += [i.key for i in engine.start_many(process_id, [values] * size)]

        def advance() -> None:
            progress.update(task, completed=queries.count_ended(engine.store) - ended_before)

        advance()
        timed_out = running.drive(engine, keys, deadline=deadline, progress=advance)
    done = queries.count_ended(engine.store) - ended_before
    console.print(f"{done} of {count} instances ended")
    verdicts = [
        running.verdict(engine, key, timed_out=timeout if timed_out else None) for key in keys
    ]
    failed = [v for v in verdicts if v.code]
    for verdict in failed[:3]:
        for problem in verdict.problems:
            err.print(f"[red]error:[/] {_plain(problem)}")
    if len(failed) > 3:
        err.print(f"[red]error:[/] and {len(failed) - 3} more instances")
    return min((v.code for v in failed), default=0)


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
        at = entry.at.strftime("%H:%M:%S.%f")[:-3]
        outcome = {
            "ElementCompleted": "[green]completed[/]",
            "ElementTerminated": "[yellow]terminated[/]",
            "IncidentRaised": f"[red]incident:[/] {_plain(entry.details.get('message'))}",
            "JobFailed": f"[yellow]attempt failed:[/] {_plain(entry.details.get('error_message'))}",
            "UserTaskCreated": "[cyan]waiting for a person[/] "
            f"(user task {entry.details.get('user_task_key')})",
            "InstanceCompleted": "[bold green]instance completed[/]",
            "InstanceTerminated": "[bold yellow]instance terminated[/]",
        }[entry.event_type]
        console.print(f"  {at}  {_plain(entry.element_id or ''):<28} {outcome}")
    return len(history)


def _print_outcome(engine: Engine, instance_key: int, viewer: Viewer) -> None:
    info = engine.instance(instance_key, viewer=viewer)
    console.print(f"status: [bold]{info.status}[/]")
    if info.active_elements:
        console.print(f"waiting at: {_plain(', '.join(info.active_elements))}")
    table = Table("variable", "value", title="Variables")
    for name, value in sorted(info.variables.items()):
        table.add_row(*_cells(name, show(value)))
    console.print(table)


def _one_of(allowed: tuple[str, ...]) -> Callable[[str | None], str | None]:
    """An option callback that refuses a value outside ``allowed`` (a filter that matches
    nothing by construction), naming the ones there are."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return check


@app.command()
def instances(
    status: Annotated[
        str | None,
        typer.Option(
            help="active, suspended, completed or terminated",
            callback=_one_of(INSTANCE_FILTER_STATUSES),
        ),
    ] = None,
    process: Annotated[str | None, typer.Option("--process")] = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Only this version of --process.")
    ] = None,
    limit: int = 50,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
    reveal: RevealOption = False,
) -> None:
    """List instances, newest first (with --json their variables, sensitive ones masked
    unless --reveal)."""
    if version is not None and process is None:
        raise typer.BadParameter("--version needs --process", param_hint="--version")
    viewer = cli_viewer(reveal)
    with _engine(db) as engine:
        if version is None:
            rows = engine.instances(status=status, process_id=process, limit=limit, viewer=viewer)
        else:
            page = engine.search_instances(
                process_id=process, version=version, status=status, limit=min(limit, 500)
            )
            rows = [engine.masking.instance(viewer, info) for info in page.instances]
        if as_json:
            record_reveal(engine, viewer)
    if as_json:
        _print_json(rows)
        return
    table = Table(
        "key", "process", "version", "status", "business key", "started", "waiting at", "incidents"
    )
    for r in rows:
        table.add_row(
            *_cells(
                r.key,
                r.process_id,
                r.version,
                r.status,
                r.business_key or "",
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                ", ".join(r.active_elements),
                r.incidents or "",
            )
        )
    console.print(table)


@app.command("show")
def show_instance(
    instance_key: int,
    db: DbOption = DEFAULT_DATABASE,
    as_json: JsonOption = False,
    reveal: RevealOption = False,
) -> None:
    """Show an instance: state, tokens, variables and history (sensitive values masked
    unless --reveal)."""
    viewer = cli_viewer(reveal)
    with _engine(db) as engine:
        info = engine.instance(instance_key, viewer=viewer)
        state = engine.state(instance_key, viewer=viewer)
        history = engine.history(instance_key, viewer=viewer)
        incidents = engine.incidents(instance_key=instance_key, viewer=viewer)
        record_reveal(engine, viewer)
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
        f"instance [bold]{info.key}[/] of {_plain(info.process_id)} v{info.version}: "
        f"[bold]{info.status}[/]"
        + (f"  business key {_plain(info.business_key)}" if info.business_key else "")
    )
    table = Table("element instance", "element", "kind", "scope", "incident", title="Tokens")
    for t in tokens:
        table.add_row(
            *_cells(
                *(
                    t[k] if t[k] is not None else ""
                    for k in (
                        "element_instance_key",
                        "element_id",
                        "kind",
                        "scope_key",
                        "incident_key",
                    )
                )
            )
        )
    console.print(table)
    variables = Table("scope", "variable", "value", title="Variables")
    for scope, scope_vars in state.variables.items():
        for name, value in sorted(scope_vars.items()):
            variables.add_row(*_cells(scope, name, show(value)))
    console.print(variables)
    events = Table("#", "time", "event", "element", title="History")
    for entry in history:
        events.add_row(
            *_cells(
                entry.position,
                entry.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                entry.event_type,
                entry.element_id or "",
            )
        )
    console.print(events)
    _print_incidents(incidents)


def _print_incidents(rows: list[Any]) -> None:
    if not rows:
        return
    table = Table("incident", "instance", "element", "type", "message", title="Incidents")
    for i in rows:
        table.add_row(
            *_cells(i.incident_key, i.instance_key, i.element_id, i.error_type, i.message)
        )
    console.print(table)


@app.command()
def incidents(
    db: DbOption = DEFAULT_DATABASE, as_json: JsonOption = False, reveal: RevealOption = False
) -> None:
    """List open incidents: the manual queue (sensitive values that a message quotes masked
    unless --reveal)."""
    viewer = cli_viewer(reveal)
    with _engine(db) as engine:
        rows = engine.incidents(viewer=viewer)
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
        engine.retry(
            incident_key,
            retries=retries,
            variables=parse_vars(var, variables) or None,
            by=_operator(),
        )
        record_command(engine.store, "incident.retry", Resource("incident", str(incident_key)))
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
            *_cells(
                t.user_task_key,
                t.instance_key,
                t.element_id,
                t.name or "",
                t.assignee or "",
                ", ".join(t.candidate_groups),
                t.due_at.isoformat() if t.due_at else "",
            )
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
        task = Resource("user_task", str(user_task_key))
        record_command(engine.store, "task.complete", task, by=user)
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
        console.print(f"message {_plain(repr(message_id))} was published already")
    elif result.correlated or result.started:
        console.print(
            f"message {_plain(repr(name))} reached {len(result.correlated)} waiting "
            f"instance(s) and started {result.started}"
        )
    elif result.buffered_message_key is not None:
        console.print(f"nobody waits for {_plain(repr(name))} yet: kept for {ttl:g} s")
    else:
        console.print(f"nobody waits for message {_plain(repr(name))}")


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
            f"signal {_plain(repr(name))} reached {len(result.correlated)} waiting element(s) and "
            f"started {result.started} instance(s)"
        )


@app.command()
def cancel(instance_key: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Cancel an instance."""
    with _engine(db) as engine:
        engine.cancel(instance_key, by=_operator())
        record_command(engine.store, "instance.cancel", Resource("instance", str(instance_key)))
    console.print(f"instance {instance_key} cancelled")


@app.command()
def suspend(instance_key: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Suspend an instance: its jobs, timers, messages and user tasks wait until resumed."""
    with _engine(db) as engine:
        engine.suspend(instance_key, by=_operator())
        record_command(engine.store, "instance.suspend", Resource("instance", str(instance_key)))
    console.print(f"instance {instance_key} suspended")


@app.command()
def resume(instance_key: int, db: DbOption = DEFAULT_DATABASE) -> None:
    """Resume a suspended instance."""
    with _engine(db) as engine:
        engine.resume(instance_key, by=_operator())
        record_command(engine.store, "instance.resume", Resource("instance", str(instance_key)))
    console.print(f"instance {instance_key} resumed")


def _operator() -> str | None:
    """Who runs the command (the login name), for the instance's history."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name to be found (a bare container)
        return None


PollOption = Annotated[float, typer.Option(help="Seconds between polls when idle.")]
ConcurrencyOption = Annotated[
    int,
    typer.Option("--concurrency", min=1, help="Handler calls run at once (and jobs held at once)."),
]
GraceOption = Annotated[
    float,
    typer.Option(
        "--grace",
        min=0,
        help="Seconds running handlers get to finish after Ctrl-C or SIGTERM (a second one "
        "exits at once).",
    ),
]
LogJsonOption = Annotated[
    bool, typer.Option("--log-json", help="Log one JSON object per line on stderr.")
]


@app.command()
def serve(
    handlers: Annotated[
        Path | None,
        typer.Option("--handlers", help="A Python file of @legato.handler functions."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", envvar="LEGATO_DB", help="Database URL (SQLite file legato.db by default)."
        ),
    ] = None,
    poll_interval: Annotated[
        float | None, typer.Option(help="Seconds between polls when idle (default 0.5).")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            help="Handler calls run at once (and jobs held at once; default 32).",
        ),
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace",
            min=0,
            help="Seconds running handlers (and with --http, requests) get to finish after "
            "Ctrl-C or SIGTERM (default 30; a second Ctrl-C exits at once).",
        ),
    ] = None,
    log_json: LogJsonOption = False,
    log_format: LogFormatOption = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve the HTTP API too (/v2, /engine-rest, ...).")
    ] = False,
    bind: Annotated[
        str | None,
        typer.Option("--bind", help="With --http: host:port to listen on (127.0.0.1:8080)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="With --http: a TOML file of settings (flags and LEGATO_* win)."
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="With --http: a PEM certificate (HTTPS).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="With --http: the certificate's PEM key.")
    ] = None,
    max_upload_mb: Annotated[
        float | None,
        typer.Option("--max-upload-mb", min=0, help="With --http: the largest upload in MiB (32)."),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="A TOML policy file on sensitive data (variables to mask, detectors); "
            "LEGATO_POLICY too.",
        ),
    ] = None,
    keyring: Annotated[
        str | None,
        typer.Option(
            "--keyring",
            envvar="LEGATO_KEYRING",
            help="Encrypt at rest with the keys of this key file (legato encryption-keys init).",
        ),
    ] = None,
    encryption: Annotated[
        str | None,
        typer.Option(
            "--encryption",
            envvar="LEGATO_ENCRYPTION",
            help="With --keyring: encrypt 'sensitive' values (default) or 'everything'.",
        ),
    ] = None,
) -> None:
    """Run an engine node until stopped (Ctrl-C or SIGTERM): fire timers, expire messages
    and run the jobs of the handlers in FILE. Start several against one PostgreSQL database
    to share the work (`legato nodes` lists them). Failed attempts and new incidents are
    logged, a line each. With --http the node also serves the HTTP API."""
    log_json = json_logs(log_json, log_format)
    if http:
        _serve_http(
            {
                "db": db,
                "bind": bind,
                "handlers": str(handlers) if handlers else None,
                "tls_cert": str(tls_cert) if tls_cert else None,
                "tls_key": str(tls_key) if tls_key else None,
                "max_upload_mb": max_upload_mb,
                "grace": grace,
                "concurrency": concurrency,
                "poll_interval": poll_interval,
                "log_json": log_json or None,
                "policy": str(policy) if policy else None,
                "keyring": keyring,
                "encryption": encryption,
            },
            config,
        )
        return
    if encryption not in (None, "sensitive", "everything"):
        raise typer.BadParameter(
            f"'{encryption}' is not sensitive or everything", param_hint="--encryption"
        )
    mode: Literal["sensitive", "everything"] = (
        "everything" if encryption == "everything" else "sensitive"
    )
    with Engine(
        db or DEFAULT_DATABASE,
        concurrency=concurrency or 32,
        keyring=keyring,
        encryption=mode,
        policy=policy_from_env(policy),
    ) as engine:
        types = _load_handlers(engine, handlers) if handlers else []
        console.print(f"node {engine.worker_name} serving {', '.join(types) or 'timers'}")
        _serve(engine, poll_interval or 0.5, 30.0 if grace is None else grace, log_json)


def _serve_http(flags: dict[str, Any], config_file: Path | None) -> None:
    from legato.api.server import load_config, run_server
    from legato.web import mount

    try:
        settings = load_config(flags, config_file=config_file)
        settings.host_port  # noqa: B018 (checked before anything starts)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    with logging_to_stderr(json_lines=settings.log_json):
        try:
            code = run_server(settings, say=say, extend=mount)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    raise SystemExit(code)


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
    concurrency: ConcurrencyOption = 32,
    grace: GraceOption = 30.0,
    log_json: LogJsonOption = False,
    log_format: LogFormatOption = None,
) -> None:
    """Run the jobs of the handlers in FILE until stopped (Ctrl-C), as an engine node."""
    log_json = json_logs(log_json, log_format)
    with Engine(db, concurrency=concurrency) as engine:
        types = _load_handlers(engine, handlers)
        console.print(f"worker {engine.worker_name} serving {', '.join(types)}")
        if until_idle:
            try:
                with logging_to_stderr(json_lines=log_json):
                    ran = engine.run_until_idle()
            except KeyboardInterrupt:
                err.print("interrupted: the jobs in hand were given back")
                raise SystemExit(130) from None
            console.print(f"{ran} jobs run")
            return
        _serve(engine, poll_interval, grace, log_json)


def _serve(engine: Engine, poll_interval: float, grace: float, log_json: bool) -> None:
    # Ctrl-C and SIGTERM (a service manager, a container stop) stop the node gracefully: no
    # new work, running handlers get `grace` seconds, their outcomes are committed, the jobs
    # still held are given back without charging an attempt, and the node says goodbye in
    # the nodes table. A second signal exits at once (the jobs in hand are given back).
    signals = (os_signal.SIGINT, os_signal.SIGTERM)
    received = 0

    def on_signal(number: int, frame: object) -> None:
        nonlocal received
        received += 1
        if received > 1:
            raise KeyboardInterrupt
        # Not through rich: the main thread may be printing when the signal arrives.
        notice = f"stopping: running handlers get {grace:g} s (again to exit at once)\n"
        os.write(2, notice.encode())
        engine.stop()

    previous = {number: os_signal.signal(number, on_signal) for number in signals}
    try:
        with logging_to_stderr(json_lines=log_json):
            engine.serve(poll_interval=poll_interval, shutdown_grace=timedelta(seconds=grace))
    except KeyboardInterrupt:
        err.print("interrupted: the jobs in hand were given back")
        raise SystemExit(130) from None
    finally:
        for number, handler in previous.items():
            os_signal.signal(number, handler)
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
    table = Table(
        "node", "host", "pid", "status", "heartbeat", "load", "jobs", "timers", "abandoned", "since"
    )
    for r in rows:
        table.add_row(
            *_cells(
                r.node_id,
                r.host,
                r.pid,
                r.status,
                f"{_age(now, r):.0f} s ago",
                f"{r.load:.0%}",
                r.jobs_done,
                r.timers_fired,
                r.abandoned,
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
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
    """Evaluate a decision of a DMN file and show which rules matched.

    The inputs are visible to every decision as process variables are to a business rule
    task, so a decision that reads them without declaring input data works. A decision that
    fails prints its errors and no value, and exits 1.
    """
    values = parse_vars(None, inputs, stored=False)
    result = dmn.load(model).evaluate(decision, values, context=values)
    failed = bool(result.errors)
    if as_json:
        _print_json(
            {
                "decision": result.name,
                "value": None if failed else result.value,
                "matched_rules": [
                    {"table": m.table, "rule": m.rule_id, "index": m.index}
                    for m in result.matched_rules
                ],
                "errors": list(result.errors),
            }
        )
    elif not failed:
        console.print(f"[bold]{_plain(result.name)}[/] = {_plain(show(result.value))}")
        for match in result.matched_rules:
            rule = _plain(match.rule_id or "-")
            console.print(f"  matched {_plain(match.table)} rule {match.index} ({rule})")
    if failed:
        for error in result.errors:
            err.print(f"[red]error:[/] {_plain(error)}")
        err.print(f"{_plain(result.name)}: no value, the decision failed")
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
        err.print(f"[red]error:[/] {_plain(exc)}")
        raise SystemExit(2) from None
    try:
        result = compiled.evaluate_detailed(parse_vars(None, context, stored=False))
    except feel.FeelLimitError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None
    if as_json:
        _print_json({"value": result.value, "warnings": result.warnings})
    else:
        console.print(show(result.value), markup=False)
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/] {_plain(warning)}")


def main() -> None:
    """Entry point of the ``legato`` script: clear one-line errors instead of tracebacks."""
    try:
        app()
    except LegatoError as exc:
        err.print(f"[red]error:[/] {_plain(exc)}")
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
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal",
            help="Archive sensitive variables unmasked (recorded in the audit trail).",
        ),
    ] = False,
) -> None:
    """Delete completed and terminated instances older than an age, with all their rows
    (the archive holds sensitive values masked unless --reveal)."""
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    with _engine(db) as engine:
        report = sweep_ended_instances(
            engine.store,
            age,
            archive=archive,
            batch_size=batch,
            now=engine.clock.now(),
            masking=None if reveal else engine.masking,
        )
        if reveal and archive is not None and report.archived:
            details = {"archive": str(archive), "instances": report.archived}
            record_command(engine.store, "value.reveal", None, details)
    if as_json:
        _print_json(asdict(report))
        return
    if report.busy:
        err.print("[yellow]another node is sweeping; stopped[/]")
    where = f", archived to {archive}" if archive is not None else ""
    console.print(f"deleted {report.deleted} instances in {report.batches} batches{where}")
