"""Multi-node benchmark: the "onboarding" workload on PostgreSQL, Legato nodes and DBOS Transact.

The workload (``<repo>/../shared/bench/onboarding.bpmn``): start -> service task A ->
exclusive gateway on ``score > 700`` (B, else C) -> parallel D and E -> join -> F -> end.
Every step does nothing but count that it ran; instances alternate ``score`` 800 (B) and 600 (C).

Legato: ``--nodes`` (default 1,2,4) engine node processes, each an ``Engine`` on the same
PostgreSQL schema (a fresh one per run) with the handler registered, running ``engine.serve()``.
A client in this process (no handlers) starts instances with ``start_many`` in batches of
``--start-batch`` and keeps at most ``--in-flight`` unfinished (a closed loop: every
``--client-poll`` seconds it looks up which of its oldest unfinished instances completed), so
the nodes always find work without the backlog growing without bound.

DBOS Transact 3.x, the peer: the same steps as ``@DBOS.step`` functions in a ``@DBOS.workflow``
(A, then B or C, then D, E, F; DBOS runs the steps of a workflow one after the other), its
system database on the same PostgreSQL server (database ``legato_bench_dbos``, a fresh schema per
run), no Conductor and no OTLP export, so nothing leaves the machine. It runs node for node: as
many DBOS processes as a Legato run has nodes (each its own executor on the one system
database, with a share of the workflows), each keeping ``--dbos-threads`` (default 2,4,8,16)
workflows in flight with a thread pool, the closed loop of its own examples. The processes
warm up, then start the measured workflows together. For each number of processes the best
thread setting is the peer of Legato with that many nodes.

Both are measured the same way, from the rows each system writes: throughput = instances /
(last completion - first start) and latency per instance = completion - start (Legato:
``instances.started_at``/``ended_at``; DBOS: ``workflow_status.created_at``/``updated_at``).
An untimed warm-up of ``--warm-up`` instances runs first. Every run is checked: every instance
completed, took the right branch, and every step ran exactly the expected number of times.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, trust auth)::

    .venv/bin/python bench/multinode.py                       # full run, writes RESULTS.md
    .venv/bin/python bench/multinode.py --instances 600 --dbos-instances 200 --nodes 1,2 \\
        --dbos-threads 4,8 --no-write                         # quick check

The results replace the section "Multi-node: onboarding workload on PostgreSQL" of
``bench/RESULTS.md`` (other sections are kept) unless ``--no-write`` is given.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from _report import display_path, machine_facts, percentile, publish, version_of, yes

from legato import Engine, Job, StoreError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BPMN = REPO.parent / "shared" / "bench" / "onboarding.bpmn"
DEFAULT_RESULTS = REPO / "bench" / "RESULTS.md"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_DBOS_DATABASE = "legato_bench_dbos"
SECTION_TITLE = "Multi-node: onboarding workload on PostgreSQL"

PROCESS_ID = "onboarding"
JOB_TYPE = "noop"
HIGH_SCORE = 800  # takes B
LOW_SCORE = 600  # takes C (the default flow)
TARGET_RATIO = 20.0
PROBE = 400
"""The client looks up at most this many of its oldest unfinished instances per poll."""
RETRIED: list[str] = []
"""Runs repeated after a failure of the environment, reported with the results."""
SKIPPED: list[tuple[int, int]] = []
"""DBOS settings (processes, threads) not run: they would open too many connections."""


def score_for(index: int) -> int:
    return HIGH_SCORE if index % 2 == 0 else LOW_SCORE


def taken_branch(score: int) -> str:
    return "B" if score > 700 else "C"


def expected_steps(indexes: Sequence[int]) -> Counter[str]:
    """How often each step runs for the instances numbered ``indexes``."""
    ran: Counter[str] = Counter()
    for index in indexes:
        ran.update(("A", taken_branch(score_for(index)), "D", "E", "F"))
    return ran


def schema_url(server: str, schema: str) -> str:
    """``server`` with ``schema`` first on the search_path of every connection."""
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


def with_database(server: str, database: str) -> str:
    return sa.make_url(server).set(database=database).render_as_string(hide_password=False)


@contextmanager
def fresh_schema(server: str, prefix: str) -> Iterator[str]:
    """A new empty schema (its name), dropped afterwards: runs never see each other's rows."""
    admin = sa.create_engine(server)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield schema
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


# -- CPU accounting ------------------------------------------------------------------------------


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _ticks()


def process_cpu(pid: str) -> tuple[str, float]:
    """(command name, CPU seconds so far) of a process; ("", 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return "", 0.0
    name = text[text.find("(") + 1 : text.rfind(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, (int(fields[11]) + int(fields[12])) / _ticks()  # utime + stime


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by the live PostgreSQL processes (all databases, all users)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            name, seconds = process_cpu(entry)
            total += seconds if name == "postgres" else 0.0
    return total


@dataclass
class CpuMark:
    wall: float
    busy: float
    postgres: float
    own: float
    workers: float

    @classmethod
    def now(cls, workers: Sequence[int] = ()) -> CpuMark:
        return cls(
            time.monotonic(),
            machine_busy_seconds(),
            postgres_cpu_seconds(),
            time.process_time(),
            sum(process_cpu(str(pid))[1] for pid in workers),
        )


@dataclass
class CpuUse:
    """CPU seconds used between two marks, and the wall seconds between them."""

    wall: float
    machine_busy: float
    postgres: float
    client: float
    workers: float

    @classmethod
    def between(cls, start: CpuMark, end: CpuMark) -> CpuUse:
        return cls(
            end.wall - start.wall,
            end.busy - start.busy,
            end.postgres - start.postgres,
            end.own - start.own,
            end.workers - start.workers,
        )

    def cores(self, seconds: float) -> float:
        """CPU seconds as cores busy on average over the marks' interval."""
        return seconds / self.wall if self.wall > 0 else 0.0


# -- results -------------------------------------------------------------------------------------


@dataclass
class RunResult:
    system: str
    setting: str
    instances: int
    span_seconds: float
    latencies_ms: list[float]
    cpu: CpuUse
    processes: int
    in_flight: int
    conflicts: int = 0

    @property
    def per_second(self) -> float:
        return self.instances / self.span_seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per instance of the engine side: nodes and client, or DBOS."""
        return (self.cpu.workers + self.cpu.client) * 1000.0 / self.instances

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


class CheckFailed(RuntimeError):
    """A run gave a wrong result (never retried, unlike a failure of the environment)."""


def check_counts(system: str, ran: Counter[str], expected: Counter[str]) -> None:
    if ran != expected:
        raise CheckFailed(f"{system}: steps ran {dict(ran)}, expected {dict(expected)}")


# -- Legato node process -------------------------------------------------------------------------


def node_main(args: argparse.Namespace) -> int:
    """One engine node: serve until SIGTERM, then write what its handler ran to ``--out``."""
    engine = Engine(args.url, batch_size=args.batch_size, worker_name=f"bench-node-{os.getpid()}")
    ran: Counter[str] = Counter()

    def step(job: Job) -> None:
        ran[job.element_id] += 1

    engine.register(JOB_TYPE, step)
    stopping = threading.Event()

    def on_term(signum: int, frame: object) -> None:
        stopping.set()
        engine.stop()

    signal.signal(signal.SIGTERM, on_term)
    conflicts = 0
    profiler = cProfile.Profile() if args.profile_out else None
    if profiler is not None:
        profiler.enable()
    while not stopping.is_set():
        try:
            engine.serve(poll_interval=args.poll_interval)
        except StoreError as exc:
            # Benchmark-only safety net: a batch that lost a race with another node is rolled
            # back and serving goes on (its jobs come back when their lease ends). Every such
            # event is counted and reported; none is expected, as each node keeps the jobs its
            # own commands create.
            conflicts += 1
            print(f"node {os.getpid()}: {type(exc).__name__}: {exc}", file=sys.stderr)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile_out)
    Path(args.out).write_text(
        json.dumps({"ran": ran, "conflicts": conflicts}),
        encoding="utf-8",
    )
    engine.close()
    return 0


# -- Legato run ----------------------------------------------------------------------------------


class LegatoRun:
    """Node processes and a client on one fresh schema."""

    def __init__(
        self,
        args: argparse.Namespace,
        schema: str,
        nodes: int,
        in_flight: int,
        tmp: Path,
        profile: Path | None = None,
    ) -> None:
        self.args = args
        self.in_flight = in_flight
        self.min_batch = max(min(args.start_batch, in_flight) // 2, 1)
        self.url = schema_url(args.server, schema)
        self.nodes = nodes
        self.tmp = tmp
        self.client = Engine(self.url, batch_size=args.start_batch)
        self.client.deploy(args.bpmn)
        self.db = sa.create_engine(self.url)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.profile = profile

    def spawn(self) -> None:
        for index in range(self.nodes):
            command = [
                sys.executable,
                __file__,
                "--role=node",
                f"--url={self.url}",
                f"--out={self.tmp / f'node{index}.json'}",
                f"--batch-size={self.args.batch_size}",
                f"--poll-interval={self.args.poll_interval}",
            ]
            if self.profile is not None and index == 0:
                command.append(f"--profile-out={self.profile}")
            self.procs.append(subprocess.Popen(command))

    def stop(self) -> tuple[Counter[str], int]:
        """Stop the nodes; what their handlers ran and their conflicts."""
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        ran: Counter[str] = Counter()
        conflicts = 0
        for index, proc in enumerate(self.procs):
            if proc.wait(timeout=60) != 0:
                raise RuntimeError(f"node {index} exited with {proc.returncode}")
            report = json.loads((self.tmp / f"node{index}.json").read_text(encoding="utf-8"))
            ran.update(report["ran"])
            conflicts += report["conflicts"]
        return ran, conflicts

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def completed(self, pending: dict[int, None]) -> int:
        """How many of the oldest unfinished instances have completed (removed from
        ``pending``). Only up to ``PROBE`` of the oldest are looked up, by primary key: the
        cost of a poll stays the same however many instances the run has completed, so the
        harness takes as little as possible from the machine it measures (counting every
        completed row of the run, 50 times a second, took PostgreSQL about 0.1 core)."""
        probe = list(itertools.islice(pending, PROBE))
        if not probe:
            return 0
        query = sa.text(
            "SELECT instance_key FROM instances"
            " WHERE instance_key = ANY(:keys) AND status = 'completed'"
        )
        with self.db.connect() as connection:
            finished = connection.execute(query, {"keys": probe}).scalars().all()
        for key in finished:
            del pending[key]
        return len(finished)

    def drive(self, prefix: str, count: int) -> None:
        """Start ``count`` instances keeping at most ``--in-flight`` unfinished; wait for all."""
        args = self.args
        deadline = time.monotonic() + args.timeout
        submitted = done = 0
        pending: dict[int, None] = {}  # unfinished instance keys, oldest first
        while done < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Legato: {done} of {count} completed after {args.timeout} s")
            room = min(self.in_flight - (submitted - done), count - submitted, args.start_batch)
            # Starts go in batches of a fair size (one commit each) rather than one by one.
            if room > 0 and (room == count - submitted or room >= self.min_batch):
                indexes = range(submitted, submitted + room)
                started = self.client.start_many(
                    PROCESS_ID,
                    [{"score": score_for(i)} for i in indexes],
                    business_keys=[f"{prefix}{i}" for i in indexes],
                )
                pending.update((info.key, None) for info in started)
                submitted += room
            else:
                time.sleep(args.client_poll)
            done += self.completed(pending)

    def measured(self, prefix: str, count: int) -> tuple[float, list[float]]:
        """Check the measured instances; their span (s) and latencies (ms) from their rows."""
        rows_query = sa.text(
            "SELECT business_key, status, started_at, ended_at FROM instances"
            " WHERE business_key LIKE :p"
        )
        # History rows are chunks of events: [[event_type, element_id, payload], ...].
        branch_query = sa.text(
            "SELECT i.business_key, e.value->>1 AS element_id FROM history h"
            " JOIN instances i ON i.instance_key = h.instance_key,"
            " json_array_elements(h.events::json) AS e(value)"
            " WHERE i.business_key LIKE :p AND e.value->>0 = 'ElementActivated'"
            " AND e.value->>1 IN ('B', 'C')"
        )
        with self.db.connect() as connection:
            rows = connection.execute(rows_query, {"p": f"{prefix}%"}).all()
            branches = connection.execute(branch_query, {"p": f"{prefix}%"}).all()
        if len(rows) != count or any(r.status != "completed" for r in rows):
            raise CheckFailed(f"Legato: {len(rows)} instances, not all {count} completed")
        expected = {f"{prefix}{i}": taken_branch(score_for(i)) for i in range(count)}
        if sorted((r.business_key, r.element_id) for r in branches) != sorted(expected.items()):
            raise CheckFailed("Legato: an instance took the wrong branch (or ran one twice)")
        span = (max(r.ended_at for r in rows) - min(r.started_at for r in rows)).total_seconds()
        latencies = [(r.ended_at - r.started_at).total_seconds() * 1000.0 for r in rows]
        return span, latencies

    def close(self) -> None:
        self.kill()
        self.client.close()
        self.db.dispose()


def run_legato(
    args: argparse.Namespace, nodes: int, in_flight: int, profile: Path | None = None
) -> RunResult:
    with (
        fresh_schema(args.server, "legato_bench") as schema,
        tempfile.TemporaryDirectory(prefix="legato-multinode-") as tmp,
    ):
        run = LegatoRun(args, schema, nodes, in_flight, Path(tmp), profile)
        try:
            run.spawn()
            run.drive("w", args.warm_up)
            pids = [proc.pid for proc in run.procs]
            start = CpuMark.now(pids)
            run.drive("m", args.instances)
            cpu = CpuUse.between(start, CpuMark.now(pids))
            ran, conflicts = run.stop()
            span, latencies = run.measured("m", args.instances)
        finally:
            run.close()
    expected = expected_steps(range(args.warm_up)) + expected_steps(range(args.instances))
    check_counts("Legato", ran, expected)
    setting = f"{nodes} node{'s' if nodes > 1 else ''}, {in_flight:,} in flight"
    return RunResult(
        "Legato", setting, args.instances, span, latencies, cpu, nodes, in_flight, conflicts
    )


# -- DBOS Transact -------------------------------------------------------------------------------


DBOS_MARK = "DBOS-BENCH "
"""Prefix of the lines a DBOS process prints for this script (ready, done); this script
answers each on the process's input (go, stop)."""


def dbos_main(args: argparse.Namespace) -> int:
    """One DBOS Transact process of ``--processes``: warm-up, then (on ``go``) its share of
    the measured workflows, then (on ``stop``) the checks; its CPU over the measured phase to
    ``--out``."""
    from dbos import DBOS, DBOSConfig, SetWorkflowID

    ran: Counter[str] = Counter()
    lock = threading.Lock()

    def count(name: str) -> None:
        with lock:
            ran[name] += 1

    def make_step(name: str) -> Callable[[], None]:
        def body() -> None:
            count(name)

        return DBOS.step(name=f"step_{name}")(body)

    # The same steps as the BPMN model, each a checkpointed DBOS step that only counts.
    steps = {name: make_step(name) for name in "ABCDEF"}

    @DBOS.workflow(name="onboarding")
    def onboarding(score: int) -> str:
        steps["A"]()
        branch = taken_branch(score)
        steps[branch]()
        for name in "DEF":
            steps[name]()
        return branch

    config: DBOSConfig = {
        "name": "legato-bench",
        "system_database_url": args.url,
        "dbos_system_schema": args.schema,
        "sys_db_pool_size": args.threads + 4,
        "log_level": "WARNING",
        "enable_otlp": False,
        # One executor per process: at launch an executor recovers only its own unfinished
        # workflows, never those another process is running.
        "executor_id": f"bench-{args.index}",
    }
    DBOS(config=config)
    DBOS.launch()

    def run(workflow_id: str, score: int) -> str:
        with SetWorkflowID(workflow_id):
            return onboarding(score)

    def run_all(prefix: str, indexes: Sequence[int]) -> list[str]:
        with ThreadPoolExecutor(args.threads) as pool:
            futures = [pool.submit(run, f"{prefix}{i}", score_for(i)) for i in indexes]
            return [f.result() for f in futures]

    warm_up = range(args.warm_up)
    run_all(f"w{args.index}_", warm_up)
    mine = range(args.index, args.instances, args.processes)
    print(f"{DBOS_MARK}ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    cpu = time.process_time()
    branches = run_all("m", mine)
    cpu = time.process_time() - cpu
    print(f"{DBOS_MARK}done", flush=True)
    # Connections stay open until every process is done: PostgreSQL's CPU is read from its
    # live backend processes.
    sys.stdin.readline()
    DBOS.destroy()
    if branches != [taken_branch(score_for(i)) for i in mine]:
        raise CheckFailed("DBOS: a workflow took the wrong branch")
    check_counts("DBOS", ran, expected_steps(warm_up) + expected_steps(mine))
    Path(args.out).write_text(json.dumps({"cpu": cpu}), encoding="utf-8")
    return 0


def dbos_rows(url: str, schema: str, count: int) -> tuple[float, list[float]]:
    """Check the measured workflows; their span (s) and latencies (ms) from their rows."""
    query = sa.text(
        f'SELECT status, created_at, updated_at FROM "{schema}".workflow_status'
        " WHERE workflow_uuid LIKE 'm%'"
    )
    db = sa.create_engine(url)
    try:
        with db.connect() as connection:
            rows = connection.execute(query).all()
    finally:
        db.dispose()
    if len(rows) != count or any(r.status != "SUCCESS" for r in rows):
        raise CheckFailed(f"DBOS: {len(rows)} workflows, not all {count} succeeded")
    span = (max(r.updated_at for r in rows) - min(r.created_at for r in rows)) / 1000.0
    return span, [float(r.updated_at - r.created_at) for r in rows]


def ensure_database(server: str, database: str) -> None:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
            ).first()
            if exists is None:
                connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    finally:
        admin.dispose()


def dbos_connections(processes: int, threads: int) -> int:
    """The connections a DBOS run opens: each process's pool is its threads plus four."""
    return processes * (threads + 4)


def await_mark(proc: subprocess.Popen[str], mark: str) -> None:
    """Read a DBOS process's output up to its ``mark`` line (other lines are passed on)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith(DBOS_MARK):
            print(line, end="")
        elif line[len(DBOS_MARK) :].strip() == mark:
            return
    raise RuntimeError(f"a DBOS process ended (exit {proc.wait()}) before '{mark}'")


def tell(procs: Sequence[subprocess.Popen[str]], word: str) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{word}\n")
        proc.stdin.flush()


def run_dbos(args: argparse.Namespace, processes: int, threads: int) -> RunResult:
    url = with_database(args.server, args.dbos_database)
    with (
        fresh_schema(url, "dbos_bench") as schema,
        tempfile.TemporaryDirectory(prefix="legato-multinode-") as tmp,
    ):
        procs: list[subprocess.Popen[str]] = []
        try:
            for index in range(processes):
                command = [
                    sys.executable,
                    __file__,
                    "--role=dbos",
                    f"--url={url}",
                    f"--schema={schema}",
                    f"--threads={threads}",
                    f"--processes={processes}",
                    f"--index={index}",
                    f"--instances={args.instances_dbos}",
                    f"--warm-up={args.warm_up}",
                    f"--out={Path(tmp) / f'dbos{index}.json'}",
                ]
                procs.append(
                    subprocess.Popen(
                        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                    )
                )
            for proc in procs:
                await_mark(proc, "ready")
            start = CpuMark.now()
            tell(procs, "go")  # every process starts its measured workflows at once
            for proc in procs:
                await_mark(proc, "done")
            cpu = CpuUse.between(start, CpuMark.now())
            tell(procs, "stop")
            for index, proc in enumerate(procs):
                if proc.wait(timeout=args.timeout) != 0:
                    raise CheckFailed(f"DBOS process {index} exited with {proc.returncode}")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        # The whole DBOS side runs in its processes: their CPU is the workers', no client.
        cpu.workers = sum(
            json.loads((Path(tmp) / f"dbos{i}.json").read_text(encoding="utf-8"))["cpu"]
            for i in range(processes)
        )
        cpu.client = 0.0
        span, latencies = dbos_rows(url, schema, args.instances_dbos)
    plural = "es" if processes > 1 else ""
    setting = f"{processes} process{plural} x {threads} threads ({processes * threads} in flight)"
    return RunResult("DBOS", setting, args.instances_dbos, span, latencies, cpu, processes, threads)


# -- profile of one node ------------------------------------------------------------------------


def short_name(path: str) -> str:
    for marker in ("site-packages/", "src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def profile_lines(args: argparse.Namespace, log: Callable[[str], None]) -> list[str]:
    """One more 1-node run with cProfile in the node (untimed): where a node's time goes."""
    in_flight = max(args.in_flight)
    log(f"profile: Legato, 1 node, {in_flight} in flight, cProfile in the node ...")
    with tempfile.TemporaryDirectory(prefix="legato-multinode-") as tmp:
        path = Path(tmp) / "node.prof"
        run = run_legato(args, 1, in_flight, profile=path)
        stats = pstats.Stats(str(path))
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # not in the stubs
    rows = sorted(table.items(), key=lambda item: item[1][2], reverse=True)
    total = sum(v[2] for v in table.values())

    def calls(method: str) -> int:
        return sum(
            v[1]
            for (file, _, name), v in table.items()
            if file.endswith("psycopg/cursor.py") and name == method
        )

    statements, batches, streams = calls("execute"), calls("executemany"), calls("copy")
    per = 1.0 / (args.instances + args.warm_up)
    waiting = sum(
        v[3]
        for (file, _, name), v in table.items()
        if file.endswith("psycopg/connection.py") and name == "wait"
    )
    lines = [
        f"cProfile of the node in one more run (1 node, {in_flight:,} in flight, "
        f"{args.instances:,} instances, {run.per_second:,.0f}/s under the profiler; not in the "
        "tables above): top 10 functions by own time",
        "",
        "| Function (by own time) | Calls | Own time (s) | Share | Cumulative (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for (file, line, name), (_, calls, own, cumulative, _) in rows[:10]:
        where = f"{short_name(file)}:{line} {name}" if line else name
        lines.append(
            f"| `{where}` | {calls:,} | {own:.2f} | {own / total:.0%} | {cumulative:.2f} |"
        )
    lines += [
        "",
        f"Profiled node time {total:.1f} s, of which {waiting:.1f} s ({waiting / total:.0%}) "
        "inside psycopg's `wait` (waiting for PostgreSQL's answers, which on this machine "
        f"includes waiting for a core). Sent to PostgreSQL: {statements:,} statements, "
        f"{batches:,} executemany batches and {streams:,} COPY streams; per instance "
        f"{statements * per:.2f}, {batches * per:.2f} and {streams * per:.2f}.",
    ]
    return lines


# -- report --------------------------------------------------------------------------------------


def postgres_facts(server: str) -> dict[str, str]:
    names = ("server_version", "synchronous_commit", "fsync", "max_connections", "shared_buffers")
    db = sa.create_engine(server)
    try:
        with db.connect() as connection:
            return {n: str(connection.exec_driver_sql(f"SHOW {n}").scalar()) for n in names}
    finally:
        db.dispose()


def best_of(runs: Sequence[RunResult], system: str) -> dict[str, RunResult]:
    """The run with the highest throughput per setting of ``system`` (settings in run order)."""
    best: dict[str, RunResult] = {}
    for run in runs:
        if run.system == system:
            known = best.get(run.setting)
            if known is None or run.per_second > known.per_second:
                best[run.setting] = run
    return best


def load_text(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in load)


@dataclass
class Report:
    command: str
    date: str
    machine: dict[str, str]
    postgres: dict[str, str]
    args: argparse.Namespace
    runs: list[RunResult]
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    profile: list[str]

    def markdown(self) -> str:
        lines = [f"## {SECTION_TITLE}", "", *self._setup(), "", *self._runs_table(), ""]
        lines += [*self._comparison(), "", *self._nodes_text()]
        if self.profile:
            lines += ["", *self.profile]
        return "\n".join(lines) + "\n"

    def _setup(self) -> list[str]:
        a, pg = self.args, self.postgres
        lines = [f"- Command: `{self.command}` (from the repository root)", f"- Date: {self.date}"]
        lines += [f"- {name}: {value}" for name, value in self.machine.items()]
        in_flight = " or ".join(f"{w:,}" for w in a.in_flight)
        return [
            *lines,
            f"- PostgreSQL server: {pg['server_version']} on the same machine (127.0.0.1), "
            f"synchronous_commit={pg['synchronous_commit']}, fsync={pg['fsync']}, "
            f"shared_buffers={pg['shared_buffers']}, max_connections={pg['max_connections']}",
            f"- Load average (1, 5, 15 min) at the start: {load_text(self.load_start)}; at the "
            f"end: {load_text(self.load_end)} (the benchmark's own processes count: "
            "DBOS processes and their threads, nodes, PostgreSQL). The machine is a virtual "
            "machine on a shared host: the same run repeated gives figures up to ±30 % apart, "
            "for both systems (compare the rounds).",
            f"- Workload: `{display_path(a.bpmn)}`; scores alternate 800 (B) and 600 (C); every "
            "step only counts that it ran. Every run was checked: every instance completed, "
            "took the right branch, and each step ran exactly as often as expected (none twice).",
            f"- Legato: N node processes (`Engine(url, batch_size={a.batch_size})`, handler "
            f"registered, `serve(poll_interval={a.poll_interval})`) on a fresh schema of the "
            "`test` database; a client process without handlers starts instances with "
            f"`start_many` (up to {a.start_batch} per call) keeping at most {in_flight} "
            f"unfinished. Instances per run: {a.instances:,}, after {a.warm_up} untimed.",
            f"- DBOS Transact {version_of('dbos')}: `@DBOS.workflow` calling six `@DBOS.step` "
            "functions in order (A, B or C, D, E, F), node for node: N processes (as many as "
            "Legato's nodes, each its own executor with a share of the workflows), each calling "
            "them from a pool of T threads (N x T workflows in flight); the processes warm up, "
            "then start the measured workflows together. Its system database in database "
            f"`{a.dbos_database}` of the same server (a fresh schema per run), no Conductor, no "
            f"OTLP. Workflows per run: {a.instances_dbos:,} in all, after {a.warm_up} untimed "
            "per process.",
            "- Measured the same way for both, from the rows each writes: throughput = "
            "instances / (last completion - first start); latency = completion - start per "
            "instance (Legato `instances.started_at`/`ended_at`, DBOS "
            "`workflow_status.created_at`/`updated_at`). Both run a closed loop, so latency is "
            "about in-flight / throughput (Little's law): compare latencies at equal in-flight.",
        ]

    def _runs_table(self) -> list[str]:
        lines = [
            "| System | Setting | Instances | Wall (s) | Instances/s | Latency p50 (ms) "
            "| p99 (ms) | Engine CPU ms per instance | Cores: nodes / DBOS | client | PostgreSQL "
            "| whole machine |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.runs:
            c = r.cpu
            client = f"{c.cores(c.client):.2f}" if r.system == "Legato" else "-"
            lines.append(
                f"| {r.system} | {r.setting} | {r.instances:,} | {r.span_seconds:.1f} "
                f"| {r.per_second:,.0f} | {r.p50:,.0f} | {r.p99:,.0f} | {r.cpu_ms:.2f} "
                f"| {c.cores(c.workers):.2f} | {client} | {c.cores(c.postgres):.2f} "
                f"| {c.cores(c.machine_busy):.2f} |"
            )
        conflicts = sum(r.conflicts for r in self.runs)
        return [
            *lines,
            "",
            "Engine CPU per instance = CPU seconds of the node processes and the client (Legato) "
            "or of the DBOS processes, over the measured phase, per instance: the cost of an "
            "instance, less sensitive to the machine's other load than throughput. "
            "Cores = CPU seconds / wall seconds over the measured phase (2 = both cores): the "
            "node processes together (or the DBOS processes), the client (Legato only; DBOS "
            "starts its workflows in its own processes), every PostgreSQL process of the server "
            "(other users' included), and the whole machine (every process, other work "
            "included). Under other load the kernel shares the cores per thread, so a DBOS "
            "process with its busy threads gets a larger share than a single-threaded node. "
            f"Legato node batches that failed on a conflict: {conflicts}. Runs repeated after a "
            f"failure of the environment: {len(RETRIED)}"
            + (f" ({'; '.join(sorted(set(RETRIED)))})" if RETRIED else "")
            + ".",
        ]

    def _pairs(self) -> list[tuple[int, RunResult, RunResult]]:
        """Node for node: (N, Legato's fastest run on N nodes, DBOS's fastest in N processes)
        for every N both ran."""
        pairs = []
        for n in self.args.nodes:
            legato = [r for r in self.runs if r.system == "Legato" and r.processes == n]
            dbos = [r for r in self.runs if r.system == "DBOS" and r.processes == n]
            if legato and dbos:
                fastest = (max(rs, key=lambda r: r.per_second) for rs in (legato, dbos))
                pairs.append((n, *fastest))
        return pairs

    def _comparison(self) -> list[str]:
        pairs = self._pairs()
        if not pairs:
            return ["No node count was run for both systems: no comparison."]
        skipped = ", ".join(f"{n} x {t}" for n, t in SKIPPED)
        lines = [
            "Node for node: Legato on N nodes (its faster in-flight setting) against DBOS in N "
            "processes (its fastest threads per process)"
            + (
                f"; DBOS settings not run, as they would open more than "
                f"{self.args.dbos_connections} connections (processes x threads): {skipped}"
                if skipped
                else ""
            )
            + ".",
            "",
            "| N | Legato | Instances/s | DBOS | Workflows/s | Legato / DBOS throughput "
            "| Legato p99 (ms) | DBOS p99 (ms) | DBOS / Legato engine CPU per instance |",
            "|---:|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for n, legato, dbos in pairs:
            lines.append(
                f"| {n} | {legato.setting} | {legato.per_second:,.0f} | {dbos.setting} "
                f"| {dbos.per_second:,.0f} | {legato.per_second / dbos.per_second:.1f}x "
                f"| {legato.p99:,.0f} | {dbos.p99:,.0f} | {dbos.cpu_ms / legato.cpu_ms:.1f}x |"
            )
        lines += ["", "| Target | Measured | Met |", "|---|---|---|"]
        for n, legato, dbos in pairs:
            ratio = legato.per_second / dbos.per_second
            lines.append(
                f"| Legato >= {TARGET_RATIO:.0f}x DBOS throughput, node for node ({n}) "
                f"| {ratio:.1f}x | {yes(ratio >= TARGET_RATIO)} |"
            )
        for gain, in_flight in self._second_node_gains():
            lines.append(
                f"| A second node raises throughput ({in_flight:,} in flight) "
                f"| {gain:+.0%} (2 nodes vs 1) | {yes(gain > 0)} |"
            )
        _, top, peer = max(pairs, key=lambda pair: pair[1].per_second)
        ratio = top.per_second / peer.per_second
        rounds = self.args.rounds
        if rounds > 1 and len(self.runs) % rounds == 0:
            size = len(self.runs) // rounds
            ratios = []
            for start in range(0, len(self.runs), size):
                each = self.runs[start : start + size]
                fastest = {
                    system: max(r.per_second for r in each if r.system == system)
                    for system in ("Legato", "DBOS")
                }
                ratios.append(fastest["Legato"] / fastest["DBOS"])
            lines += [
                "",
                "The host's speed drifts, and the two systems run one after the other: per round, "
                "that round's best Legato against that round's best DBOS (any N) gave "
                + ", ".join(f"{value:.1f}x" for value in ratios)
                + ".",
            ]
        if ratio < TARGET_RATIO:
            c = top.cpu
            pg_ms = c.postgres * 1000.0 / top.instances
            total_ms = top.cpu_ms + pg_ms
            needed = peer.per_second * TARGET_RATIO
            busy = c.cores(c.machine_busy)
            split = (
                f"the whole machine was {busy:.2f} of 2 cores busy (nodes "
                f"{c.cores(c.workers):.2f}, PostgreSQL {c.cores(c.postgres):.2f}, client "
                f"{c.cores(c.client):.2f}), and an instance cost {top.cpu_ms:.2f} ms of CPU in "
                f"the nodes and the client plus {pg_ms:.2f} ms in PostgreSQL ({total_ms:.2f} ms "
                f"in all)"
            )
            if total_ms * needed > 2000.0:
                limit = (
                    "at Legato's CPU cost per instance the two cores cannot carry it. In the "
                    f"best run {split}. "
                    f"{needed:,.0f} instances/s ({TARGET_RATIO:.0f}x {peer.per_second:,.0f}) "
                    f"would need {2000.0 / needed:.2f} ms per instance in all, with both cores "
                    "busy all the time."
                )
            else:
                limit = (
                    f"in the best run {split}: {needed:,.0f} instances/s "
                    f"({TARGET_RATIO:.0f}x {peer.per_second:,.0f}) would take "
                    f"{total_ms * needed / 1000.0:.2f} cores, so the CPU would allow it, but "
                    f"{2.0 - busy:.2f} of the 2 cores stayed idle while the nodes waited for "
                    "PostgreSQL (round trips and durable commits of each batch)."
                )
            lines += [
                "",
                f"Why the {TARGET_RATIO:.0f}x target is missed here: {limit} DBOS is bound "
                "differently: the workflow threads of a process share one interpreter lock, so "
                f"its {peer.processes} process(es) used {peer.cpu.cores(peer.cpu.workers):.2f} "
                f"cores and spent {peer.cpu_ms:.2f} ms per workflow, "
                f"{peer.cpu_ms / top.cpu_ms:.1f}x Legato's engine side.",
            ]
        return lines

    def _second_node_gains(self) -> list[tuple[float, int]]:
        """(2-node / 1-node throughput - 1, in-flight) for every in-flight setting run."""
        best: dict[tuple[int, int], float] = {}
        for r in self.runs:
            if r.system == "Legato":
                key = (r.processes, r.in_flight)
                best[key] = max(best.get(key, 0.0), r.per_second)
        return [
            (best[(2, w)] / best[(1, w)] - 1.0, w)
            for w in self.args.in_flight
            if (1, w) in best and (2, w) in best
        ]

    def _nodes_text(self) -> list[str]:
        parts = []
        for setting, r in best_of(self.runs, "Legato").items():
            c = r.cpu
            parts.append(
                f"{setting}: nodes {c.cores(c.workers):.2f}, PostgreSQL "
                f"{c.cores(c.postgres):.2f}, client {c.cores(c.client):.2f}, whole machine "
                f"{c.cores(c.machine_busy):.2f}"
            )
        gains = ", ".join(f"{g:+.0%} at {w:,} in flight" for g, w in self._second_node_gains())
        one_node = [r for r in self.runs if r.system == "Legato" and r.processes == 1]
        busy = sorted(r.cpu.cores(r.cpu.machine_busy) for r in one_node) or [0.0]
        spread = f"{busy[0]:.2f}" if busy[0] == busy[-1] else f"{busy[0]:.2f} to {busy[-1]:.2f}"
        if busy[0] >= 1.8:
            headroom = (
                f"Here the whole machine was already {spread} of 2 cores busy during the "
                "1-node runs (other work included), so a second node found no idle core: it "
                "could only win a share of the same cores from the other processes and overlap "
                "its waits with the first node's work."
            )
        else:
            headroom = (
                f"Here the whole machine was {spread} of 2 cores busy during the 1-node runs "
                "(other work included): where a core was partly idle, a second node could use "
                "it; where none was, it could only win a share from the other processes."
            )
        return [
            f"Second node, measured: {gains or 'not run'}. A node is one Python process: "
            "handlers, engine steps and SQL round trips run on one thread, so a node uses at "
            "most one core, and less while it waits for PostgreSQL (each batch ends with a "
            "durable commit). A second node can use the other core and overlap its waits with "
            "the first node's work; the ceiling is the CPU left over, since PostgreSQL, the "
            "client and any other work on the machine share the same two cores. Past two nodes "
            "processes only take turns on those cores (each extra node adds polling queries and "
            "connections). Nodes do not contend on instances: jobs are claimed with "
            "`FOR UPDATE SKIP LOCKED` and each node keeps the jobs its own commands create, so "
            f"an instance stays on one node. {headroom} Measured cores (CPU seconds / wall "
            "seconds): " + "; ".join(parts) + ".",
        ]


# -- main ----------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--instances", type=int, default=3000, help="Legato instances per run")
    parser.add_argument(
        "--dbos-instances", dest="instances_dbos", type=int, default=1000, help="per DBOS run"
    )
    parser.add_argument("--nodes", type=int_list, default=[1, 2, 4], help="e.g. 1,2,4")
    parser.add_argument(
        "--dbos-threads", type=int_list, default=[2, 4, 8, 16], help="per DBOS process, e.g. 4,16"
    )
    parser.add_argument(
        "--dbos-connections",
        type=int,
        default=80,
        help="skip DBOS settings whose pools open more connections (processes x (threads + 4))",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat every setting")
    parser.add_argument("--retries", type=int, default=2, help="after environment failures")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one more (untimed) 1-node run with cProfile in the node, for the report",
    )
    parser.add_argument("--warm-up", type=int, default=100, help="untimed instances per run")
    parser.add_argument("--batch-size", type=int, default=200, help="each node's batch_size")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="nodes' serve()")
    parser.add_argument("--start-batch", type=int, default=200, help="starts per start_many")
    parser.add_argument(
        "--in-flight", type=int_list, default=[100, 1000], help="Legato unfinished at most"
    )
    parser.add_argument("--client-poll", type=float, default=0.02, help="seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL URL (database)")
    parser.add_argument("--dbos-database", default=DEFAULT_DBOS_DATABASE)
    parser.add_argument("--bpmn", type=Path, default=DEFAULT_BPMN)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    # The processes this script starts: an engine node, or the DBOS peer.
    parser.add_argument("--role", choices=["main", "node", "dbos"], default="main")
    for hidden in ("--url", "--out", "--schema", "--profile-out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    for hidden_int in ("--threads", "--processes"):
        parser.add_argument(hidden_int, type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("instances", "instances_dbos", "rounds", "start_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def run_with_retries(
    run: Callable[[], RunResult], retries: int, log: Callable[[str], None]
) -> RunResult:
    """Run again after a failure of the environment (the shared PostgreSQL refusing more
    connections, a node that could not connect); a wrong result is never retried."""
    for attempt in range(retries + 1):
        try:
            return run()
        except CheckFailed:
            raise
        except Exception as exc:
            if attempt == retries:
                raise
            log(f"  failed ({type(exc).__name__}: {str(exc).splitlines()[0]}); again in 10 s")
            RETRIED.append(str(exc).splitlines()[0])
            time.sleep(10)
    raise AssertionError("unreachable")


def measure(args: argparse.Namespace, log: Callable[[str], None]) -> list[RunResult]:
    runs: list[RunResult] = []
    for round_number in range(1, args.rounds + 1):
        plan: list[tuple[str, Callable[[], RunResult]]] = [
            (f"Legato, {n} node(s), {w} in flight", partial(run_legato, args, n, w))
            for w in args.in_flight
            for n in args.nodes
        ]
        for n in args.nodes:
            for t in args.dbos_threads:
                if dbos_connections(n, t) > args.dbos_connections:
                    if round_number == 1:
                        log(
                            f"DBOS, {n} process(es) x {t} threads: skipped (more than "
                            f"{args.dbos_connections} connections)"
                        )
                        SKIPPED.append((n, t))
                    continue
                plan.append((f"DBOS, {n} process(es) x {t} threads", partial(run_dbos, args, n, t)))
        for label, run in plan:
            log(f"round {round_number}: {label} ...")
            result = run_with_retries(run, args.retries, log)
            log(
                f"  {result.setting}: {result.per_second:,.0f}/s over {result.span_seconds:.1f} s,"
                f" p50 {result.p50:,.0f} ms, p99 {result.p99:,.0f} ms, "
                f"cpu {json.dumps(asdict(result.cpu))}"
            )
            runs.append(result)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.role == "node":
        return node_main(args)
    if args.role == "dbos":
        return dbos_main(args)

    def log(message: str) -> None:
        print(message, flush=True)

    machine = machine_facts(
        {
            "psycopg": version_of("psycopg"),
            "SQLAlchemy": sa.__version__,
            "DBOS Transact": version_of("dbos"),
        }
    )
    command = shlex.join(["python", "bench/multinode.py", *raw])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    log(f"{SECTION_TITLE}: {command}")
    ensure_database(args.server, args.dbos_database)
    postgres = postgres_facts(args.server)
    load_start = os.getloadavg()
    runs = measure(args, log)
    load_end = os.getloadavg()
    profile = profile_lines(args, log) if args.profile else []
    report = Report(command, date, machine, postgres, args, runs, load_start, load_end, profile)
    publish(report.markdown(), SECTION_TITLE, args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
