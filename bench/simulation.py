"""Simulation benchmark: a year of the onboarding example at 1,000 instances a day.

``legato.simulation`` runs ``examples/onboarding/onboarding.bpmn`` on a scenario written by
this script (the example's task durations and branch probabilities; 1,000 arrivals a day,
Poisson, for 365 days; 30 managers, weekdays 09:00 to 17:00 Berlin): 365,000 instances. It
measures, in one run:

1. One simulation in ``core`` mode (the default: commands straight to the engine's pure
   core): wall and CPU seconds, instances and steps per second.
2. A comparison (``compare``) of the model with a copy of itself on the same scenario: the
   two runs in two processes, wall seconds.
3. With ``--profile``, one more ``core`` run of ``--profile-days`` days under cProfile: the
   share of the time inside the engine's ``step()`` and the top functions.
4. With ``--runtime-days``, a run of that many days in ``runtime`` mode (the testing kit's
   engine with its executor and memory store), for the cost of the runtime around step.

The reports of the runs are checked: every instance started completed, and the compared
runs gave equal reports.

Run from the repository root::

    .venv/bin/python bench/simulation.py                      # full run, writes RESULTS.md
    .venv/bin/python bench/simulation.py --days 10 --no-write # quick check

The results replace the section "Simulation: a year of onboarding" of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _report import display_path, machine_facts, publish

from legato.simulation import SimulationReport, compare, simulate

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "onboarding" / "onboarding.bpmn"
EXAMPLE = REPO / "examples" / "onboarding" / "scenario.toml"
DEFAULT_RESULTS = REPO / "bench" / "RESULTS.md"
SECTION_TITLE = "Simulation: a year of onboarding"
TARGET_SECONDS = 60.0
"""Issue 15: a year of a 1,000 instances-a-day process simulates in under a minute."""


def scenario_text(days: int, per_day: int, mode: str) -> str:
    """The example scenario with the benchmark's arrivals, pool and mode."""
    text = EXAMPLE.read_text()
    text = text.replace("per_day = 40", f"per_day = {per_day}")
    text = text.replace('duration = "P28D"', f'duration = "P{days}D"')
    text = text.replace("size = 3", "size = 30")
    return f'mode = "{mode}"\n' + text


def timed(run: object) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()  # type: ignore[operator]
    return result, time.perf_counter() - wall, time.process_time() - cpu


def check(report: SimulationReport) -> None:
    assert report.instances_completed == report.instances_started, report
    assert report.instances_active == 0 and report.incidents == 0, report


def steps_of(report: SimulationReport) -> int:
    """Commands run through step(): a start per instance and a completion per task done."""
    return report.instances_started + sum(e.count for e in report.elements)


def profile(path: Path) -> tuple[float, float, str]:
    """(seconds under the profiler, share inside step(), the top functions by own time)."""
    profiler = cProfile.Profile()
    profiler.enable()
    simulate(MODEL, path)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    inside = 0.0
    for (file, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if name == "step" and file.endswith(os.path.join("engine", "step.py")):
            inside = row[3]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    root = str(REPO) + os.sep
    top = [
        line.rstrip().replace(root, "")
        for line in out.getvalue().splitlines()
        if line.strip() and line.strip()[0].isdigit() and "function calls" not in line
    ]
    return total, inside / total, "\n".join(top[:12])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="also profile a shorter run")
    parser.add_argument("--profile-days", type=int, default=30)
    parser.add_argument("--runtime-days", type=int, default=0)
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    command = "python bench/simulation.py" + (" " + shlex.join(argv) if argv else "")
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        scenario = directory / "scenario.toml"
        scenario.write_text(scenario_text(args.days, args.per_day, "core"))
        print(f"core: {args.days} days at {args.per_day} a day ...", flush=True)
        report, wall, cpu = timed(lambda: simulate(MODEL, scenario))
        assert isinstance(report, SimulationReport)
        check(report)
        steps = steps_of(report)
        instances = report.instances_started
        print(f"  {instances} instances, {steps} steps: {wall:.1f} s wall, {cpu:.1f} s CPU")
        rows.append(
            f"| core, one run | {instances:,} | {steps:,} | {wall:.1f} | {cpu:.1f} | "
            f"{instances / wall:,.0f} | {steps / cpu:,.0f} |"
        )
        summary = (
            f"cycle time mean {report.cycle_time.mean / 3600:.2f} h, p95 "
            f"{report.cycle_time.p95 / 3600:.2f} h; managers' utilisation "
            f"{report.pools[0].utilisation:.1%}, queue mean {report.pools[0].queue_mean:.1f}, "
            f"max {report.pools[0].queue_max}"
        )
        if not args.no_compare:
            copy = directory / "onboarding-copy.bpmn"
            shutil.copy(MODEL, copy)
            print("compare: the model and a copy, in two processes ...", flush=True)
            pair, wall2, _ = timed(lambda: compare(MODEL, copy, scenario))
            first, second = pair  # type: ignore[misc]
            check(first)
            assert first.as_dict() | {"model": ""} == second.as_dict() | {"model": ""}
            print(f"  {wall2:.1f} s wall")
            rows.append(
                f"| core, `compare` (two runs in two processes) | 2 x {instances:,} | "
                f"2 x {steps:,} | {wall2:.1f} | - | {2 * instances / wall2:,.0f} | - |"
            )
        if args.runtime_days:
            runtime = directory / "runtime.toml"
            runtime.write_text(scenario_text(args.runtime_days, args.per_day, "runtime"))
            print(f"runtime: {args.runtime_days} days ...", flush=True)
            report3, wall3, cpu3 = timed(lambda: simulate(MODEL, runtime))
            assert isinstance(report3, SimulationReport)
            check(report3)
            n3, s3 = report3.instances_started, steps_of(report3)
            print(f"  {n3} instances: {wall3:.1f} s wall, {cpu3:.1f} s CPU")
            rows.append(
                f"| runtime ({args.runtime_days} days) | {n3:,} | {s3:,} | {wall3:.1f} | "
                f"{cpu3:.1f} | {n3 / wall3:,.0f} | {s3 / cpu3:,.0f} |"
            )
        profiled = None
        if args.profile:
            short = directory / "short.toml"
            short.write_text(scenario_text(args.profile_days, args.per_day, "core"))
            print(f"profile: {args.profile_days} days under cProfile ...", flush=True)
            profiled = profile(short)
    load_after = os.getloadavg()[0]
    facts = machine_facts({})
    lines = [
        f"## {SECTION_TITLE}",
        "",
        f"- Command: `{command}` (from the repository root)",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        *(f"- {k}: {v}" for k, v in facts.items()),
        f"- Model: `{display_path(MODEL)}`; scenario: the example's `scenario.toml` with "
        f"{args.per_day:,} arrivals a day (Poisson) for {args.days} days and 30 managers "
        "(weekdays 09:00-17:00 Europe/Berlin).",
        f"- Load average (1 min) at the start and at the end: {load_before:.1f} and "
        f"{load_after:.1f} (a shared machine: wall times vary with other work).",
        f"- Simulated: {summary}.",
        "",
        "| Run | Instances | Steps | Wall (s) | CPU (s) | Instances/s (wall) | Steps/s (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]
    core_wall = float(rows[0].split("|")[4])
    verdict = "met" if core_wall < TARGET_SECONDS else "**missed**"
    lines.append(
        f"Target (issue 15): a year at 1,000 instances a day in under {TARGET_SECONDS:.0f} s: "
        f"{verdict} ({core_wall:.1f} s for one run of {args.days} days)."
    )
    if profiled is not None:
        total, share, top = profiled
        lines += [
            "",
            f"Profile ({args.profile_days} days under cProfile, {total:.1f} s with the "
            f"profiler's overhead): {share:.0%} of the time inside the engine's `step()`. "
            "Top functions by own time:",
            "",
            "```",
            top,
            "```",
        ]
    publish("\n".join(lines) + "\n", SECTION_TITLE, args.results, not args.no_write)


if __name__ == "__main__":
    main(sys.argv[1:])
