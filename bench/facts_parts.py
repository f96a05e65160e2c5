"""Where the analytics facts' live write spends its CPU, measured inside one run.

A batched onboarding run on SQLite (as ``bench/onboarding.py --projections``, analytics on,
metrics off) with a CPU clock around each part of the facts' write in the command's
transaction: deriving them from the batch's history (``DerivedFacts.add_chunks`` and
``settle``), reading stored starts (``fact_starts``) and writing the rows
(``write_facts``). The parts are shares of the same run's CPU time, so they hold up on a
loaded machine better than two runs compared by their totals (the commit's extra WAL pages
are not in them). Each round is a fresh engine and database; the figures are medians.

Run from the repository root (``PYTHONPATH`` picks the source tree measured)::

    .venv/bin/python bench/facts_parts.py [--instances 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onboarding as ob

from legato import Engine
from legato.runtime.projection import BatchWrites
from legato.store.analytics.sql import SqlAnalyticsReads
from legato.store.facts import DerivedFacts

PARTS: tuple[tuple[str, Any, str], ...] = (
    ("derive", DerivedFacts, "add_chunks"),
    ("settle", DerivedFacts, "settle"),
    ("read starts", SqlAnalyticsReads, "fact_starts"),
    ("write rows", SqlAnalyticsReads, "write_facts"),
    ("facts in all", BatchWrites, "_write_facts"),
)
"""(name, class, method) of each part timed; the last one holds the others."""


def _timed(spent: dict[str, float], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - began

    return run


def one_round(bpmn: Path, instances: int, tmp: Path, spent: dict[str, float]) -> float:
    """CPU ms per instance of a run; ``spent`` gets each part's CPU seconds."""
    counter = ob.JobCounter()
    with Engine(f"sqlite:///{tmp / 'facts.db'}", batch_size=200, metrics=False) as engine:
        engine.deploy(bpmn)
        engine.register(ob.JOB_TYPE, counter.handler())
        ob.legato_warm_up(engine, counter, 200)
        gc.collect()
        for name in spent:
            spent[name] = 0.0
        began = time.process_time()
        started = ob.start_batched(engine, 0, instances, 200)
        engine.run_until_idle()
        total = time.process_time() - began
        counter.check(instances, "facts")
        ob.check_all(engine, started)
    return total / instances * 1000


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    bpmn = ob.parse_args([]).bpmn
    spent = {name: 0.0 for name, _, _ in PARTS}
    for name, owner, method in PARTS:
        setattr(owner, method, _timed(spent, name, getattr(owner, method)))
    totals: list[float] = []
    parts: dict[str, list[float]] = {name: [] for name in spent}
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
            totals.append(one_round(bpmn, args.instances, Path(tmp), spent))
        for name, seconds in spent.items():
            parts[name].append(seconds / args.instances * 1000)
        print(f"round {round_ + 1}: {totals[-1]:.3f} ms CPU per instance", file=sys.stderr)
    total = statistics.median(totals)
    facts = statistics.median(parts["facts in all"])
    print(f"load average (1 min): {os.getloadavg()[0]:.1f}")
    print("| Part | CPU per instance, median (ms) | share of the run |")
    print("|---|---:|---:|")
    print(f"| the whole run (analytics on) | {total:.3f} | 100 % |")
    for name in parts:
        value = statistics.median(parts[name])
        print(f"| {name} | {value:.4f} | {100 * value / total:.1f} % |")
    print(f"facts against the rest of the run: +{100 * facts / (total - facts):.1f} %")


if __name__ == "__main__":
    main(sys.argv[1:])
