"""Dashboard queries over the analytics facts of 1,000,000 completed instances, and the SLA
sweep's read of 100,000 running ones, on SQLite (and on PostgreSQL with ``--postgres``).

Seeding goes through the store's own write path in bulk, not through the engine: synthetic
histories of the onboarding process (start, A, B or C, D, E, F, end; two versions, spread
over 30 days, 1 % with an incident on A) are derived by ``legato.store.facts.DerivedFacts``
and written by ``write_facts``, 20,000 instances per transaction. The completed instances'
element rows are left out (the dashboard reads the rollups, and the SLA sweep the running
element instances only); the running instances have their row at ``A``.

Then, each ``--repeat`` times (median and worst reported): the four dashboard reads of the
store (throughput by hour, cycle times, element statistics, error rate) over the 30 days and
both versions, the whole report (``legato.analytics.dashboard.process_report``), and the SLA
sweep: every running instance started before a cutoff, 1,000 per page, and the first page of
running element instances at ``A``.

Run from the repository root::

    .venv/bin/python bench/analytics.py                    # SQLite
    .venv/bin/python bench/analytics.py --postgres         # PostgreSQL (schema bench_analytics)
    .venv/bin/python bench/analytics.py --instances 20000 --running 2000 --no-write

The results replace the section "Analytics: dashboard queries at 1,000,000 instances
(SQLite|PostgreSQL)" of ``bench/RESULTS.md`` unless ``--no-write`` is given.
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from _report import machine_facts, publish

from legato import Engine
from legato.analytics.dashboard import process_report
from legato.store.facts import DerivedFacts, FactInstance
from legato.store.records import HistoryRecord
from legato.store.sql import SqlStore

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BPMN = REPO.parent / "shared" / "bench" / "onboarding.bpmn"
DEFAULT_RESULTS = REPO / "bench" / "RESULTS.md"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TITLE = "Analytics: dashboard queries at 1,000,000 instances"
PROCESS_ID = "onboarding"
TARGET_QUERY_MS = 200.0
TARGET_SWEEP_MS = 1000.0
NOW = datetime(2026, 12, 1, tzinfo=UTC)
WINDOW = timedelta(days=30)
SEED_BATCH = 20_000


def open_store(args: argparse.Namespace, tmp: Path) -> tuple[str, str]:
    """The URL of an empty database, and the database's name for the report."""
    if not args.postgres:
        return f"sqlite:///{tmp / 'analytics.db'}", "SQLite"
    schema = "bench_analytics"
    admin = sa.create_engine(args.postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    return f"{args.postgres_url}?options={quote(f'-csearch_path={schema}', safe='')}", "PostgreSQL"


def history(
    chance: random.Random, key: int, element_key: int, start: datetime, running: bool
) -> list[HistoryRecord]:
    """A synthetic onboarding history (elements keyed from ``element_key``)."""
    events = [HistoryRecord(key, 1, "InstanceCreated", start, {})]
    at = start
    path = ["A", "B" if key % 2 else "C", "D", "E", "F"]
    for offset, element_id in enumerate(path):
        element = element_key + offset
        payload = {"key": element, "element_id": element_id, "element_kind": "serviceTask"}
        events.append(HistoryRecord(key, 0, "ElementActivated", at, payload))
        if running:
            return events
        if element_id == "A" and key % 100 == 0:
            incident = {"incident_key": element + 100, "element_id": "A"}
            raised = {**incident, "error_type": "job_failed", "message": "no answer"}
            events.append(HistoryRecord(key, 0, "IncidentRaised", at, raised))
            at += timedelta(minutes=chance.uniform(5, 60))
            events.append(HistoryRecord(key, 0, "IncidentResolved", at, incident))
        at += timedelta(seconds=chance.lognormvariate(4.0, 1.0))
        events.append(HistoryRecord(key, 0, "ElementCompleted", at, {"key": element, **payload}))
    events.append(HistoryRecord(key, 0, "InstanceCompleted", at, {}))
    return events


def seed(url: str, instances: int, running: int) -> dict[int, int]:
    """Deploy two versions and write the facts of the instances; definition key by version."""
    engine = Engine(url, metrics=False)
    versions = {}
    for version in (1, 2):
        text = DEFAULT_BPMN.read_bytes()
        deployed = engine.deploy(text + f"<!-- v{version} -->\n".encode())
        versions[version] = deployed.processes[0].definition_key
    engine.close()
    store = SqlStore(url)
    chance = random.Random(7)
    key = 10_000_000
    total = instances + running
    began = time.perf_counter()
    for first in range(0, total, SEED_BATCH):
        facts = DerivedFacts()
        known: dict[int, FactInstance] = {}
        for number in range(first, min(first + SEED_BATCH, total)):
            is_running = number >= instances
            version = 1 + number % 2
            if is_running:
                start = NOW - timedelta(hours=chance.uniform(0, 48))
            else:
                start = NOW - timedelta(seconds=chance.uniform(0, WINDOW.total_seconds()))
            key += 200
            known[key] = FactInstance(versions[version], start, PROCESS_ID, version)
            facts.add(history(chance, key, key + 1, start, is_running), known.get, _no_element)
        facts.settle()
        facts.elements = {k: row for k, row in facts.elements.items() if row["ended_at"] is None}
        with store.transaction() as tx:
            tx.write_facts(facts, 0)
        done = min(first + SEED_BATCH, total)
        if done % 200_000 == 0 or done == total:
            print(f"  {done:,} instances seeded, {time.perf_counter() - began:.0f} s", flush=True)
    store.close()
    return versions


def _no_element(_kind: str, _key: int) -> None:
    return None


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(median, worst) wall time of ``call`` in milliseconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times)


def sweep(store: SqlStore, cutoff: datetime) -> int:
    """Every running instance of version 1 started before ``cutoff``, 1,000 per page."""
    seen = 0
    after = None
    while True:
        with store.transaction() as tx:
            page = tx.open_instance_facts(PROCESS_ID, 1, cutoff, 1000, after)
        seen += len(page)
        if len(page) < 1000:
            return seen
        after = (page[-1].started_at, page[-1].instance_key)


def measure(url: str, repeat: int, running: int) -> tuple[list[tuple[str, float, float]], int]:
    store = SqlStore(url)
    since, until = NOW - WINDOW, NOW
    rows: list[tuple[str, float, float]] = []

    def read(name: str) -> Callable[[], Any]:
        def call() -> Any:
            with store.transaction() as tx:
                if name == "throughput":
                    return tx.throughput(PROCESS_ID, [], since, until, timedelta(hours=1))
                return getattr(tx, name)(PROCESS_ID, [], since, until)

        return call

    for name in ("throughput", "cycle_times", "element_stats", "error_rate"):
        rows.append((f"`{name}` (30 days, both versions)", *timed(read(name), repeat)))
    report = lambda: process_report(store, PROCESS_ID, since=since, until=until)  # noqa: E731
    rows.append(("the whole report (`process_report`)", *timed(report, repeat)))
    cutoff = NOW
    found = sweep(store, cutoff)
    rows.append(
        (
            f"SLA sweep: all {found:,} running instances of version 1, pages of 1,000",
            *timed(lambda: sweep(store, cutoff), max(3, repeat // 5)),
        )
    )

    def first_elements() -> Any:
        with store.transaction() as tx:
            return tx.open_element_facts(PROCESS_ID, 1, "A", cutoff, 1000)

    rows.append(
        ("running element instances at A: first page of 1,000", *timed(first_elements, repeat))
    )
    store.close()
    return rows, found


def markdown(
    command: str, database: str, args: argparse.Namespace, seconds: float, rows: list[Any]
) -> str:
    lines = [f"## {TITLE} ({database})", "", f"Command: `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine_facts({}).items()]
    lines += [
        "",
        f"{args.instances:,} completed instances (two versions, over 30 days) and "
        f"{args.running:,} running ones, their facts written by the store's write path in "
        f"bulk ({seconds:.0f} s). Each read {args.repeat} times (the sweep fewer); wall "
        "time in ms. Targets: a dashboard query under "
        f"{TARGET_QUERY_MS:.0f} ms, the SLA sweep under {TARGET_SWEEP_MS:.0f} ms.",
        "",
        "| Read | median (ms) | worst (ms) | target |",
        "|---|---:|---:|---|",
    ]
    for name, median, worst in rows:
        target = TARGET_SWEEP_MS if name.startswith("SLA") else TARGET_QUERY_MS
        verdict = "met" if median < target else "missed"
        lines.append(f"| {name} | {median:.1f} | {worst:.1f} | < {target:.0f} ms: {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--running", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(raw)
    command = shlex.join(["python", "bench/analytics.py", *raw])
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        url, database = open_store(args, Path(tmp))
        print(f"seeding {args.instances:,} completed and {args.running:,} running instances ...")
        began = time.perf_counter()
        seed(url, args.instances, args.running)
        seconds = time.perf_counter() - began
        rows, _ = measure(url, args.repeat, args.running)
    section = markdown(command, database, args, seconds, rows)
    publish(section, f"{TITLE} ({database})", args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
