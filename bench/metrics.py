"""``/metrics`` with 10,000 active instances: how long a scrape takes, and the reading of
the database-wide gauges behind it (done by the serving node on each heartbeat).

    python bench/metrics.py [--active 10000] [--repeat 50] [--postgres URL] [--no-write]
    python bench/metrics.py --overhead [--instances 2000] [--rounds 8] [--no-write]

Each scrape goes through the ASGI application in this process (authentication with the scrape
token, rendering; no sockets), as Prometheus would request it from a serving node.

``--overhead`` measures what keeping the metrics costs on the onboarding workload (batched,
SQLite, as ``bench/onboarding.py`` runs it): engines with ``metrics=True`` and
``metrics=False`` alternate in one process, ``--rounds`` times each, and the CPU per instance
of each is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from _report import machine_facts, percentile, publish, version_of, yes
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app
from legato.security import StaticAuthenticator

TOKEN = "bench-scrape-token"
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
<bpmn:process id="orders" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:serviceTask id="charge"><bpmn:extensionElements>
    <zeebe:taskDefinition type="charge"/></bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="charge"/>
  <bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="e"/>
</bpmn:process></bpmn:definitions>
"""
TITLE = "Metrics: /metrics with 10,000 active instances"
TARGET_MS = 50.0


def measure(url: str, active: int, repeat: int) -> tuple[list[float], list[float], str]:
    with Engine(url) as engine:
        engine.deploy(MODEL)
        for start in range(0, active, 1000):
            engine.start_many("orders", [{"n": n} for n in range(start, min(start + 1000, active))])
        app = create_app(engine, StaticAuthenticator({}), metrics_token=TOKEN)
        gauges = engine._gauges
        readings = []
        for _ in range(repeat):
            began = time.perf_counter()
            gauges.refresh()  # what the serving node does on each heartbeat
            readings.append((time.perf_counter() - began) * 1000)
        gauges.serving = True  # scrapes render the last reading, as on a serving node
        scrapes = []
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            text = client.get("/metrics", headers=headers).text
            for _ in range(repeat):
                began = time.perf_counter()
                answer = client.get("/metrics", headers=headers)
                scrapes.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200
    return scrapes, readings, text


def report(database: str, active: int, scrapes: list[float], readings: list[float]) -> str:
    facts = machine_facts({"prometheus-client": version_of("prometheus-client")})
    lines = [f"## {TITLE} ({database})", ""]
    lines.append(f"Command: `python bench/metrics.py --active {active} --repeat {len(scrapes)}`")
    lines.append("")
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines.append(f"- Database: {database}; {active:,} active instances, each with a job waiting")
    lines.append("")
    lines.append(
        "A scrape renders the counters and the last reading of the database-wide gauges "
        "(the serving node reads them on each heartbeat, every 5 s): it never waits for the "
        "database. The reading itself is timed apart. The machine is shared: its load "
        f"average was {os.getloadavg()[0]:.1f} when the run began."
    )
    lines.append("")
    lines.append("| What | p50 (ms) | p99 (ms) | Target (ms) | Met |")
    lines.append("|---|---:|---:|---:|---|")
    p99 = percentile(scrapes, 99)
    lines.append(
        f"| Scrape of /metrics (token, through the ASGI app) | {statistics.median(scrapes):.2f} "
        f"| {p99:.2f} | < {TARGET_MS:.0f} | {yes(p99 < TARGET_MS)} |"
    )
    lines.append(
        f"| Reading of the database-wide gauges (per heartbeat) | "
        f"{statistics.median(readings):.2f} | {percentile(readings, 99):.2f} | | |"
    )
    return "\n".join(lines) + "\n"


OVERHEAD_TITLE = "Metrics: their cost on the onboarding workload"


def overhead(instances: int, rounds: int) -> dict[bool, list[float]]:
    import gc

    import onboarding as ob

    cpu: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for on in (True, False) if round_ % 2 == 0 else (False, True):
                counter = ob.JobCounter()
                url = f"sqlite:///{Path(tmp) / f'{on}-{round_}.db'}"
                with Engine(url, batch_size=200, metrics=on) as engine:
                    engine.deploy(ob.DEFAULT_BPMN)
                    engine.register(ob.JOB_TYPE, counter.handler())
                    ob.legato_warm_up(engine, counter, 200)
                    gc.collect()
                    began = time.process_time()
                    started = ob.start_batched(engine, 0, instances, 200)
                    engine.run_until_idle()
                    cpu[on].append((time.process_time() - began) / instances * 1000)
                    ob.check_all(engine, started)
    return cpu


def overhead_report(instances: int, rounds: int, cpu: dict[bool, list[float]]) -> str:
    facts = machine_facts({})
    on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
    lines = [f"## {OVERHEAD_TITLE}", ""]
    lines.append(
        f"Command: `python bench/metrics.py --overhead --instances {instances} --rounds {rounds}`"
    )
    lines.append("")
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines.append("")
    lines.append(
        f"{instances:,} onboarding instances batched (SQLite, WAL, synchronous=FULL), engines "
        "with and without metrics alternating in one process; CPU time per instance. The "
        f"machine is shared: its load average was {os.getloadavg()[0]:.1f} when the run began."
    )
    lines.append("")
    lines.append("| Engine | CPU per instance, median (ms) | min (ms) |")
    lines.append("|---|---:|---:|")
    lines.append(f"| metrics=False | {off:.3f} | {min(cpu[False]):.3f} |")
    lines.append(f"| metrics=True (the default) | {on:.3f} | {min(cpu[True]):.3f} |")
    lines.append("")
    lines.append(f"Metrics cost {100 * (on / off - 1):+.1f} % (medians).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--active", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) instead")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--overhead", action="store_true", help="the metrics' cost instead")
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    results = Path(__file__).with_name("RESULTS.md")
    if args.overhead:
        cpu = overhead(args.instances, args.rounds)
        section = overhead_report(args.instances, args.rounds, cpu)
        publish(section, OVERHEAD_TITLE, results, not args.no_write)
        return
    if args.postgres:
        scrapes, readings, _ = measure(args.postgres, args.active, args.repeat)
        section = report("PostgreSQL", args.active, scrapes, readings)
        publish(section, f"{TITLE} (PostgreSQL)", results, not args.no_write)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'metrics.db'}"
        scrapes, readings, _ = measure(url, args.active, args.repeat)
    section = report("SQLite", args.active, scrapes, readings)
    publish(section, f"{TITLE} (SQLite)", results, not args.no_write)


if __name__ == "__main__":
    main()
