"""Audit trail benchmark: the cost of a record, of verifying the chain, and of auditing an
API request.

1. ``AuditTrail.record`` called ``--records`` times one after the other (each its own
   transaction: the tail's lock, the read of the last record, one INSERT, a signed
   checkpoint every 1,000), on a SQLite file (WAL, synchronous=FULL) and on PostgreSQL (a
   schema of its own on ``--postgres``, dropped afterwards): per record wall and CPU time.
2. ``verify_trail`` over those records: records per second.
3. An operator's request, ``POST`` then ``DELETE /legato/v1/process-instances/{key}/
   suspension``, ``--requests`` times through the in-process application (Starlette's test
   client, SQLite), with the audit trail and with ``app.state.audit = None``. The test
   client waits until the middleware has written the record, so the difference is the
   whole cost of recording; a real client gets its answer before the record is written.

Run from the repository root::

    .venv/bin/python bench/audit.py                       # full run, writes RESULTS.md
    .venv/bin/python bench/audit.py --records 500 --requests 100 --no-write

The results replace the section "Audit trail" of ``bench/RESULTS.md`` unless
``--no-write`` is given.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from _report import REPO, machine_facts, percentile, publish, version_of
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app
from legato.security import Principal, StaticAuthenticator
from legato.security.audit import Actor, AuditTrail, Resource, Source
from legato.security.audit_chain import verify_trail
from legato.store.sql import SqlStore

SECTION_TITLE = "Audit trail"
ORDER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="charge"><bpmn:extensionElements>
      <zeebe:taskDefinition type="charge"/></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="charge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _cpu() -> float:
    return time.process_time()


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """A URL whose connections use a new schema on ``server``, dropped at the end."""
    admin = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"legato_bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def bench_trail(url: str, records: int) -> dict[str, float]:
    """Record ``records`` records one by one, then verify them."""
    store = SqlStore(url)
    try:
        trail = AuditTrail(store)
        trail.secret  # noqa: B018 (the secret's own transaction, not measured)
        actor, source = Actor("olga", "user"), Source("10.0.0.7", "bench/1")
        samples: list[float] = []
        cpu0 = _cpu()
        wall0 = time.perf_counter()
        for n in range(records):
            began = time.perf_counter()
            trail.record(
                actor,
                "instance.cancel",
                Resource("instance", str(n)),
                details={"status": 204},
                source=source,
            )
            samples.append(time.perf_counter() - began)
        wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
        verify_cpu0, verify_wall0 = _cpu(), time.perf_counter()
        verified = verify_trail(trail)
        verify_wall, verify_cpu = time.perf_counter() - verify_wall0, _cpu() - verify_cpu0
        assert verified.intact and verified.records == records, verified.message
    finally:
        store.close()
    return {
        "per_s": records / wall,
        "cpu_ms": cpu / records * 1000,
        "p50_ms": percentile(samples, 50) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
        "verify_per_s": records / verify_wall,
        "verify_cpu_s": verify_cpu,
    }


def bench_requests(requests: int, audited: bool) -> dict[str, float]:
    """Suspend and resume one instance ``requests`` times over the in-process API."""
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(f"sqlite:///{Path(folder) / 'api.db'}")
        users = {"op": ("op", Principal("op", frozenset({"operator"})))}
        app = create_app(engine, StaticAuthenticator(users))
        if not audited:
            app.state.audit = None
        engine.deploy(ORDER)
        key = engine.start("order").key
        path = f"/legato/v1/process-instances/{key}/suspension"
        samples: list[float] = []
        with TestClient(app) as client:
            for _ in range(5):  # warm up
                client.post(path, auth=("op", "op"))
                client.delete(path, auth=("op", "op"))
            cpu0 = _cpu()
            for n in range(requests):
                began = time.perf_counter()
                answer = client.request("POST" if n % 2 == 0 else "DELETE", path, auth=("op", "op"))
                samples.append(time.perf_counter() - began)
                assert answer.status_code == 204, answer.text
            cpu = _cpu() - cpu0
        if audited:
            found = verify_trail(AuditTrail(engine.store))
            assert found.intact and found.records == requests + 10, found.message
        engine.close()
    return {
        "p50_ms": percentile(samples, 50) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
        "cpu_ms": cpu / requests * 1000,
    }


def _row(label: str, found: dict[str, float]) -> str:
    return (
        f"| {label} | {found['per_s']:,.0f} | {found['cpu_ms']:.3f} | {found['p50_ms']:.2f} | "
        f"{found['p99_ms']:.2f} | {found['verify_per_s']:,.0f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)

    with tempfile.TemporaryDirectory() as folder:
        sqlite = bench_trail(f"sqlite:///{Path(folder) / 'audit.db'}", args.records)
    with postgres_schema(args.postgres) as url:
        postgres = bench_trail(url, args.records)
    audited = bench_requests(args.requests, audited=True)
    plain = bench_requests(args.requests, audited=False)

    command = "python bench/audit.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    facts = machine_facts(
        {"SQLAlchemy": version_of("SQLAlchemy"), "psycopg": version_of("psycopg")}
    )
    lines = [
        f"## {SECTION_TITLE}",
        "",
        f"- Command: `{command}` (from the repository root)",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        *(f"- {name}: {value}" for name, value in facts.items()),
        f"- Load average (1 min) at the end: {os.getloadavg()[0]:.1f} (the machine is shared).",
        "",
        f"`AuditTrail.record`, {args.records:,} records one after the other (one transaction "
        "each), then `verify_trail` over all of them:",
        "",
        "| Database | Records/s | CPU ms per record | p50 (ms) | p99 (ms) | Verified records/s |",
        "|---|---:|---:|---:|---:|---:|",
        _row("SQLite file (WAL, synchronous=FULL)", sqlite),
        _row("PostgreSQL (local, one schema)", postgres),
        "",
        f"An operator's suspend or resume over the in-process API (test client, SQLite), "
        f"{args.requests:,} requests; the test client waits for the record, so the difference "
        "is the whole cost of recording (a real client has its answer before it is written):",
        "",
        "| Application | p50 (ms) | p99 (ms) | CPU ms per request |",
        "|---|---:|---:|---:|",
        *(
            f"| {label} | {found['p50_ms']:.2f} | {found['p99_ms']:.2f} | {found['cpu_ms']:.2f} |"
            for label, found in (("audited", audited), ("not audited", plain))
        ),
        "",
        "Every trail verified intact with every record counted.",
    ]
    publish("\n".join(lines) + "\n", SECTION_TITLE, args.results, write=not args.no_write)


if __name__ == "__main__":
    main()
