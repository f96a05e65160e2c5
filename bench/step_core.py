"""The pure core alone: ``step()`` on the onboarding workload, with no store and no runtime.

Each instance is started, then its jobs are completed one command each, first created first
completed (6 commands and 38 events per onboarding instance), all in memory. It reports the
CPU per instance of ``step()`` (the best of ``--rounds`` rounds: the core's cost without the
machine's noise), the events and commands per instance, and the Python function calls per
instance counted with cProfile in one more round: a count that does not depend on the load
of the machine, for comparing two versions of the core on a busy machine.

Run from the repository root::

    .venv/bin/python bench/step_core.py --instances 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from legato.bpmn import read_bpmn
from legato.engine import commands as cmd
from legato.engine.context import DeployedDecision, DeployedProcess, EngineContext
from legato.engine.state import InstanceState
from legato.engine.step import step

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BPMN = REPO.parent / "shared" / "bench" / "onboarding.bpmn"
HIGH_SCORE, LOW_SCORE = 800, 600  # B, else C


class _OneProcess:
    """The deployed definitions: the onboarding process and nothing else."""

    def __init__(self, deployed: DeployedProcess) -> None:
        self.deployed = deployed

    def get(self, definition_key: int) -> DeployedProcess:
        return self.deployed

    def latest(self, process_id: str) -> DeployedProcess | None:
        return self.deployed

    def decision(self, decision_id: str) -> DeployedDecision | None:
        return None

    def latest_form_key(
        self, form_id: str, version_tag: str | None = None, version: int | None = None
    ) -> int | None:
        return None


def context(bpmn: Path) -> EngineContext:
    process = read_bpmn(bpmn.read_text()).processes[0]
    deployed = DeployedProcess(
        definition_key=1, process_id=process.process_id, version=1, process=process
    )
    keys = count(1)
    return EngineContext(
        now=datetime(2026, 1, 1, tzinfo=UTC),
        new_key=lambda: next(keys),
        definitions=_OneProcess(deployed),
    )


def run(ctx: EngineContext, instances: int) -> tuple[int, int]:
    """Run ``instances`` instances to their end; the events and commands they took."""
    events = commands = 0
    states: dict[int, InstanceState] = {}
    jobs: deque[tuple[int, int]] = deque()
    for index in range(instances):
        key = ctx.new_key()
        score = HIGH_SCORE if index % 2 else LOW_SCORE
        start = cmd.StartInstance(instance_key=key, definition_key=1, variables={"score": score})
        result = step(None, start, ctx)
        states[key] = result.state
        jobs.extend((key, job) for job in result.state.jobs)
        events, commands = events + len(result.events), commands + 1
    while jobs:
        key, job = jobs.popleft()
        before = states[key].jobs.keys() - {job}
        result = step(states[key], cmd.CompleteJob(instance_key=key, job_key=job), ctx)
        states[key] = result.state
        jobs.extend((key, new) for new in result.state.jobs if new not in before)
        events, commands = events + len(result.events), commands + 1
    unfinished = [key for key, state in states.items() if state.status != "completed"]
    if unfinished:
        raise RuntimeError(f"{len(unfinished)} instances did not complete, e.g. {unfinished[0]}")
    return events, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bpmn", type=Path, default=DEFAULT_BPMN)
    args = parser.parse_args(argv)
    ctx = context(args.bpmn)
    run(ctx, 200)  # warm up
    best = float("inf")
    for _ in range(args.rounds):
        gc.collect()
        started = time.process_time()
        events, commands = run(ctx, args.instances)
        best = min(best, time.process_time() - started)
    profile = cProfile.Profile()
    profile.runcall(run, ctx, args.instances)
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    n = args.instances
    print(
        f"step() CPU per instance: {best * 1e6 / n:.1f} us (best of {args.rounds} rounds of "
        f"{n}); {events / n:.0f} events and {commands / n:.0f} commands per instance; "
        f"{calls / n:.0f} Python calls per instance (cProfile, harness included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
