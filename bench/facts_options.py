"""What each part of the analytics facts' live write costs on the onboarding workload.

Engines without metrics, batched onboarding instances on SQLite (as ``bench/onboarding.py
--projections``), CPU time per instance, for: no facts; the facts as shipped; and the facts
with one part taken away (the options for a cheaper live write): the two partial indexes of
running rows (the SLA sweep's), the element facts' index by instance (retention's), the
rollups, and the node's cache of start times (every end then reads its start back). The
variants alternate, in a rotated order each round, in one process.

Run from the repository root::

    .venv/bin/python bench/facts_options.py [--instances 2000] [--rounds 3] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import onboarding as ob
import sqlalchemy as sa
from _report import machine_facts, publish

from legato import Engine
from legato.store.analytics.sql import SqlAnalyticsReads
from legato.store.facts import DerivedFacts, KnownStarts

TITLE = "Analytics facts: the parts of the live write"

_WRITE = SqlAnalyticsReads.write_facts
_SPLIT = KnownStarts.split


def _without_rollups(self: SqlAnalyticsReads, facts: DerivedFacts, shard: int) -> None:
    facts.hours, facts.durations = {}, {}
    _WRITE(self, facts, shard)


def _nothing_known(self: KnownStarts, keys: Any) -> tuple[dict[Any, Any], list[int]]:
    return {}, list(keys)


VARIANTS: dict[str, tuple[bool, tuple[str, ...], Callable[[], None]]] = {
    "no facts (analytics=False)": (False, (), lambda: None),
    "facts as shipped": (True, (), lambda: None),
    "without the partial indexes of running rows": (
        True,
        ("ix_instance_facts_open", "ix_element_facts_open"),
        lambda: None,
    ),
    "without the element facts' index by instance": (
        True,
        ("ix_element_facts_instance",),
        lambda: None,
    ),
    "without the rollups": (
        True,
        (),
        lambda: setattr(SqlAnalyticsReads, "write_facts", _without_rollups),
    ),
    "without the cache of start times": (
        True,
        (),
        lambda: setattr(KnownStarts, "split", _nothing_known),
    ),
}


def run(tmp: Path, name: str, instances: int) -> float:
    analytics, dropped, patch = VARIANTS[name]
    SqlAnalyticsReads.write_facts = _WRITE  # type: ignore[method-assign]
    KnownStarts.split = _SPLIT  # type: ignore[method-assign]
    patch()
    counter = ob.JobCounter()
    url = f"sqlite:///{tmp / f'{time.monotonic_ns()}.db'}"
    with Engine(url, batch_size=200, metrics=False, analytics=analytics) as engine:
        sa_engine = engine.store.engine  # type: ignore[attr-defined]
        with sa_engine.begin() as connection:
            for index in dropped:
                connection.execute(sa.text(f"DROP INDEX {index}"))
        engine.deploy(ob.DEFAULT_BPMN)
        engine.register(ob.JOB_TYPE, counter.handler())
        ob.legato_warm_up(engine, counter, 200)
        gc.collect()
        began = time.process_time()
        started = ob.start_batched(engine, 0, instances, 200)
        engine.run_until_idle()
        cpu = (time.process_time() - began) / instances * 1000
        counter.check(instances, name)
        ob.check_all(engine, started)
    return cpu


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(raw)
    found: dict[str, list[float]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                found[name].append(run(Path(tmp), name, args.instances))
                print(f"  round {round_ + 1}, {name}: {found[name][-1]:.3f} ms", flush=True)
    command = shlex.join(["python", "bench/facts_options.py", *raw])
    lines = [f"## {TITLE}", "", f"Command: `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine_facts({}).items()]
    lines += [
        "",
        f"{args.instances:,} onboarding instances batched per run, SQLite, no metrics, "
        f"{args.rounds} rounds; CPU time per instance, median of the rounds.",
        "",
        "| Engine | CPU per instance (ms) | vs no facts |",
        "|---|---:|---:|",
    ]
    base = statistics.median(found[names[0]])
    for name in names:
        median = statistics.median(found[name])
        lines.append(f"| {name} | {median:.3f} | {100 * (median / base - 1):+.1f} % |")
    publish("\n".join(lines) + "\n", TITLE, ob.DEFAULT_RESULTS, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
