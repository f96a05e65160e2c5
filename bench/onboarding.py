"""Core-engine benchmark: the "onboarding" workload on Legato and on SpiffWorkflow.

The workload (``<repo>/../shared/bench/onboarding.bpmn``): start -> service task A ->
exclusive gateway on ``score > 700`` (B, else C) -> parallel D and E -> join -> F -> end.
Every service task has job type ``noop`` and its handler does nothing; instances alternate
``score`` 800 (takes B) and 600 (takes C).

Legato runs durably: a SQLite file in a temporary directory, WAL, ``synchronous=FULL`` (the
engine's defaults; the script reads the pragmas back and prints them). SpiffWorkflow 3.2 runs
the same file in memory, without any persistence: service tasks wait in state STARTED and are
completed by the driver loop, which is its equivalent of the do-nothing handler.

Three measurements, in one run:

1. Throughput: ``--instances`` instances are started and run to completion (Legato: start them
   all, then ``run_until_idle``; SpiffWorkflow: one after the other). Instances per second for
   each engine, and the ratio Legato / SpiffWorkflow.
2. Latency: one instance at a time, ``--latency-samples`` times: wall time from ``start`` to the
   return of ``run_until_idle`` (Legato) or to ``is_completed`` (SpiffWorkflow), p50 and p99.
   For Legato the engine's own record (``InstanceCreated.at`` to ``InstanceCompleted.at``) is
   reported too.
3. Memory: ``--memory-instances`` instances through Legato in batches of ``--memory-batch``;
   resident set size (``VmRSS``, after ``gc.collect()``) after each batch. Growth from the 20,000
   mark to the end decides whether memory is flat (within ``FLAT_TOLERANCE``).

Every instance is checked (outside the timed sections): it completed and took the right branch.

Run from the repository root::

    .venv/bin/python bench/onboarding.py                       # full run, writes RESULTS.md
    .venv/bin/python bench/onboarding.py --instances 500 --latency-samples 50 \\
        --memory-instances 10000 --memory-batch 1000 --no-write  # quick check

The results replace the section "Core engine: onboarding workload" of ``bench/RESULTS.md``
(other sections are kept) unless ``--no-write`` is given.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from _report import (
    display_path,
    file_mb,
    machine_facts,
    peak_rss_mb,
    percentile,
    publish,
    sqlite_pragmas,
    version_of,
    yes,
)
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.util.task import TaskState

from legato import Engine, Job

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BPMN = REPO.parent / "shared" / "bench" / "onboarding.bpmn"
DEFAULT_RESULTS = REPO / "bench" / "RESULTS.md"
SECTION_TITLE = "Core engine: onboarding workload"

PROCESS_ID = "onboarding"
JOB_TYPE = "noop"
JOBS_PER_INSTANCE = 5  # A, B or C, D, E, F
HIGH_SCORE = 800  # takes B
LOW_SCORE = 600  # takes C (the default flow)
MEMORY_MARK = 20_000  # memory growth is measured from this many completed instances
FLAT_TOLERANCE = 0.05  # "flat": RSS at the end at most 5 % above RSS at the mark
MAX_SPIFF_ROUNDS = 50  # the workload needs 5 rounds; a cap so a mistake cannot spin forever

TARGET_THROUGHPUT_RATIO = 10.0
TARGET_P99_MS = 10.0


def score_for(index: int) -> int:
    return HIGH_SCORE if index % 2 == 0 else LOW_SCORE


def branch_for(score: int) -> tuple[str, str]:
    """The (taken, not taken) service task for ``score``."""
    return ("B", "C") if score > 700 else ("C", "B")


def rss_mb() -> float:
    """The current resident set size in MiB (VmRSS; peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


# -- Legato ---------------------------------------------------------------------------------------


def noop(job: Job) -> None:
    """The handler of every service task: does nothing."""


def open_legato(db_path: Path, bpmn: Path, batch_size: int) -> Engine:
    engine = Engine(f"sqlite:///{db_path}", batch_size=batch_size)
    engine.deploy(bpmn)
    engine.register(JOB_TYPE, noop)
    return engine


@dataclass
class LegatoCheck:
    created: datetime
    completed: datetime

    @property
    def engine_ms(self) -> float:
        return (self.completed - self.created).total_seconds() * 1000.0


def check_legato(engine: Engine, key: int, score: int) -> LegatoCheck:
    """Fail unless the instance completed and took the right branch."""
    status = engine.instance(key).status
    if status != "completed":
        raise RuntimeError(f"Legato instance {key} (score {score}) is {status!r}, not completed")
    history = engine.history(key)
    activated = {
        h.element_id
        for h in history
        if h.event_type == "ElementActivated" and h.element_id is not None
    }
    taken, other = branch_for(score)
    if taken not in activated or other in activated:
        raise RuntimeError(f"Legato instance {key} (score {score}) ran {sorted(activated)}")
    created = [h.at for h in history if h.event_type == "InstanceCreated"]
    completed = [h.at for h in history if h.event_type == "InstanceCompleted"]
    if len(created) != 1 or len(completed) != 1:
        raise RuntimeError(f"Legato instance {key}: unexpected history")
    return LegatoCheck(created[0], completed[0])


def legato_warm_up(engine: Engine, count: int) -> None:
    keys = [
        (engine.start(PROCESS_ID, {"score": score_for(i)}).key, score_for(i)) for i in range(count)
    ]
    engine.run_until_idle()
    for key, score in keys:
        check_legato(engine, key, score)


# -- SpiffWorkflow --------------------------------------------------------------------------------


class SpiffRunner:
    """Runs the workload with SpiffWorkflow in memory (the spec is parsed once)."""

    def __init__(self, bpmn: Path) -> None:
        parser = BpmnParser()
        parser.add_bpmn_file(str(bpmn))
        self.spec = parser.get_spec(PROCESS_ID)

    def run(self, score: int) -> BpmnWorkflow:
        workflow = BpmnWorkflow(self.spec)
        # Gateway conditions are evaluated against task data, which flows from the start task.
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data["score"] = score
        for _ in range(MAX_SPIFF_ROUNDS):
            workflow.do_engine_steps()
            if workflow.is_completed():
                return workflow
            waiting = workflow.get_tasks(state=TaskState.READY | TaskState.STARTED)
            if not waiting:
                raise RuntimeError(f"SpiffWorkflow instance (score {score}) is stuck")
            for task in waiting:
                if task.state == TaskState.STARTED:
                    task.complete()  # the service task's job is done; the handler does nothing
                else:
                    task.run()
        raise RuntimeError(f"SpiffWorkflow instance (score {score}) exceeded the round cap")


def check_spiff(workflow: BpmnWorkflow, score: int) -> None:
    if not workflow.is_completed():
        raise RuntimeError(f"SpiffWorkflow instance (score {score}) did not complete")
    ran = {t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    taken, other = branch_for(score)
    if taken not in ran or other in ran or not {"A", "D", "E", "F"} <= ran:
        raise RuntimeError(f"SpiffWorkflow instance (score {score}) ran {sorted(ran)}")


# -- measurements ---------------------------------------------------------------------------------


@dataclass
class Throughput:
    instances: int
    seconds: float
    start_seconds: float = 0.0
    drain_seconds: float = 0.0
    engine_span_seconds: float = 0.0
    cpu_seconds: float = 0.0
    """Process CPU time (user + system) of the timed section: less sensitive to the other
    work on a shared machine than the wall time."""

    @property
    def cpu_ms_per_instance(self) -> float:
        return self.cpu_seconds / self.instances * 1000.0

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds


@dataclass
class Latency:
    wall_ms: list[float]
    engine_ms: list[float] = field(default_factory=list)


@dataclass
class MemoryPoint:
    completed: int
    rss_mb: float
    db_mb: float
    elapsed: float


@dataclass
class Memory:
    points: list[MemoryPoint]
    peak_rss_mb: float
    seconds: float

    def mark(self) -> MemoryPoint:
        """The first point at or past MEMORY_MARK (the first point if the run is shorter)."""
        for point in self.points:
            if point.completed >= MEMORY_MARK:
                return point
        return self.points[0]

    @property
    def growth_mb(self) -> float:
        return self.points[-1].rss_mb - self.mark().rss_mb

    @property
    def growth_ratio(self) -> float:
        return self.growth_mb / self.mark().rss_mb

    @property
    def flat(self) -> bool:
        return self.growth_ratio <= FLAT_TOLERANCE

    @property
    def slope_kb_per_10k(self) -> float:
        """Least-squares slope of RSS over completed instances, from the mark on."""
        mark = self.mark().completed
        pts = [p for p in self.points if p.completed >= mark]
        if len(pts) < 2:
            return 0.0
        xs = [float(p.completed) for p in pts]
        ys = [p.rss_mb for p in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        return cov / var * 10_000 * 1024.0 if var else 0.0


def legato_throughput(bpmn: Path, n: int, batch_size: int, warm_up: int) -> Throughput:
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        engine = open_legato(Path(tmp) / "throughput.db", bpmn, batch_size)
        try:
            legato_warm_up(engine, warm_up)
            scores = [score_for(i) for i in range(n)]
            c0 = time.process_time()
            t0 = time.perf_counter()
            # Starts are submitted in batches (one transaction per batch_size starts), the way
            # a service under load hands many starts to the engine at once.
            keys: list[int] = []
            for first in range(0, n, batch_size):
                chunk = [{"score": s} for s in scores[first : first + batch_size]]
                keys += [info.key for info in engine.start_many(PROCESS_ID, chunk)]
            t1 = time.perf_counter()
            jobs = engine.run_until_idle()
            t2 = time.perf_counter()
            cpu = time.process_time() - c0
            if jobs != n * JOBS_PER_INSTANCE:
                raise RuntimeError(f"Legato ran {jobs} jobs for {n} instances")
            checks = [check_legato(engine, k, s) for k, s in zip(keys, scores, strict=True)]
        finally:
            engine.close()
    span = max(c.completed for c in checks) - min(c.created for c in checks)
    return Throughput(n, t2 - t0, t1 - t0, t2 - t1, span.total_seconds(), cpu)


def spiff_throughput(runner: SpiffRunner, n: int, warm_up: int) -> Throughput:
    for i in range(warm_up):
        check_spiff(runner.run(score_for(i)), score_for(i))
    elapsed = cpu = 0.0
    for i in range(n):
        score = score_for(i)
        c0 = time.process_time()
        t0 = time.perf_counter()
        workflow = runner.run(score)
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        check_spiff(workflow, score)
    return Throughput(n, elapsed, cpu_seconds=cpu)


def legato_latency(bpmn: Path, samples: int, batch_size: int, warm_up: int) -> Latency:
    result = Latency([], [])
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        engine = open_legato(Path(tmp) / "latency.db", bpmn, batch_size)
        try:
            legato_warm_up(engine, warm_up)
            for i in range(samples):
                score = score_for(i)
                t0 = time.perf_counter()
                key = engine.start(PROCESS_ID, {"score": score}).key
                engine.run_until_idle()
                result.wall_ms.append((time.perf_counter() - t0) * 1000.0)
                result.engine_ms.append(check_legato(engine, key, score).engine_ms)
        finally:
            engine.close()
    return result


def spiff_latency(runner: SpiffRunner, samples: int) -> Latency:
    result = Latency([])
    for i in range(samples):
        score = score_for(i)
        t0 = time.perf_counter()
        workflow = runner.run(score)
        result.wall_ms.append((time.perf_counter() - t0) * 1000.0)
        check_spiff(workflow, score)
    return result


def legato_memory(
    bpmn: Path, total: int, batch: int, batch_size: int, warm_up: int, log: Callable[[str], None]
) -> Memory:
    points: list[MemoryPoint] = []
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        db_path = Path(tmp) / "memory.db"
        engine = open_legato(db_path, bpmn, batch_size)
        try:
            legato_warm_up(engine, warm_up)
            gc.collect()
            log(f"  memory: before the run RSS {rss_mb():.1f} MiB")
            t0 = time.perf_counter()
            completed = 0
            while completed < total:
                count = min(batch, total - completed)
                last: list[tuple[int, int]] = []
                for i in range(completed, completed + count):
                    key = engine.start(PROCESS_ID, {"score": score_for(i)}).key
                    if i >= completed + count - 2:
                        last.append((key, score_for(i)))
                jobs = engine.run_until_idle()
                if jobs != count * JOBS_PER_INSTANCE:
                    raise RuntimeError(f"Legato ran {jobs} jobs for {count} instances")
                for key, score in last:  # one of each branch per batch
                    check_legato(engine, key, score)
                completed += count
                gc.collect()
                point = MemoryPoint(completed, rss_mb(), file_mb(db_path), time.perf_counter() - t0)
                points.append(point)
                log(
                    f"  memory: {completed:>7,} completed  RSS {point.rss_mb:7.1f} MiB  "
                    f"db {point.db_mb:7.1f} MiB  {point.elapsed:6.0f} s"
                )
            seconds = time.perf_counter() - t0
            if engine.instances(status="active", limit=1):
                raise RuntimeError("Legato left active instances after the memory run")
        finally:
            engine.close()
    # ru_maxrss is updated lazily; never report a peak below a sampled value.
    return Memory(points, max(peak_rss_mb(), *(p.rss_mb for p in points)), seconds)


# -- report ---------------------------------------------------------------------------------------


@dataclass
class Report:
    command: str
    date: str
    machine: dict[str, str]
    args: argparse.Namespace
    pragmas: dict[str, str]
    legato_tp: Throughput
    spiff_tp: Throughput
    legato_lat: Latency
    spiff_lat: Latency
    memory: Memory | None
    load: tuple[float, float] = (0.0, 0.0)
    """The 1-minute load average at the start and at the end of the run."""

    @property
    def ratio(self) -> float:
        return self.legato_tp.per_second / self.spiff_tp.per_second

    def markdown(self) -> str:
        a = self.args
        lt, st = self.legato_tp, self.spiff_tp
        ll, sl = self.legato_lat, self.spiff_lat
        lp50, lp99 = percentile(ll.wall_ms, 50), percentile(ll.wall_ms, 99)
        sp50, sp99 = percentile(sl.wall_ms, 50), percentile(sl.wall_ms, 99)
        ep50, ep99 = percentile(ll.engine_ms, 50), percentile(ll.engine_ms, 99)
        lines = [
            f"## {SECTION_TITLE}",
            "",
            f"- Command: `{self.command}` (from the repository root)",
            f"- Date: {self.date}",
            *(f"- {name}: {value}" for name, value in self.machine.items()),
            f"- Workload: `{display_path(a.bpmn)}`; scores alternate {HIGH_SCORE} (B) and "
            f"{LOW_SCORE} (C); every handler does nothing. Every instance was checked: completed, "
            "right branch.",
            f"- Legato: SQLite file in a temporary directory, journal_mode="
            f"{self.pragmas['journal_mode']}, synchronous={self.pragmas['synchronous']}, "
            f"batch_size={a.batch_size}. SpiffWorkflow: in memory, no persistence.",
            f"- Load average (1 min) at the start and at the end of the run: "
            f"{self.load[0]:.1f} and {self.load[1]:.1f} (the machine is shared: wall times "
            "vary with the other work on it; CPU times less so).",
            "",
            "| Measure | Legato (durable) | SpiffWorkflow (in memory) | Legato / Spiff |",
            "|---|---:|---:|---:|",
            f"| Throughput, {lt.instances:,} instances (instances/s) | {lt.per_second:,.0f} "
            f"| {st.per_second:,.0f} | {self.ratio:.2f}x |",
            f"| Throughput wall time (s) | {lt.seconds:.1f} | {st.seconds:.1f} | |",
            f"| CPU time per instance, throughput run (ms) | {lt.cpu_ms_per_instance:.2f} "
            f"| {st.cpu_ms_per_instance:.2f} "
            f"| {lt.cpu_ms_per_instance / st.cpu_ms_per_instance:.2f}x |",
            f"| Latency p50, {len(ll.wall_ms)} single instances (ms) | {lp50:.1f} "
            f"| {sp50:.2f} | {lp50 / sp50:.1f}x |",
            f"| Latency p99 (ms) | {lp99:.1f} | {sp99:.2f} | {lp99 / sp99:.1f}x |",
            "",
            f"Legato throughput detail: starting the {lt.instances:,} instances took "
            f"{lt.start_seconds:.1f} s (start_many, one transaction per batch), running their "
            f"{lt.instances * JOBS_PER_INSTANCE:,} jobs to the end took {lt.drain_seconds:.1f} s; "
            f"the engine's own record (first InstanceCreated to last InstanceCompleted) spans "
            f"{lt.engine_span_seconds:.1f} s. Legato latency as the engine records it "
            f"(InstanceCreated to InstanceCompleted): p50 {ep50:.1f} ms, p99 {ep99:.1f} ms.",
            "",
        ]
        if self.memory is not None:
            m = self.memory
            mark = m.mark()
            last = m.points[-1]
            lines += [
                f"Memory: {last.completed:,} instances through Legato in batches of "
                f"{a.memory_batch:,} ({m.seconds:.0f} s). RSS (VmRSS after gc.collect()) "
                f"after each batch:",
                "",
                "| Completed instances | RSS (MiB) | Database + WAL (MiB) | Elapsed (s) |",
                "|---:|---:|---:|---:|",
                *(
                    f"| {p.completed:,} | {p.rss_mb:.1f} | {p.db_mb:.1f} | {p.elapsed:.0f} |"
                    for p in m.points
                ),
                "",
                f"From {mark.completed:,} to {last.completed:,} completed instances RSS went from "
                f"{mark.rss_mb:.1f} to {last.rss_mb:.1f} MiB ({m.growth_mb:+.1f} MiB, "
                f"{m.growth_ratio * 100:+.1f} %; least-squares slope "
                f"{m.slope_kb_per_10k:+.0f} KiB per 10,000 instances); peak RSS of the whole "
                f"benchmark process {m.peak_rss_mb:.1f} MiB.",
                "",
            ]
        lines += [
            "Targets:",
            "",
            "| Target | Measured | Met |",
            "|---|---|---|",
            f"| Legato durable throughput >= {TARGET_THROUGHPUT_RATIO:.0f}x SpiffWorkflow "
            f"in memory | {self.ratio:.2f}x | {yes(self.ratio >= TARGET_THROUGHPUT_RATIO)} |",
            f"| Single-instance p99 < {TARGET_P99_MS:.0f} ms | {lp99:.1f} ms "
            f"| {yes(lp99 < TARGET_P99_MS)} |",
        ]
        if self.memory is not None:
            m = self.memory
            lines.append(
                f"| Memory flat over {m.points[-1].completed:,} completed instances "
                f"(growth after {m.mark().completed:,} <= {FLAT_TOLERANCE * 100:.0f} %) "
                f"| {m.growth_ratio * 100:+.1f} % | {yes(m.flat)} |"
            )
        else:
            lines.append("| Memory flat over 100,000 completed instances | not run | - |")
        lines.append("")
        return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=5_000, help="throughput instances")
    parser.add_argument(
        "--spiff-instances", type=int, default=None, help="SpiffWorkflow throughput instances"
    )
    parser.add_argument("--latency-samples", type=int, default=500)
    parser.add_argument(
        "--memory-instances", type=int, default=100_000, help="0 skips the memory run"
    )
    parser.add_argument("--memory-batch", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=200, help="Legato's batch_size")
    parser.add_argument("--warm-up", type=int, default=20, help="untimed instances first")
    parser.add_argument("--bpmn", type=Path, default=DEFAULT_BPMN)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    if args.spiff_instances is None:
        args.spiff_instances = args.instances
    for name in ("instances", "spiff_instances", "latency_samples", "memory_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)

    def log(message: str) -> None:
        print(message, flush=True)

    machine = machine_facts(
        {
            "SQLite": sqlite3.sqlite_version,
            "SQLAlchemy": sa.__version__,
            "SpiffWorkflow": version_of("SpiffWorkflow"),
        }
    )
    command = shlex.join(["python", "bench/onboarding.py", *raw])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_at_start = os.getloadavg()[0]
    log(f"{SECTION_TITLE}: {command}")
    for name, value in machine.items():
        log(f"  {name}: {value}")

    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        probe = open_legato(Path(tmp) / "probe.db", args.bpmn, args.batch_size)
        pragmas = sqlite_pragmas(probe)
        probe.close()
    log(f"  Legato SQLite: {pragmas}")

    runner = SpiffRunner(args.bpmn)
    log(f"throughput: SpiffWorkflow, {args.spiff_instances:,} instances ...")
    spiff_tp = spiff_throughput(runner, args.spiff_instances, args.warm_up)
    log(f"  {spiff_tp.per_second:,.0f} instances/s ({spiff_tp.seconds:.1f} s)")
    log(f"throughput: Legato, {args.instances:,} instances ...")
    legato_tp = legato_throughput(args.bpmn, args.instances, args.batch_size, args.warm_up)
    log(
        f"  {legato_tp.per_second:,.0f} instances/s ({legato_tp.seconds:.1f} s: start "
        f"{legato_tp.start_seconds:.1f} s, run {legato_tp.drain_seconds:.1f} s; CPU "
        f"{legato_tp.cpu_ms_per_instance:.2f} ms per instance)"
    )

    log(f"latency: {args.latency_samples} single instances each ...")
    spiff_lat = spiff_latency(runner, args.latency_samples)
    legato_lat = legato_latency(args.bpmn, args.latency_samples, args.batch_size, args.warm_up)
    for name, lat in (("Legato", legato_lat), ("SpiffWorkflow", spiff_lat)):
        log(
            f"  {name}: p50 {percentile(lat.wall_ms, 50):.2f} ms, "
            f"p99 {percentile(lat.wall_ms, 99):.2f} ms"
        )

    memory = None
    if args.memory_instances > 0:
        log(f"memory: {args.memory_instances:,} instances in batches of {args.memory_batch:,} ...")
        memory = legato_memory(
            args.bpmn,
            args.memory_instances,
            args.memory_batch,
            args.batch_size,
            args.warm_up,
            log,
        )

    report = Report(
        command,
        date,
        machine,
        args,
        pragmas,
        legato_tp,
        spiff_tp,
        legato_lat,
        spiff_lat,
        memory,
        (load_at_start, os.getloadavg()[0]),
    )
    publish(report.markdown(), SECTION_TITLE, args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
