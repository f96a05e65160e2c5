"""Event log export benchmark: XES and CSV of a million events from SQLite.

A SQLite file is filled with ``--events`` log events' worth of history in the shape the
executor writes (a chunk per command: each instance runs ``--tasks`` service tasks in
sequence, a job completion per task, so a start and an end event per element), then the
whole log is exported with ``legato.analytics`` as XES, as gzip-compressed XES and as CSV.
Reported per format: wall and CPU time, events per second, the size written, the resident
set size's growth, and in a second run under ``tracemalloc`` the peak of Python's
allocations (what the export holds at once; tracemalloc slows the run, so it is timed
apart). Every export is checked: the number of cases and events written is the number made.

Run from the repository root::

    .venv/bin/python bench/export.py                      # full run, writes RESULTS.md
    .venv/bin/python bench/export.py --events 100000 --no-write   # quick check

The results replace the section "Event log export (XES, CSV)" of ``bench/RESULTS.md``
unless ``--no-write`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import os
import shlex
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _report import REPO, machine_facts, publish, version_of

from legato.analytics import ExportSummary, export_csv, export_xes
from legato.store.records import DefinitionRecord, HistoryChunk, InstanceRecord
from legato.store.sql import SqlStore

SECTION_TITLE = "Event log export (XES, CSV)"
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _model(tasks: int) -> str:
    elements = "".join(
        f'<bpmn:serviceTask id="t{i}" name="Task {i}"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="work"/></bpmn:extensionElements></bpmn:serviceTask>'
        for i in range(tasks)
    )
    ids = ["s", *(f"t{i}" for i in range(tasks)), "e"]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}"/>'
        for n, (a, b) in enumerate(itertools.pairwise(ids))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">'
        '<bpmn:process id="bench" isExecutable="true"><bpmn:startEvent id="s" name="Start"/>'
        f'{elements}<bpmn:endEvent id="e" name="End"/>{flows}</bpmn:process>'
        "</bpmn:definitions>"
    )


def _history(key: int, started: dt.datetime, tasks: int) -> list[HistoryChunk]:
    """One run of the sequence as the executor records it: a chunk per command."""
    chunks: list[HistoryChunk] = []
    position = 1
    events: list[list[Any]] = [["InstanceCreated", None, {"instance_key": key}]]
    element_key = key * 1000
    elements = ["s", *(f"t{i}" for i in range(tasks)), "e"]
    for step, element_id in enumerate(elements):
        kind = {"s": "startEvent", "e": "endEvent"}.get(element_id, "serviceTask")
        element_key += 1
        events.append(
            [
                "ElementActivated",
                element_id,
                {
                    "key": element_key,
                    "element_id": element_id,
                    "element_kind": kind,
                    "parent_key": key,
                    "flow_id": None,
                    "loop_counter": 0,
                    "is_mi_body": False,
                },
            ]
        )
        if kind == "serviceTask":
            events.append(["JobCreated", element_id, {"job_key": element_key + 500}])
            chunks.append(HistoryChunk(key, position, started + dt.timedelta(minutes=step), events))
            position += len(events)
            events = [["JobCompleted", None, {"job_key": element_key + 500, "variables": {}}]]
        events.append(
            ["ElementCompleted", element_id, {"key": element_key, "element_id": element_id}]
        )
    events.append(["InstanceCompleted", None, {}])
    chunks.append(
        HistoryChunk(key, position, started + dt.timedelta(minutes=len(elements)), events)
    )
    return chunks


def fill(store: SqlStore, instances: int, tasks: int) -> None:
    with store.transaction() as tx:
        tx.insert_definition(
            DefinitionRecord(1, "bench", 1, "bench.bpmn", _model(tasks), "bench-1", T0)
        )
    for first in range(0, instances, 1000):
        keys = range(first + 1000, min(first + 1000, instances) + 1000)
        with store.transaction() as tx:
            tx.insert_instances(
                [
                    InstanceRecord(
                        key,
                        1,
                        "bench",
                        1,
                        "completed",
                        f"order-{key}",
                        T0 + dt.timedelta(seconds=key),
                        T0 + dt.timedelta(seconds=key, hours=1),
                        {},
                    )
                    for key in keys
                ]
            )
            tx.append_history_chunks(
                [c for k in keys for c in _history(k, T0 + dt.timedelta(seconds=k), tasks)]
            )


def rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


@dataclass
class Run:
    name: str
    seconds: float
    cpu: float
    size: int
    rss_growth: float
    peak: int
    summary: ExportSummary


def measure(
    name: str,
    export: Callable[..., ExportSummary],
    store: SqlStore,
    target: Path,
    expected: tuple[int, int],
) -> Run:
    gc.collect()
    rss = rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    summary = export(store, target)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    growth = rss_mb() - rss
    size = target.stat().st_size
    tracemalloc.start()
    try:
        traced = export(store, target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    for made in (summary, traced):
        if (made.cases, made.events) != expected:
            raise SystemExit(f"{name}: wrote {made}, expected {expected}")
    return Run(name, wall, cpu, size, growth, peak, summary)


def report(
    command: str,
    date: str,
    machine: dict[str, str],
    args: argparse.Namespace,
    instances: int,
    fill_seconds: float,
    database_mb: float,
    runs: list[Run],
) -> str:
    events = runs[0].summary.events
    lines = [
        f"## {SECTION_TITLE}",
        "",
        f"- Command: `{command}` (from the repository root)",
        f"- Date: {date}",
        *(f"- {name}: {value}" for name, value in machine.items()),
        f"- Data: {instances:,} completed instances of a process of {args.tasks} service tasks "
        f"in sequence, {events:,} log events (a start and an end per element); history in the "
        "executor's shape (a row per command), written straight into a SQLite file "
        f"({database_mb:,.0f} MiB) in {fill_seconds:.1f} s.",
        f"- Load average (1 min) at the end: {os.getloadavg()[0]:.1f} (the machine is shared).",
        "",
        "| Format | Events | Seconds | CPU seconds | Events/s | Written (MiB) | RSS growth (MiB) "
        "| tracemalloc peak (MiB) | Peak / text written |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    text_size = 0
    for run in runs:
        # The compressed file's text is the XES written before it.
        text_size = text_size if run.name.endswith("gzip") else run.size
        lines.append(
            f"| {run.name} | {run.summary.events:,} | {run.seconds:.1f} | {run.cpu:.1f} | "
            f"{run.summary.events / run.seconds:,.0f} | {run.size / 2**20:,.1f} | "
            f"{run.rss_growth:.1f} | {run.peak / 2**20:.2f} | {run.peak / text_size:.2%} |"
        )
    lines += [
        "",
        "Every export wrote every case and event (checked). The export reads 100 instances and "
        "then their history 200 rows at a time, each page in a transaction of its own, so the "
        "peak stays a few MiB whatever the size of the log.",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="log events to make")
    parser.add_argument("--tasks", type=int, default=10, help="service tasks per instance")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print, do not write")
    args = parser.parse_args(argv)
    if args.events < 1 or args.tasks < 1:
        parser.error("--events and --tasks must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    command = shlex.join(["python", "bench/export.py", *raw])
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_facts({"SQLAlchemy": version_of("SQLAlchemy"), "lxml": version_of("lxml")})
    per_instance = 2 * (args.tasks + 2)
    instances = -(-args.events // per_instance)
    with tempfile.TemporaryDirectory(prefix="legato-export-") as folder:
        path = Path(folder) / "export.db"
        store = SqlStore(f"sqlite:///{path}", synchronous="OFF")
        try:
            print(f"filling {instances:,} instances ...", flush=True)
            started = time.perf_counter()
            fill(store, instances, args.tasks)
            fill_seconds = time.perf_counter() - started
            database_mb = path.stat().st_size / 2**20
            expected = (instances, instances * per_instance)
            runs = []
            for name, export, suffix in (
                ("XES", export_xes, ".xes"),
                ("XES, gzip", export_xes, ".xes.gz"),
                ("CSV", export_csv, ".csv"),
            ):
                print(f"exporting {name} ...", flush=True)
                run = measure(name, export, store, Path(folder) / f"log{suffix}", expected)
                print(f"  {run.summary.events / run.seconds:,.0f} events/s", flush=True)
                runs.append(run)
        finally:
            store.close()
    section = report(command, date, machine, args, instances, fill_seconds, database_mb, runs)
    publish(section, SECTION_TITLE, args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
