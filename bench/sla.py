"""The SLA sweep over 100,000 running instances: how long one sweep takes.

A process with ``<legato:sla expectedDuration="PT1H"/>`` is deployed; the facts of 100,000
running instances of it are inserted in bulk (rows of ``instance_facts``, as the live path
writes them, without running the instances), some started long enough ago to be overdue.
Then ``engine.sweep_alerts()`` is timed (wall clock, best and median of the repeats) in
these states:

- ``1 % overdue, first sweep``: 1,000 overdue instances, no alert yet (raises 1,000);
- ``1 % overdue, steady``: the same, every alert raised already (raises nothing);
- ``100 % overdue, first sweep``: no alert yet (raises ``max_raise``, 1,000 by default; the
  others follow in the next sweeps);
- ``100 % overdue, steady``: 100,000 open alerts (raises nothing, resolves nothing).

A first sweep is timed once per fresh database (its alerts stay); steady sweeps repeat.
On PostgreSQL, ``VACUUM ANALYZE`` runs after the bulk inserts (what autovacuum does after
them). Target: under a second. Runs on SQLite (a temporary file) and on PostgreSQL (a fresh schema
on ``--postgres``, skipped with ``--no-postgres``).

```
python bench/sla.py                # prints, and writes the section of bench/RESULTS.md
python bench/sla.py --no-write --instances 10000
```
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from _report import machine_facts, publish, version_of
from multinode import fresh_schema, schema_url

from legato import Engine
from legato.runtime.clock import VirtualClock
from legato.store.schema import instance_facts
from legato.store.sql import SqlStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:legato="https://legato.dev/schema/bpmn/1.0" id="d">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:extensionElements><legato:sla expectedDuration="PT1H"/></bpmn:extensionElements>
    <bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
RESULTS = Path(__file__).with_name("RESULTS.md")
TITLE = "## SLA sweep over running instances"


def seed(store: SqlStore, definition_key: int, count: int, overdue: int) -> None:
    """``count`` running instances' facts; the first ``overdue`` started 3 h ago (past 2 × 1 h),
    the others 10 minutes ago."""
    first_key = 10**12
    rows = [
        {
            "instance_key": first_key + n,
            "definition_key": definition_key,
            "process_id": "order",
            "version": 1,
            "business_key": None,
            "parent_instance_key": None,
            "started_at": NOW - (timedelta(hours=3) if n < overdue else timedelta(minutes=10)),
            "ended_at": None,
            "duration_us": None,
            "outcome": "active",
            "incidents": 0,
        }
        for n in range(count)
    ]
    with store.engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(sa.insert(instance_facts), rows[start : start + 10_000])


def settle(store: SqlStore) -> None:
    """PostgreSQL: ``VACUUM ANALYZE``, what autovacuum does after a bulk insert (without it
    the fresh rows are not yet marked all-visible, so index-only scans read the heap)."""
    if store.engine.dialect.name != "postgresql":
        return
    with store.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")


def run_case(
    url: str, count: int, share: float, repeats: int
) -> list[tuple[str, float, float, int]]:
    """(state, best s, median s, alerts raised) of the sweeps of one database."""
    store = SqlStore(url)
    engine = Engine(store=store, clock=VirtualClock(NOW), metrics=False, tracing=False)
    try:
        definition_key = engine.deploy(MODEL).processes[0].definition_key
        seed(store, definition_key, count, int(count * share))
        settle(store)
        label = f"{share:.0%} overdue"
        began = time.perf_counter()
        first = engine.sweep_alerts()
        first_s = time.perf_counter() - began
        rows = [(f"{label}, first sweep", first_s, first_s, len(first.raised))]
        while engine.sweep_alerts().raised:  # raise the rest (max_raise per sweep)
            pass
        settle(store)
        samples = []
        for _ in range(repeats):
            began = time.perf_counter()
            report = engine.sweep_alerts()
            samples.append(time.perf_counter() - began)
            assert not report.raised and not report.resolved
        open_alerts = len(engine.alerts(limit=count + 1))
        assert open_alerts == int(count * share), open_alerts
        rows.append((f"{label}, steady", min(samples), statistics.median(samples), 0))
        return rows
    finally:
        engine.close()


@contextmanager
def fresh(kind: str, server: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/sla.db"
        return
    with fresh_schema(server, "legato_bench_sla") as schema:
        yield schema_url(server, schema)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    lines = []
    targets = [("SQLite", "sqlite"), *([] if args.no_postgres else [("PostgreSQL", "postgres")])]
    if True:
        for name, kind in targets:
            for share in (0.01, 1.0):
                with fresh(kind, args.postgres) as url:
                    for state, best, median, raised in run_case(
                        url, args.instances, share, args.repeats
                    ):
                        lines.append(
                            f"| {name} | {args.instances:,} | {state} | {raised:,} | "
                            f"{best * 1000:.0f} | {median * 1000:.0f} |"
                        )
                        print(lines[-1], flush=True)
    facts = machine_facts({"SQLAlchemy": version_of("sqlalchemy")})
    command = "python bench/sla.py" + (" " + " ".join(argv) if argv else "")
    section = "\n".join(
        [
            TITLE,
            "",
            f"- Command: `{command}` (from the repository root)",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            *(f"- {key}: {value}" for key, value in facts.items()),
            '- Workload: one process version with `legato:sla expectedDuration="PT1H"`, '
            "its running instances' facts inserted in bulk; a sweep is "
            "`engine.sweep_alerts()` in one transaction (the raised alerts commit with it). "
            "A first sweep raises at most `AlertConfig.max_raise` (1,000) alerts; steady "
            f"sweeps find every overdue instance alerted already (best and median of "
            f"{args.repeats}). PostgreSQL: `VACUUM ANALYZE` after the bulk inserts (what "
            "autovacuum does after them).",
            "",
            "| Database | Running instances | State | Alerts raised | Best (ms) | Median (ms) |",
            "|---|---:|---|---:|---:|---:|",
            *lines,
        ]
    )
    publish(section, TITLE, RESULTS, not args.no_write)


if __name__ == "__main__":
    main(sys.argv[1:])
