"""``legato simulate``: a what-if simulation of a model on a scenario file.

```
legato simulate onboarding.bpmn --scenario scenario.toml
legato simulate onboarding.bpmn --scenario scenario.toml --compare onboarding-v2.bpmn --json
legato simulate onboarding.bpmn --scenario scenario.toml --db sqlite:///simulated.db
```

With ``--db`` the instances, their history and the analytics facts stay in that database,
for ``legato serve --http --db URL`` to show on the process's dashboard.

A mistake in the scenario is one line naming the file, the line and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from legato.errors import LegatoError
from legato.simulation import (
    SimulationReport,
    compare,
    compare_reports,
    dashboard_path,
    simulate,
)


def register(app: typer.Typer, console: Console, err: Console) -> None:
    """Add ``simulate`` to the ``legato`` command, printing to ``console`` and ``err``."""

    @app.command("simulate")
    def simulate_command(
        model: Annotated[Path, typer.Argument(help="The BPMN file to simulate.")],
        scenario: Annotated[
            Path, typer.Option("--scenario", "-s", help="The scenario file (TOML).")
        ],
        other: Annotated[
            Path | None,
            typer.Option("--compare", help="Another BPMN file to run on the same scenario."),
        ] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", help="Replaces the scenario's seed.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        db: Annotated[
            str | None,
            typer.Option(
                "--db",
                help="Run on this database (SQLite or PostgreSQL URL) and leave the instances "
                "and analytics there, for the web app's dashboards.",
            ),
        ] = None,
        append: Annotated[
            bool,
            typer.Option(
                "--append", help="With --db: add to the process's instances already there."
            ),
        ] = False,
    ) -> None:
        """Run generated instances of a model through the engine on a virtual clock and
        report cycle times, waiting times, resource utilisation, queues and SLA breaches."""
        refused = _refused_options(other, db, append)
        if refused:
            err.print(f"[red]error:[/] {refused}", markup=True, highlight=False)
            raise typer.Exit(2)
        try:
            if other is None:
                reports = [simulate(model, scenario, seed=seed, db=db, append=append)]
            else:
                reports = list(compare(model, other, scenario, seed=seed))
        except LegatoError as exc:
            err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        if as_json:
            payload: dict[str, Any] = {"reports": [r.as_dict() for r in reports]}
            if len(reports) == 2:
                payload["difference"] = compare_reports(reports[0], reports[1])
            if db is not None:
                payload["dashboard"] = dashboard_path(reports[0])
            console.print_json(orjson.dumps(payload).decode())
            return
        for report in reports:
            _print_report(console, report)
        if len(reports) == 2:
            _print_difference(console, compare_reports(reports[0], reports[1]))
        if db is not None:
            console.print(
                f"the instances are in {db}: open the dashboard of {reports[0].process_id} at "
                f"{dashboard_path(reports[0])} after `legato serve --http --db {db}`",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def _refused_options(other: Path | None, db: str | None, append: bool) -> str | None:
    """Why these options do not go together, if they do not."""
    if db is not None and other is not None:
        return (
            "--db cannot be used with --compare: both models' runs would write the same "
            "process's instances into one database over the same simulated days, and its "
            "dashboard could not tell them apart (simulate each model into a database of "
            "its own)"
        )
    if append and db is None:
        return "--append needs --db (the database to add the instances to)"
    return None


def duration_text(seconds: float) -> str:
    """A readable duration: ``2d 3h``, ``4h 05m``, ``12m 30s``, ``8.2s``."""
    if seconds >= 86400:
        return f"{int(seconds // 86400)}d {int(seconds % 86400 // 3600)}h"
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{seconds:.1f}s"


def _signed(seconds: float) -> str:
    return ("-" if seconds < 0 else "+") + duration_text(abs(seconds))


def _print_report(console: Console, report: SimulationReport) -> None:
    console.print(
        f"[bold]{report.model}[/] (process {report.process_id}, seed {report.seed}): "
        f"{report.started_at} to {report.ended_at}",
        highlight=False,
    )
    console.print(
        f"instances: {report.instances_started} started, {report.instances_completed} "
        f"completed, {report.instances_active} still active, {report.incidents} incidents",
        highlight=False,
    )
    cycle = Table("cycle time", "mean", "p50", "p90", "p95", "p99", "max")
    c = report.cycle_time
    cycle.add_row(
        f"{c.count} instances",
        *(duration_text(v) for v in (c.mean, c.p50, c.p90, c.p95, c.p99, c.max)),
    )
    console.print(cycle)
    elements = Table("element", "count", "waiting mean", "waiting max", "work mean", "work max")
    for e in report.elements:
        elements.add_row(
            e.element_id,
            str(e.count),
            duration_text(e.waiting_mean),
            duration_text(e.waiting_max),
            duration_text(e.processing_mean),
            duration_text(e.processing_max),
        )
    console.print(elements)
    if report.pools:
        pools = Table("pool", "size", "utilisation", "busy hours", "queue mean", "queue max")
        for p in report.pools:
            pools.add_row(
                p.name,
                str(p.size),
                f"{p.utilisation:.1%}",
                f"{p.busy_hours:.1f}",
                f"{p.queue_mean:.2f}",
                str(p.queue_max),
            )
        console.print(pools)
    if report.sla:
        sla = Table("SLA", "expected", "measured", "breaches", "share")
        for s in report.sla:
            sla.add_row(
                s.target, duration_text(s.expected), str(s.count), str(s.breaches), f"{s.share:.1%}"
            )
        console.print(sla)


def _print_difference(console: Console, difference: dict[str, Any]) -> None:
    console.print("[bold]difference (second - first)[/]")
    cycle = Table("cycle time", "mean", "p50", "p90", "p95", "p99", "max")
    values = difference["cycle_time"]
    cycle.add_row(
        f"{difference['instances_completed']:+d} completed",
        *(_signed(values[k]) for k in ("mean", "p50", "p90", "p95", "p99", "max")),
    )
    console.print(cycle)
    if difference["elements"]:
        elements = Table("element", "waiting mean", "work mean")
        for element_id, d in difference["elements"].items():
            elements.add_row(element_id, _signed(d["waiting_mean"]), _signed(d["processing_mean"]))
        console.print(elements)
    if difference["pools"]:
        pools = Table("pool", "utilisation", "queue mean", "queue max")
        for name, d in difference["pools"].items():
            pools.add_row(
                name, f"{d['utilisation']:+.1%}", f"{d['queue_mean']:+.2f}", f"{d['queue_max']:+d}"
            )
        console.print(pools)
    if difference["sla"]:
        sla = Table("SLA", "breaches", "share")
        for target, d in difference["sla"].items():
            sla.add_row(target, f"{d['breaches']:+d}", f"{d['share']:+.1%}")
        console.print(sla)
