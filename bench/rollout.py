"""What choosing the version costs a start: no rollout rule (the latest version), a
percentage split, and a FEEL rule, on SQLite.

    python bench/rollout.py [--instances 2000] [--batch-instances 5000] [--rounds 3] [--no-write]

A process with two versions (start, a user task: each start is one transaction that leaves
the instance waiting). In each round the three settings take turns on one engine: first
``--instances`` starts one at a time (``Engine.start`` with a business key), then
``--batch-instances`` through ``start_many`` in batches of 200. Reported: the median over the
rounds of the CPU and wall time per start, and the share of version 2 under the split (10 %
asked for) and the rule (every instance whose ``region`` is ``EU``, one in four).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from _report import machine_facts, publish, version_of

from legato import Engine

TITLE = "Rollout: the cost of choosing a version per start (SQLite)"
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
<bpmn:process id="orders" isExecutable="true">
  <bpmn:extensionElements><zeebe:versionTag value="{tag}"/></bpmn:extensionElements>
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="{task}"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="{task}"/>
</bpmn:process>
</bpmn:definitions>
"""
SETTINGS: dict[str, Callable[[Engine], object]] = {
    "no rule (latest)": lambda e: e.clear_rollout("orders"),
    "split 90/10": lambda e: e.set_rollout("orders", {1: 90, 2: 10}),
    "FEEL rule": lambda e: e.set_rollout("orders", rule='if region = "EU" then 2 else 1'),
}
REGIONS = ("EU", "US", "APAC", "LATAM")
BATCH = 200


def _one_at_a_time(engine: Engine, count: int, offset: int) -> tuple[float, float, Counter[int]]:
    versions: Counter[int] = Counter()
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(offset, offset + count):
        info = engine.start(
            "orders", {"region": REGIONS[n % 4], "n": n}, business_key=f"customer-{n}"
        )
        versions[info.version] += 1
    return time.process_time() - cpu, time.perf_counter() - wall, versions


def _batched(engine: Engine, count: int, offset: int) -> tuple[float, float, Counter[int]]:
    versions: Counter[int] = Counter()
    cpu, wall = time.process_time(), time.perf_counter()
    for first in range(offset, offset + count, BATCH):
        numbers = range(first, min(first + BATCH, offset + count))
        started = engine.start_many("orders", [{"region": REGIONS[n % 4], "n": n} for n in numbers])
        versions.update(i.version for i in started)
    return time.process_time() - cpu, time.perf_counter() - wall, versions


def measure(
    url: str, instances: int, batch_instances: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {
        name: {k: [] for k in ("cpu1", "wall1", "share1", "cpub", "wallb", "shareb")}
        for name in SETTINGS
    }
    offset = 0
    with Engine(url, metrics=False) as engine:
        engine.deploy(MODEL.format(tag="1", task="review").encode())
        engine.deploy(MODEL.format(tag="2", task="check").encode())
        for round_number in range(rounds):
            for name, apply in SETTINGS.items():
                apply(engine)
                cpu, wall, versions = _one_at_a_time(engine, instances, offset)
                offset += instances
                row = results[name]
                row["cpu1"].append(cpu / instances * 1000)
                row["wall1"].append(wall / instances * 1000)
                row["share1"].append(versions[2] / instances * 100)
                cpu, wall, versions = _batched(engine, batch_instances, offset)
                offset += batch_instances
                row["cpub"].append(cpu / batch_instances * 1000)
                row["wallb"].append(wall / batch_instances * 1000)
                row["shareb"].append(versions[2] / batch_instances * 100)
                print(f"round {round_number + 1}, {name}: done", flush=True)
    return results


def report(
    results: dict[str, dict[str, list[float]]], instances: int, batch_instances: int, rounds: int
) -> str:
    facts = machine_facts(
        {"SQLite": sqlite3.sqlite_version, "SQLAlchemy": version_of("sqlalchemy")}
    )
    lines = [f"## {TITLE}", ""]
    lines.append(
        f"Command: `python bench/rollout.py --instances {instances} --batch-instances "
        f"{batch_instances} --rounds {rounds}`"
    )
    lines.append("")
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines.append(
        "- Workload: process `orders`, two versions (start, a user task); one engine, SQLite "
        "file (WAL, synchronous=FULL), metrics off; the settings take turns in each round; "
        "medians over the rounds."
    )
    lines.append("")
    lines.append(
        "| Setting | One at a time: CPU ms/start | wall ms/start | v2 share | "
        "start_many: CPU ms/start | wall ms/start | v2 share |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in results.items():
        m = {k: statistics.median(v) for k, v in row.items()}
        lines.append(
            f"| {name} | {m['cpu1']:.3f} | {m['wall1']:.3f} | {m['share1']:.1f} % | "
            f"{m['cpub']:.3f} | {m['wallb']:.3f} | {m['shareb']:.1f} % |"
        )
    lines.append("")
    lines.append(
        "One at a time, every start has a business key (the split hashes it); start_many "
        "starts have none (the split takes turns along a golden-ratio sequence). The rule "
        "sends the `EU` quarter to version 2."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--batch-instances", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    results_file = Path(__file__).resolve().parent / "RESULTS.md"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rollout.db'}"
        results = measure(url, args.instances, args.batch_instances, args.rounds)
    section = report(results, args.instances, args.batch_instances, args.rounds)
    publish(section, TITLE, results_file, not args.no_write)


if __name__ == "__main__":
    main()
