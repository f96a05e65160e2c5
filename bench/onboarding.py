"""Core-engine benchmark: the "onboarding" workload on Legato and on SpiffWorkflow.

The workload (``<repo>/../shared/bench/onboarding.bpmn``): start -> service task A ->
exclusive gateway on ``score > 700`` (B, else C) -> parallel D and E -> join -> F -> end.
Every service task has job type ``noop`` and its handler does nothing but count the job;
instances alternate ``score`` 800 (takes B) and 600 (takes C).

Legato runs durably: a SQLite file in a temporary directory, WAL, ``synchronous=FULL`` (the
engine's defaults; the script reads the pragmas back and prints them). SpiffWorkflow 3.2 runs
the same model in memory, without any persistence, in both of its ways of running service
tasks, and its faster one is the peer:

- ``inline``: the way its documentation runs service tasks. The model is read by its
  ``SpiffBpmnParser`` with a ``spiffworkflow:serviceTaskOperator`` added to each service task,
  and ``do_engine_steps()`` calls the operation through the script engine's environment
  (``call_service``), which does nothing.
- ``driver``: the model as it is, read by the plain ``BpmnParser``: service tasks wait in
  state STARTED and the driver loop completes them.

Measured in one run:

1. Legato batched: ``--instances`` instances in flight at once (``start_many``, then
   ``run_until_idle``; every batch of commands shares one commit). Instances per second, CPU
   per instance, each instance's start to end as the engine records it (p50, p99), and every
   garbage-collection pause of the run (``gc.callbacks``); then, with ``--instances`` more
   instances waiting in the engine's cache, one full collection (``gc.collect()``).
2. Legato one at a time: ``--single-instances`` instances, each started and run to its end
   before the next (``start``, then ``run_until_idle``), as a request-driven service does.
   Instances per second, CPU per instance, latency p50/p99, and the transactions per instance
   (commits, and those that wrote nothing).
3. SpiffWorkflow, both ways, ``--spiff-instances`` instances one after the other: instances
   per second, CPU per instance, latency p50/p99.
4. The durable floor (``<repo>/../shared/bench/durable_floor.py``, if present): a minimal
   durable engine under the same durability contract, a yardstick of what CPython can do. Run
   as a subprocess with ``--history event`` and ``--history command`` (batched), and one
   instance at a time.
5. Memory: ``--memory-instances`` instances through Legato in batches of ``--memory-batch``;
   resident set size (``VmRSS``, after ``gc.collect()``) after each batch. Growth from the
   20,000 mark to the end decides whether memory is flat (within ``FLAT_TOLERANCE``).

Every instance is checked outside the timed sections: the handler saw each job exactly once
(its own count, not ``run_until_idle``'s return value), and each instance's history shows it
completed on the right branch with each of its five jobs completed once.

Run from the repository root::

    .venv/bin/python bench/onboarding.py                       # full run, writes RESULTS.md
    .venv/bin/python bench/onboarding.py --instances 500 --spiff-instances 300 \\
        --single-instances 100 --memory-instances 3000 --memory-batch 500 --no-write

The results replace the section "Core engine: onboarding workload" of ``bench/RESULTS.md``
(other sections are kept) unless ``--no-write`` is given.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from legato import Engine, Job
from legato.security.keyring import KeyRing, new_key

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BPMN = REPO.parent / "shared" / "bench" / "onboarding.bpmn"
DEFAULT_FLOOR = REPO.parent / "shared" / "bench" / "durable_floor.py"
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
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

TARGET_BATCHED_RATIO = 5.0
"""Legato batched, durable, against SpiffWorkflow's faster way in memory (on the way to 10x)."""
TARGET_SINGLE_RATIO = 1.0
"""Legato one instance at a time, durable, against SpiffWorkflow's faster way in memory."""
TARGET_P99_MS = 5.0
"""Latency p99 of Legato one instance at a time."""
TARGET_GC_PAUSE_MS = 10.0
"""The longest garbage-collection pause of Legato's batched run."""


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


def log(message: str) -> None:
    print(message, flush=True)


# -- Legato ---------------------------------------------------------------------------------------


class JobCounter:
    """The handler of every service task: does nothing but count each job it is given."""

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}
        self._lock = threading.Lock()  # the first calls of a handler run on slot threads

    def handler(self) -> Callable[[Job], None]:
        seen, lock = self.seen, self._lock

        def noop(job: Job) -> None:
            with lock:
                seen[job.key] = seen.get(job.key, 0) + 1

        return noop

    def check(self, instances: int, what: str) -> None:
        """Fail unless the handler saw ``instances`` instances' jobs, each exactly once; then
        forget them."""
        twice = sum(1 for count in self.seen.values() if count != 1)
        if len(self.seen) != instances * JOBS_PER_INSTANCE or twice:
            raise RuntimeError(
                f"{what}: the handler saw {len(self.seen)} jobs ({twice} more than once) for "
                f"{instances} instances, not {instances * JOBS_PER_INSTANCE} once each"
            )
        self.seen.clear()


def open_legato(db_path: Path, bpmn: Path, batch_size: int, counter: JobCounter) -> Engine:
    engine = Engine(f"sqlite:///{db_path}", batch_size=batch_size)
    engine.deploy(bpmn)
    engine.register(JOB_TYPE, counter.handler())
    return engine


def check_legato(engine: Engine, key: int, score: int) -> float:
    """Fail unless the instance completed on the right branch, each job completed once;
    returns its start-to-end time (ms) as the engine recorded it."""
    history = engine.history(key)
    activated = [h.element_id for h in history if h.event_type == "ElementActivated"]
    taken, other = branch_for(score)
    created = [h.at for h in history if h.event_type == "InstanceCreated"]
    completed = [h.at for h in history if h.event_type == "InstanceCompleted"]
    jobs = sum(1 for h in history if h.event_type == "JobCompleted")
    if (
        len(created) != 1
        or len(completed) != 1
        or jobs != JOBS_PER_INSTANCE
        or taken not in activated
        or other in activated
        or not {"A", "D", "E", "F"} <= set(activated)
    ):
        raise RuntimeError(
            f"Legato instance {key} (score {score}): ran {activated}, {jobs} jobs completed, "
            f"{len(completed)} completion(s)"
        )
    if engine.instance(key).status != "completed":
        raise RuntimeError(f"Legato instance {key} (score {score}) did not complete")
    return (completed[0] - created[0]).total_seconds() * 1000.0


def check_all(engine: Engine, started: Sequence[tuple[int, int]]) -> list[float]:
    """Check every instance (see :func:`check_legato`); their recorded times (ms)."""
    return [check_legato(engine, key, score) for key, score in started]


def legato_warm_up(engine: Engine, counter: JobCounter, count: int) -> None:
    started = [
        (engine.start(PROCESS_ID, {"score": score_for(i)}).key, score_for(i)) for i in range(count)
    ]
    engine.run_until_idle()
    counter.check(count, "Legato warm-up")
    check_all(engine, started)


class Transactions:
    """Counts the commits of an engine's SQLite store, and those that changed no row.

    Rows changed are read from the DBAPI connection (``sqlite3.Connection.total_changes``):
    the store runs its hot statements on the DBAPI cursor, where SQLAlchemy's statement
    events do not see them.
    """

    def __init__(self, engine: Engine) -> None:
        sa_engine = getattr(engine.store, "engine", None)
        self.available = isinstance(sa_engine, sa.Engine)
        self.commits = 0
        self.read_only = 0
        self._changes_at_begin = 0
        if isinstance(sa_engine, sa.Engine):
            sa.event.listen(sa_engine, "begin", self._begin)
            sa.event.listen(sa_engine, "commit", self._commit)

    @staticmethod
    def _changes(connection: sa.Connection) -> int:
        dbapi = connection.connection.dbapi_connection
        return int(getattr(dbapi, "total_changes", 0))

    def _begin(self, connection: sa.Connection) -> None:
        self._changes_at_begin = self._changes(connection)

    def _commit(self, connection: sa.Connection) -> None:
        self.commits += 1
        if self._changes(connection) == self._changes_at_begin:
            self.read_only += 1


# -- SpiffWorkflow --------------------------------------------------------------------------------


class NoopServices(TaskDataEnvironment):
    """The script environment that runs every service task's operation: it does nothing."""

    def call_service(
        self, context: dict[str, Any], operation_name: str, operation_params: dict[str, Any]
    ) -> str:
        return "null"  # JSON: the operation's result, stored in the task data


def with_service_operators(bpmn: Path) -> etree._Element:
    """The model with a ``spiffworkflow:serviceTaskOperator`` on every service task: how
    SpiffWorkflow's own modeler says which operation a service task calls."""
    root = etree.parse(str(bpmn)).getroot()
    for task in root.iter(f"{{{BPMN_NS}}}serviceTask"):
        extensions = task.find(f"{{{BPMN_NS}}}extensionElements")
        if extensions is None:
            extensions = etree.Element(f"{{{BPMN_NS}}}extensionElements")
            task.insert(0, extensions)
        etree.SubElement(extensions, f"{{{SPIFF_NS}}}serviceTaskOperator", id=JOB_TYPE)
    return root


class SpiffRunner:
    """Runs the workload with SpiffWorkflow in memory, in one of its two ways (the module
    docstring); the model is parsed once."""

    def __init__(self, bpmn: Path, mode: str) -> None:
        self.mode = mode
        self.script_engine: PythonScriptEngine | None = None
        if mode == "inline":
            parser = SpiffBpmnParser()
            parser.add_bpmn_xml(with_service_operators(bpmn), filename=str(bpmn))
            self.script_engine = PythonScriptEngine(environment=NoopServices())
        else:
            parser = BpmnParser()
            parser.add_bpmn_file(str(bpmn))
        self.spec: BpmnProcessSpec = parser.get_spec(PROCESS_ID)

    def run(self, score: int) -> BpmnWorkflow:
        workflow = BpmnWorkflow(self.spec, script_engine=self.script_engine)
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
class Run:
    """Instances run to their end, timed: wall and CPU time, and each instance's latency."""

    name: str
    instances: int
    seconds: float
    cpu_seconds: float
    """Process CPU time (user + system) of the timed section: less sensitive to the other
    work on a shared machine than the wall time."""
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per instance."""
        return self.cpu_seconds / self.instances * 1000.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


@dataclass
class GcPause:
    generation: int
    wall_ms: float
    cpu_ms: float
    """The collecting thread's CPU time: what the pause costs without the machine's other
    work."""


class GcWatch:
    """Records every garbage collection while active (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.pauses: list[GcPause] = []
        self._started = (0.0, 0.0)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = (time.perf_counter(), time.thread_time())
            return
        wall, cpu = self._started
        self.pauses.append(
            GcPause(
                info["generation"],
                (time.perf_counter() - wall) * 1000.0,
                (time.thread_time() - cpu) * 1000.0,
            )
        )

    @contextmanager
    def watching(self) -> Iterator[GcWatch]:
        gc.callbacks.append(self._callback)
        try:
            yield self
        finally:
            gc.callbacks.remove(self._callback)

    def longest(self) -> GcPause | None:
        return max(self.pauses, key=lambda p: p.wall_ms, default=None)

    def count(self, generation: int) -> int:
        return sum(1 for p in self.pauses if p.generation == generation)

    def cpu_ms(self) -> float:
        """The CPU time of all the collections, in milliseconds."""
        return sum(p.cpu_ms for p in self.pauses)


@dataclass
class Batched:
    run: Run
    start_seconds: float
    drain_seconds: float
    gc: GcWatch
    full_collection: GcPause
    """A full collection (``gc.collect()``) with ``run.instances`` instances cached."""


@dataclass
class Single:
    run: Run
    commits: float
    """Commits per instance (NaN when the store is not SQL)."""
    read_only: float
    """Of which changed no row."""


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


@dataclass
class Floor:
    """One run of the durable floor: its own figures, as it prints them."""

    label: str
    per_second: float
    cpu_ms: float


def start_batched(engine: Engine, first: int, count: int, batch_size: int) -> list[tuple[int, int]]:
    """Start ``count`` instances, ``batch_size`` per transaction; their (key, score)."""
    started: list[tuple[int, int]] = []
    for begin in range(first, first + count, batch_size):
        scores = [score_for(i) for i in range(begin, min(begin + batch_size, first + count))]
        infos = engine.start_many(PROCESS_ID, [{"score": s} for s in scores])
        started += [(info.key, s) for info, s in zip(infos, scores, strict=True)]
    return started


def legato_batched(bpmn: Path, n: int, batch_size: int, warm_up: int) -> Batched:
    counter = JobCounter()
    watch = GcWatch()
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        engine = open_legato(Path(tmp) / "batched.db", bpmn, batch_size, counter)
        try:
            legato_warm_up(engine, counter, warm_up)
            with watch.watching():
                c0 = time.process_time()
                t0 = time.perf_counter()
                # Starts are submitted in batches (one transaction per batch_size starts), the
                # way a service under load hands many starts to the engine at once.
                started = start_batched(engine, 0, n, batch_size)
                t1 = time.perf_counter()
                engine.run_until_idle()
                t2 = time.perf_counter()
                cpu = time.process_time() - c0
            counter.check(n, "Legato batched")
            latencies = check_all(engine, started)
            # The same number of instances again, all waiting in the cache: one full collection.
            more = start_batched(engine, n, n, batch_size)
            g0, g1 = time.perf_counter(), time.thread_time()
            gc.collect()
            full = GcPause(
                2, (time.perf_counter() - g0) * 1000.0, (time.thread_time() - g1) * 1000.0
            )
            engine.run_until_idle()
            counter.check(n, "Legato batched, after the full collection")
            check_all(engine, more)
        finally:
            engine.close()
    run = Run("Legato batched", n, t2 - t0, cpu, latencies)
    return Batched(run, t1 - t0, t2 - t1, watch, full)


def legato_single(bpmn: Path, n: int, batch_size: int, warm_up: int) -> Single:
    counter = JobCounter()
    latencies: list[float] = []
    started: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        engine = open_legato(Path(tmp) / "single.db", bpmn, batch_size, counter)
        try:
            legato_warm_up(engine, counter, warm_up)
            transactions = Transactions(engine)
            cpu = wall = 0.0
            for i in range(n):
                score = score_for(i)
                c0 = time.process_time()
                t0 = time.perf_counter()
                key = engine.start(PROCESS_ID, {"score": score}).key
                engine.run_until_idle()
                elapsed = time.perf_counter() - t0
                cpu += time.process_time() - c0
                wall += elapsed
                latencies.append(elapsed * 1000.0)
                started.append((key, score))
            commits, read_only = transactions.commits, transactions.read_only
            counter.check(n, "Legato one at a time")
            check_all(engine, started)
        finally:
            engine.close()
    unknown = float("nan")  # not a SQL store: its commits are not counted
    commits_per = commits / n if transactions.available else unknown
    read_only_per = read_only / n if transactions.available else unknown
    run = Run("Legato one at a time", n, wall, cpu, latencies)
    return Single(run, commits_per, read_only_per)


def spiff_run(bpmn: Path, mode: str, n: int, warm_up: int) -> Run:
    runner = SpiffRunner(bpmn, mode)
    for i in range(warm_up):
        check_spiff(runner.run(score_for(i)), score_for(i))
    latencies: list[float] = []
    cpu = 0.0
    for i in range(n):
        score = score_for(i)
        c0 = time.process_time()
        t0 = time.perf_counter()
        workflow = runner.run(score)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        cpu += time.process_time() - c0
        check_spiff(workflow, score)
    return Run(f"SpiffWorkflow, {mode}", n, sum(latencies) / 1000.0, cpu, latencies)


FLOOR_LINE = re.compile(r"([\d,]+) inst/s, CPU ([\d.]+) ms/inst")
FLOOR_BATCH = 200
"""The durable floor starts instances 200 at a time: its batched runs take multiples of it."""


def durable_floor(script: Path, n: int, single: int) -> list[Floor]:
    """Run the durable floor beside this run (batched in both history modes, and one at a
    time); nothing when the script is absent."""
    if not script.exists():
        log(f"durable floor: {display_path(script)} not found, skipped")
        return []
    batched = str(max(n // FLOOR_BATCH, 1) * FLOOR_BATCH)
    floors = []
    for label, extra in (
        ("batched, one history row per event", ["--history", "event", "--n", batched]),
        ("batched, one history row per command", ["--history", "command", "--n", batched]),
        (
            "one at a time, one history row per event",
            ["--history", "event", "--mode", "single", "--n", str(single)],
        ),
    ):
        log(f"durable floor: {label} ...")
        done = subprocess.run(
            [sys.executable, str(script), *extra],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        found = FLOOR_LINE.search(done.stdout)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"durable floor {extra} failed: {done.stdout}{done.stderr}")
        floor = Floor(label, float(found[1].replace(",", "")), float(found[2]))
        log(f"  {floor.per_second:,.0f} instances/s, CPU {floor.cpu_ms:.3f} ms per instance")
        floors.append(floor)
    return floors


def legato_memory(bpmn: Path, total: int, batch: int, batch_size: int, warm_up: int) -> Memory:
    counter = JobCounter()
    points: list[MemoryPoint] = []
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        db_path = Path(tmp) / "memory.db"
        engine = open_legato(db_path, bpmn, batch_size, counter)
        try:
            legato_warm_up(engine, counter, warm_up)
            gc.collect()
            log(f"  memory: before the run RSS {rss_mb():.1f} MiB")
            elapsed = 0.0
            completed = 0
            while completed < total:
                count = min(batch, total - completed)
                t0 = time.perf_counter()
                started = [
                    (engine.start(PROCESS_ID, {"score": score_for(i)}).key, score_for(i))
                    for i in range(completed, completed + count)
                ]
                engine.run_until_idle()
                elapsed += time.perf_counter() - t0
                counter.check(count, "Legato memory run")
                check_all(engine, started)  # not timed
                del started
                completed += count
                gc.collect()
                point = MemoryPoint(completed, rss_mb(), file_mb(db_path), elapsed)
                points.append(point)
                log(
                    f"  memory: {completed:>7,} completed  RSS {point.rss_mb:7.1f} MiB  "
                    f"db {point.db_mb:7.1f} MiB  {point.elapsed:6.0f} s"
                )
            if engine.instances(status="active", limit=1):
                raise RuntimeError("Legato left active instances after the memory run")
        finally:
            engine.close()
    # ru_maxrss is updated lazily; never report a peak below a sampled value.
    return Memory(points, max(peak_rss_mb(), *(p.rss_mb for p in points)), elapsed)


# -- report ---------------------------------------------------------------------------------------


@dataclass
class Report:
    command: str
    date: str
    machine: dict[str, str]
    args: argparse.Namespace
    pragmas: dict[str, str]
    batched: Batched
    single: Single
    spiff: list[Run]
    floors: list[Floor]
    memory: Memory | None
    load: tuple[float, float] = (0.0, 0.0)
    """The 1-minute load average at the start and at the end of the run."""

    @property
    def peer(self) -> Run:
        """SpiffWorkflow's faster way, by CPU per instance (its runs use one core only)."""
        return min(self.spiff, key=lambda run: run.cpu_ms)

    def markdown(self) -> str:
        return "\n".join(
            [
                f"## {SECTION_TITLE}",
                "",
                *self._setup(),
                "",
                *self._table(),
                "",
                *self._details(),
                "",
                *self._memory(),
                *self._targets(),
                "",
            ]
        )

    def _setup(self) -> list[str]:
        a = self.args
        return [
            f"- Command: `{self.command}` (from the repository root)",
            f"- Date: {self.date}",
            *(f"- {name}: {value}" for name, value in self.machine.items()),
            f"- Workload: `{display_path(a.bpmn)}`; scores alternate {HIGH_SCORE} (B) and "
            f"{LOW_SCORE} (C); every handler does nothing but count its job. Every instance "
            "was checked: the handler saw each job once (its own count), and the history "
            "shows the instance completed on the right branch, each job completed once.",
            f"- Legato: SQLite file in a temporary directory, journal_mode="
            f"{self.pragmas['journal_mode']}, synchronous={self.pragmas['synchronous']}, "
            f"batch_size={a.batch_size}. SpiffWorkflow: in memory, no persistence; "
            "`inline` runs the service tasks inside `do_engine_steps()` through its script "
            "engine's `call_service` (its documented way, the model read by `SpiffBpmnParser` "
            "with a `spiffworkflow:serviceTaskOperator` on each service task), `driver` "
            "completes them from the driver loop (plain `BpmnParser`). The peer is the faster "
            f"of the two by CPU per instance: `{self.peer.name.split(', ')[1]}`.",
            f"- Load average (1 min) at the start and at the end of the run: "
            f"{self.load[0]:.1f} and {self.load[1]:.1f} (the machine is shared: wall times "
            "vary with the other work on it; CPU times less so).",
        ]

    def _table(self) -> list[str]:
        peer = self.peer
        rows = [
            ("Legato batched (durable)", self.batched.run, "start to end as recorded"),
            ("Legato one at a time (durable)", self.single.run, "start to end"),
            *((run.name + " (in memory)", run, "one run") for run in self.spiff),
        ]
        lines = [
            "| Run | Instances | Instances/s | vs Spiff (throughput) | CPU ms per instance "
            "| vs Spiff (CPU) | Latency p50 (ms) | p99 (ms) | Latency is |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for label, run, latency in rows:
            lines.append(
                f"| {label} | {run.instances:,} | {run.per_second:,.0f} "
                f"| {run.per_second / peer.per_second:.2f}x | {run.cpu_ms:.3f} "
                f"| {peer.cpu_ms / run.cpu_ms:.2f}x | {run.p50:.2f} | {run.p99:.2f} | {latency} |"
            )
        for floor in self.floors:
            lines.append(
                f"| Durable floor, {floor.label} | | {floor.per_second:,.0f} "
                f"| {floor.per_second / peer.per_second:.2f}x | {floor.cpu_ms:.3f} "
                f"| {peer.cpu_ms / floor.cpu_ms:.2f}x | | | |"
            )
        return lines

    def _details(self) -> list[str]:
        b, s = self.batched, self.single
        longest = b.gc.longest()
        pause = (
            f"the longest {longest.wall_ms:.1f} ms (generation {longest.generation}, "
            f"{longest.cpu_ms:.1f} ms of CPU)"
            if longest is not None
            else "none"
        )
        floor = (
            f"`{display_path(self.args.durable_floor)}`, run as a subprocess in the same run: "
            "a minimal durable engine under the same durability contract (group commit on "
            "SQLite WAL with synchronous=FULL, a revision-checked state row, history rows, job "
            "rows), a yardstick of what CPython can do, not a design"
            if self.floors
            else f"not run (`{display_path(self.args.durable_floor)}` not found)"
        )
        commits = (
            f"{s.commits:.1f} commits per instance, {s.read_only:.1f} of them changing no row"
            if s.commits == s.commits  # not NaN
            else "commits not counted (not a SQL store)"
        )
        return [
            f"Legato batched: {b.run.instances:,} instances started in {b.start_seconds:.1f} s "
            f"(start_many, one transaction per batch), their {b.run.instances * 5:,} jobs run "
            f"to the end in {b.drain_seconds:.1f} s. Garbage collection during the run: "
            f"{len(b.gc.pauses):,} collections (generation 0: {b.gc.count(0):,}, 1: "
            f"{b.gc.count(1):,}, 2: {b.gc.count(2):,}), {b.gc.cpu_ms() / b.run.instances:.3f} ms "
            f"of CPU per instance in all, {pause}; a full collection "
            f"(`gc.collect()`) with {b.run.instances:,} more instances waiting in the engine's "
            f"cache took {b.full_collection.wall_ms:.1f} ms "
            f"({b.full_collection.cpu_ms:.1f} ms of CPU).",
            "",
            f"Legato one at a time: {commits}.",
            "",
            f"Durable floor: {floor}.",
        ]

    def _memory(self) -> list[str]:
        if self.memory is None:
            return []
        m = self.memory
        mark = m.mark()
        last = m.points[-1]
        return [
            f"Memory: {last.completed:,} instances through Legato in batches of "
            f"{self.args.memory_batch:,} ({m.seconds:.0f} s running them, checks not counted). "
            "RSS (VmRSS after gc.collect()) after each batch:",
            "",
            "| Completed instances | RSS (MiB) | Database + WAL (MiB) | Running time (s) |",
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

    def _targets(self) -> list[str]:
        peer = self.peer
        batched = self.batched.run.per_second / peer.per_second
        single = self.single.run.per_second / peer.per_second
        p99 = self.single.run.p99
        longest = self.batched.gc.longest()
        pause = longest.wall_ms if longest is not None else 0.0
        lines = [
            "Targets (issue 14; throughput ratios against SpiffWorkflow's faster way, "
            f"`{peer.name.split(', ')[1]}`, in the same run):",
            "",
            "| Target | Measured | Met |",
            "|---|---|---|",
            f"| Legato batched, durable >= {TARGET_BATCHED_RATIO:.0f}x SpiffWorkflow in memory "
            f"(on the way to 10x) | {batched:.2f}x | {yes(batched >= TARGET_BATCHED_RATIO)} |",
            f"| Legato one at a time, durable >= {TARGET_SINGLE_RATIO:.0f}x SpiffWorkflow in "
            f"memory | {single:.2f}x | {yes(single >= TARGET_SINGLE_RATIO)} |",
            f"| Legato one at a time, p99 < {TARGET_P99_MS:.0f} ms | {p99:.2f} ms "
            f"| {yes(p99 < TARGET_P99_MS)} |",
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
        lines.append(
            f"| No garbage-collection pause over {TARGET_GC_PAUSE_MS:.0f} ms (batched run, "
            f"{self.batched.run.instances:,} instances cached) | {pause:.1f} ms "
            f"| {yes(pause <= TARGET_GC_PAUSE_MS)} |"
        )
        return lines


# -- the cost of the analytics facts and the metrics ----------------------------------------------

PROJECTIONS_TITLE = "Analytics facts: cost on the onboarding workload"
VARIANTS = {
    "neither": {"metrics": False, "analytics": False},
    "metrics": {"metrics": True, "analytics": False},
    "analytics": {"metrics": False, "analytics": True},
    "both (the default)": {"metrics": True, "analytics": True},
}
"""The engines compared by ``--projections``: metrics and analytics facts on or off."""
TARGET_PROJECTIONS = 0.15
"""Analytics facts and metrics together: at most 15 % more CPU per instance than neither."""


def projection_cost(
    bpmn: Path,
    instances: int,
    rounds: int,
    batch_size: int,
    variants: dict[str, dict[str, Any]] = VARIANTS,
) -> dict[str, list[tuple[float, float]]]:
    """(CPU ms per instance, instances per second) of each variant per round, batched on
    SQLite; the variants alternate, in a rotated order each round, in one process."""
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    names = list(variants)
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        for round_ in range(rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                counter = JobCounter()
                url = f"sqlite:///{Path(tmp) / f'{round_}-{len(found[name])}-{name[:4]}.db'}"
                with Engine(url, batch_size=batch_size, **variants[name]) as engine:
                    engine.deploy(bpmn)
                    engine.register(JOB_TYPE, counter.handler())
                    legato_warm_up(engine, counter, 200)
                    gc.collect()
                    began, wall = time.process_time(), time.perf_counter()
                    started = start_batched(engine, 0, instances, batch_size)
                    engine.run_until_idle()
                    cpu = (time.process_time() - began) / instances * 1000
                    found[name].append((cpu, instances / (time.perf_counter() - wall)))
                    counter.check(instances, name)
                    check_all(engine, started)
                log(f"  round {round_ + 1}, {name}: CPU {cpu:.3f} ms per instance")
    return found


def projection_report(command: str, found: dict[str, list[tuple[float, float]]]) -> str:
    machine = machine_facts({"SQLite": sqlite3.sqlite_version})
    lines = [f"## {PROJECTIONS_TITLE}", "", f"Command: `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    rounds = len(next(iter(found.values())))
    lines += [
        "",
        "Onboarding instances batched (SQLite, WAL, synchronous=FULL), the four engines "
        f"alternating in one process, {rounds} rounds; CPU time per instance and throughput. "
        f"Load average when the report was written: {os.getloadavg()[0]:.1f} (2 shared cores).",
        "",
        "| Engine | CPU per instance, median (ms) | min (ms) | Throughput, median (instances/s) |",
        "|---|---:|---:|---:|",
    ]
    median = {name: statistics.median(cpu for cpu, _ in runs) for name, runs in found.items()}
    for name, runs in found.items():
        rate = statistics.median(per_second for _, per_second in runs)
        lines.append(
            f"| {name} | {median[name]:.3f} | {min(c for c, _ in runs):.3f} | {rate:,.0f} |"
        )
    base = median["neither"]
    lines.append("")
    for name in ("metrics", "analytics", "both (the default)"):
        paired = paired_ratio(found[name], found["neither"])
        lines.append(
            f"- {name} vs neither: {100 * (median[name] / base - 1):+.1f} % CPU (medians), "
            f"{100 * (paired - 1):+.1f} % (median of the rounds' own ratios)"
        )
    both = median["both (the default)"] / base - 1
    both_paired = paired_ratio(found["both (the default)"], found["neither"]) - 1
    verdict = "met" if max(both, both_paired) <= TARGET_PROJECTIONS else "missed"
    lines.append(
        f"- target: analytics facts + metrics at most {TARGET_PROJECTIONS:.0%} more CPU than "
        f"neither, by both measures: {verdict}"
    )
    return "\n".join(lines) + "\n"


def paired_ratio(runs: list[tuple[float, float]], base: list[tuple[float, float]]) -> float:
    """The median over the rounds of a variant's CPU over the base's in the same round:
    the engines of a round run next to one another, so a load that changes between rounds
    moves both sides of each ratio."""
    return statistics.median(cpu / b for (cpu, _), (b, _) in zip(runs, base, strict=True))


# -- the cost of encryption at rest ---------------------------------------------------------------

ENCRYPTION_TITLE = "Encryption at rest: cost on the onboarding workload"


class ScoreSensitive:
    """The onboarding's one variable, ``score``, declared sensitive (no detector)."""

    detects = False

    def paths(self, process_id: str) -> Any:
        return (("score",),)

    def detect(self, text: str) -> bool:
        return False


def encryption_variants() -> dict[str, dict[str, Any]]:
    """The engines compared by ``--encryption``: no key ring, the score encrypted, every
    variable and event value encrypted (AES-256-GCM, one key)."""
    ring = KeyRing.of({"bench": new_key()})
    return {
        "plain": {},
        "sensitive (score)": {"keyring": ring, "sensitive": ScoreSensitive()},
        "everything": {"keyring": ring, "encryption": "everything"},
    }


def encryption_report(command: str, found: dict[str, list[tuple[float, float]]]) -> str:
    machine = machine_facts({"SQLite": sqlite3.sqlite_version})
    lines = [f"## {ENCRYPTION_TITLE}", "", f"Command: `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    rounds = len(next(iter(found.values())))
    lines += [
        "",
        "Onboarding instances batched (SQLite, WAL, synchronous=FULL), the engines alternating "
        f"in one process, {rounds} rounds; CPU time per instance and throughput. Load average "
        f"when the report was written: {os.getloadavg()[0]:.1f} (2 shared cores).",
        "",
        "| Engine | CPU per instance, median (ms) | min (ms) | Throughput, median (instances/s) |",
        "|---|---:|---:|---:|",
    ]
    median = {name: statistics.median(cpu for cpu, _ in runs) for name, runs in found.items()}
    for name, runs in found.items():
        rate = statistics.median(per_second for _, per_second in runs)
        lines.append(
            f"| {name} | {median[name]:.3f} | {min(c for c, _ in runs):.3f} | {rate:,.0f} |"
        )
    lines.append("")
    for name in list(found)[1:]:
        change = 100 * (median[name] / median["plain"] - 1)
        lines.append(f"- {name} vs plain: {change:+.1f} % CPU (medians)")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--instances", type=int, default=10_000, help="Legato batched instances (all cached)"
    )
    parser.add_argument(
        "--spiff-instances", type=int, default=5_000, help="SpiffWorkflow instances, each way"
    )
    parser.add_argument(
        "--single-instances", type=int, default=1_000, help="Legato one at a time instances"
    )
    parser.add_argument(
        "--memory-instances", type=int, default=100_000, help="0 skips the memory run"
    )
    parser.add_argument("--memory-batch", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=200, help="Legato's batch_size")
    parser.add_argument("--warm-up", type=int, default=20, help="untimed instances first")
    parser.add_argument("--bpmn", type=Path, default=DEFAULT_BPMN)
    parser.add_argument("--durable-floor", type=Path, default=DEFAULT_FLOOR)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument(
        "--projections",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only compare engines with analytics facts and metrics on and off, this many "
        "rounds of --instances instances each",
    )
    parser.add_argument(
        "--encryption",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only compare engines without encryption, with the score encrypted and with "
        "everything encrypted, this many rounds of --instances instances each",
    )
    args = parser.parse_args(argv)
    for name in ("instances", "spiff_instances", "single_instances", "memory_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
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
    if args.encryption > 0:
        log(f"{ENCRYPTION_TITLE}: {command}")
        found = projection_cost(
            args.bpmn, args.instances, args.encryption, args.batch_size, encryption_variants()
        )
        section = encryption_report(command, found)
        publish(section, ENCRYPTION_TITLE, args.results, write=not args.no_write)
        return 0
    if args.projections > 0:
        log(f"{PROJECTIONS_TITLE}: {command}")
        found = projection_cost(args.bpmn, args.instances, args.projections, args.batch_size)
        section = projection_report(command, found)
        publish(section, PROJECTIONS_TITLE, args.results, write=not args.no_write)
        return 0
    log(f"{SECTION_TITLE}: {command}")
    for name, value in machine.items():
        log(f"  {name}: {value}")

    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        probe = open_legato(Path(tmp) / "probe.db", args.bpmn, args.batch_size, JobCounter())
        pragmas = sqlite_pragmas(probe)
        probe.close()
    log(f"  Legato SQLite: {pragmas}")

    spiff = []
    for mode in ("inline", "driver"):
        log(f"SpiffWorkflow, {mode}: {args.spiff_instances:,} instances ...")
        run = spiff_run(args.bpmn, mode, args.spiff_instances, args.warm_up)
        log(f"  {run.per_second:,.0f} instances/s, CPU {run.cpu_ms:.3f} ms per instance")
        spiff.append(run)
    log(f"Legato batched: {args.instances:,} instances ...")
    batched = legato_batched(args.bpmn, args.instances, args.batch_size, args.warm_up)
    longest = batched.gc.longest()
    log(
        f"  {batched.run.per_second:,.0f} instances/s, CPU {batched.run.cpu_ms:.3f} ms per "
        f"instance; longest GC pause {longest.wall_ms if longest else 0.0:.1f} ms; a full "
        f"collection {batched.full_collection.wall_ms:.1f} ms"
    )
    log(f"Legato one at a time: {args.single_instances:,} instances ...")
    single = legato_single(args.bpmn, args.single_instances, args.batch_size, args.warm_up)
    log(
        f"  {single.run.per_second:,.0f} instances/s, CPU {single.run.cpu_ms:.3f} ms per "
        f"instance, p50 {single.run.p50:.2f} ms, p99 {single.run.p99:.2f} ms, "
        f"{single.commits:.1f} commits per instance ({single.read_only:.1f} changing no row)"
    )
    floors = durable_floor(args.durable_floor, args.instances, args.single_instances)

    memory = None
    if args.memory_instances > 0:
        log(f"memory: {args.memory_instances:,} instances in batches of {args.memory_batch:,} ...")
        memory = legato_memory(
            args.bpmn, args.memory_instances, args.memory_batch, args.batch_size, args.warm_up
        )

    report = Report(
        command,
        date,
        machine,
        args,
        pragmas,
        batched,
        single,
        spiff,
        floors,
        memory,
        (load_at_start, os.getloadavg()[0]),
    )
    publish(report.markdown(), SECTION_TITLE, args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
