"""Events benchmark: timers and message correlation on a durable Legato engine.

Every phase runs on a fresh SQLite file in a temporary directory (WAL, ``synchronous=FULL``:
the engine's defaults; the script reads the pragmas back and prints them) with the system clock.

1. Timers. Process ``start -> timer catch event (timeDate "=due") -> end``. ``--timers``
   instances are started with ``start_many`` in batches of ``--start-batch`` (the start phase is
   timed on its own); instance ``i`` gets ``due = t0 + i * window / N``, where ``t0`` is a little
   after the start phase is expected to end (calibrated on an untimed warm-up batch). Then a
   firing loop calls ``fire_due_timers`` (sleeping ``--idle-sleep`` when nothing is due) until
   every timer fired, and every instance is checked to be completed. Reported: time from ``t0``
   until all completed, the firing rate while firing, and lateness (``TimerTriggered.at`` minus
   the due time set) over a sample of ``--lateness-sample`` instances spread evenly over the
   minute (the first and the last included). Once per ``--timer-batch-sizes`` entry (the
   engine's ``batch_size``, which is how many timers one firing transaction claims).
2. Correlations. Process ``start -> message catch event "paid" (correlationKey "=orderId") ->
   end``. ``--messages`` instances with distinct ``orderId`` are started, then as many matching
   messages are published with ``publish_messages`` in batches (once per ``--message-batches``
   entry, each on a fresh database). Reported: correlations per second over the publish phase.
   Each message must reach exactly one instance and every instance must complete. Then
   ``--single-messages`` more instances are started and their messages published one at a time
   with ``publish_message`` (one transaction each) for the one-at-a-time rate.
3. Memory: resident set size (``VmRSS`` after ``gc.collect()``) before and after each phase.
   The script keeps only the keys of the sampled instances, so growth is the engine's.

When a target is missed, a short cProfile of a ``--profile-instances`` variant of that phase
(firing already-due timers, or publishing in batches) lists the top costs in the report.

Run from the repository root::

    .venv/bin/python bench/events.py                       # full run, writes RESULTS.md
    .venv/bin/python bench/events.py --timers 3000 --messages 3000 --window 5 \\
        --single-messages 200 --no-write                    # quick check
    .venv/bin/python bench/events.py --only messages --message-batches 1000
                                                            # correlation only, prints

The results replace the section "Events: timers and message correlation" of
``bench/RESULTS.md`` (other sections are kept) unless ``--no-write`` is given. A run of one
phase (``--only``) prints its figures (and its profile, by ``--profile``) and writes nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from _report import (
    file_mb,
    machine_facts,
    peak_rss_mb,
    percentile,
    publish,
    sqlite_pragmas,
    yes,
)

from legato import Engine

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = REPO / "bench" / "RESULTS.md"
SECTION_TITLE = "Events: timers and message correlation"

TARGET_LATENESS_S = 60.0  # every timer fires within 60 s of its due time
TARGET_CORRELATIONS_PER_S = 3_000.0
FLAT_TOLERANCE = 0.05  # "flat": no phase end more than 5 % above the end of the first phase
PROFILE_TOP = 12
ENGINE_CACHE_SIZE = 10_000  # instance states the engine keeps (CommandExecutor cache_size)

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' id="bench_events" targetNamespace="http://example.org/bench">\n'
)
FLOWS = (
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>'
)
TIMER_PROCESS = "timer_wait"
TIMER_BPMN = (
    f'{HEADER}<bpmn:process id="{TIMER_PROCESS}" isExecutable="true">'
    '<bpmn:startEvent id="start"/>'
    '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
    '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">=due</bpmn:timeDate>'
    "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    f'<bpmn:endEvent id="end"/>{FLOWS}</bpmn:process>\n</bpmn:definitions>\n'
)
MESSAGE_PROCESS = "message_wait"
MESSAGE_NAME = "paid"
MESSAGE_BPMN = (
    f'{HEADER}<bpmn:process id="{MESSAGE_PROCESS}" isExecutable="true">'
    '<bpmn:startEvent id="start"/>'
    '<bpmn:intermediateCatchEvent id="wait">'
    '<bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>'
    f'<bpmn:endEvent id="end"/>{FLOWS}</bpmn:process>\n'
    f'<bpmn:message id="m" name="{MESSAGE_NAME}"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>\n'
    "</bpmn:definitions>\n"
)

Log = Callable[[str], None]


# -- helpers --------------------------------------------------------------------------------------


def rss_mb() -> float:
    """The resident set size in MiB after a full collection (VmRSS; peak RSS without /proc)."""
    gc.collect()
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


def batches(total: int, size: int) -> Iterator[range]:
    for first in range(0, total, size):
        yield range(first, min(first + size, total))


def order_id(prefix: str, index: int) -> str:
    return f"{prefix}-{index:07d}"


def sample_indices(total: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(total)``, the first and the last included."""
    if count >= total:
        return list(range(total))
    if count <= 1:
        return [total - 1]
    step = (total - 1) / (count - 1)
    return sorted({round(i * step) for i in range(count)})


def completed_count(engine: Engine) -> int:
    with engine.store.transaction() as tx:
        return tx.count_instances(status="completed")


def active_count(engine: Engine) -> int:
    with engine.store.transaction() as tx:
        return tx.count_instances(status="active")


@contextmanager
def fresh_engine(name: str, batch_size: int, bpmn: str) -> Iterator[tuple[Engine, Path]]:
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        db_path = Path(tmp) / f"{name}.db"
        engine = Engine(f"sqlite:///{db_path}", batch_size=batch_size)
        try:
            engine.deploy(bpmn)
            yield engine, db_path
        finally:
            engine.close()


@dataclass
class MemoryPhase:
    phase: str
    before_mb: float
    after_mb: float
    db_mb: float

    @property
    def growth_mb(self) -> float:
        return self.after_mb - self.before_mb


# -- timers ---------------------------------------------------------------------------------------


@dataclass
class TimerRun:
    batch_size: int
    instances: int
    window_s: float
    start_s: float
    lead_s: float
    start_end_vs_t0_s: float  # when the start phase ended, relative to t0 (negative: before)
    done_after_t0_s: float  # t0 until every timer fired and every instance completed
    firing_busy_s: float  # time inside fire_due_timers calls that fired something
    firing_calls: int
    lateness_s: list[float]
    memory: list[MemoryPhase]
    full_batch_timers: int  # timers fired by calls that claimed a full batch (a backlog)
    full_batch_s: float
    rss_during_start: list[tuple[int, float]]

    @property
    def start_rate(self) -> float:
        return self.instances / self.start_s

    @property
    def firing_rate(self) -> float:
        return self.instances / self.firing_busy_s if self.firing_busy_s else float("inf")

    @property
    def full_batch_rate(self) -> float | None:
        if not self.full_batch_timers or not self.full_batch_s:
            return None
        return self.full_batch_timers / self.full_batch_s

    @property
    def done_after_last_due_s(self) -> float:
        return self.done_after_t0_s - self.window_s * (self.instances - 1) / self.instances

    @property
    def max_lateness(self) -> float:
        return max(self.lateness_s)


def timer_due(t0: datetime, index: int, total: int, window_s: float) -> datetime:
    return t0 + timedelta(seconds=window_s * index / total)


def calibrate_start(engine: Engine, count: int) -> float:
    """Start ``count`` already-due instances (untimed warm-up), fire them; seconds per start."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    began = time.perf_counter()
    engine.start_many(TIMER_PROCESS, [{"due": past} for _ in range(count)])
    per_start = (time.perf_counter() - began) / count
    fired = 0
    while fired < count:
        done = engine.fire_due_timers()
        if not done:
            raise RuntimeError("warm-up timers did not fire")
        fired += done
    if completed_count(engine) != count:
        raise RuntimeError("warm-up instances did not complete")
    return per_start


def run_timers(args: argparse.Namespace, batch_size: int, track_rss: bool, log: Log) -> TimerRun:
    """One timer run; with ``track_rss``, RSS is sampled ten times during the start phase."""
    n, window = args.timers, args.window
    sampled = set(sample_indices(n, args.lateness_sample))
    memory: list[MemoryPhase] = []
    with fresh_engine("timers", batch_size, TIMER_BPMN) as (engine, db_path):
        per_start = calibrate_start(engine, min(args.start_batch, n))
        warm = completed_count(engine)
        lead = (
            args.lead
            if args.lead is not None
            else n * per_start * args.lead_factor + args.lead_margin
        )
        rss0 = rss_mb()
        began = time.perf_counter()
        t0 = datetime.now(UTC) + timedelta(seconds=lead)
        keys: dict[int, int] = {}
        rss_points: list[tuple[int, float]] = []
        every = max(n // 10, args.start_batch)
        for chunk in batches(n, args.start_batch):
            infos = engine.start_many(
                TIMER_PROCESS, [{"due": timer_due(t0, i, n, window)} for i in chunk]
            )
            for i, info in zip(chunk, infos, strict=True):
                if i in sampled:
                    keys[i] = info.key
            del infos
            if track_rss and (chunk.stop % every < args.start_batch or chunk.stop == n):
                rss_points.append((chunk.stop, rss_mb()))
        start_s = time.perf_counter() - began
        start_end_vs_t0 = (datetime.now(UTC) - t0).total_seconds()
        rss1 = rss_mb()
        memory.append(MemoryPhase(f"timers b={batch_size}: start", rss0, rss1, file_mb(db_path)))
        when = "before" if start_end_vs_t0 <= 0 else "AFTER (the first timers were due)"
        log(
            f"  started {n:,} in {start_s:.1f} s ({n / start_s:,.0f}/s); the start phase ended "
            f"{abs(start_end_vs_t0):.1f} s {when} t0"
        )

        fired = busy = full_busy = 0.0
        calls = full = 0
        deadline = time.monotonic() + lead + window + args.timeout
        while fired < n:
            call_began = time.perf_counter()
            count = engine.fire_due_timers()
            if count:
                spent = time.perf_counter() - call_began
                busy += spent
                fired += count
                calls += 1
                if count >= batch_size:
                    full_busy += spent
                    full += count
            else:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {fired:,} of {n:,} timers fired before the timeout")
                time.sleep(args.idle_sleep)
        done_after_t0 = (datetime.now(UTC) - t0).total_seconds()
        rss2 = rss_mb()
        memory.append(MemoryPhase(f"timers b={batch_size}: firing", rss1, rss2, file_mb(db_path)))

        completed = completed_count(engine) - warm
        if completed != n or active_count(engine) != 0:
            raise RuntimeError(f"{completed:,} of {n:,} timer instances completed")
        lateness: list[float] = []
        for i, key in sorted(keys.items()):
            history = engine.history(key)
            triggered = [h.at for h in history if h.event_type == "TimerTriggered"]
            if len(triggered) != 1 or history[-1].event_type != "InstanceCompleted":
                raise RuntimeError(f"timer instance {key}: unexpected history")
            lateness.append((triggered[0] - timer_due(t0, i, n, window)).total_seconds())
    return TimerRun(
        batch_size,
        n,
        window,
        start_s,
        lead,
        start_end_vs_t0,
        done_after_t0,
        busy,
        calls,
        lateness,
        memory,
        full,
        full_busy,
        rss_points,
    )


# -- messages -------------------------------------------------------------------------------------


@dataclass
class MessageRun:
    publish_batch: int
    instances: int
    start_s: float
    publish_s: float
    publish_cpu_s: float
    """CPU time of this process while publishing (SQLite runs in it; waiting for fsync not)."""
    memory: list[MemoryPhase]
    single_count: int = 0
    single_s: float = 0.0
    single_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.instances / self.publish_s

    @property
    def single_rate(self) -> float:
        return self.single_count / self.single_s if self.single_s else 0.0


def start_waiting(engine: Engine, prefix: str, total: int, start_batch: int) -> float:
    began = time.perf_counter()
    for chunk in batches(total, start_batch):
        engine.start_many(MESSAGE_PROCESS, [{"orderId": order_id(prefix, i)} for i in chunk])
    return time.perf_counter() - began


def publish_batched(engine: Engine, prefix: str, total: int, publish_batch: int) -> float:
    """Publish one matching message per waiting instance, ``publish_batch`` per transaction."""
    began = time.perf_counter()
    correlated = 0
    for chunk in batches(total, publish_batch):
        results = engine.publish_messages(
            [(MESSAGE_NAME, order_id(prefix, i), {"amount": i}) for i in chunk]
        )
        for result in results:
            if len(result.correlated) != 1:
                raise RuntimeError(f"a message reached {len(result.correlated)} instances")
        correlated += len(results)
    elapsed = time.perf_counter() - began
    if correlated != total:
        raise RuntimeError(f"{correlated:,} of {total:,} messages correlated")
    return elapsed


def run_messages(args: argparse.Namespace, publish_batch: int, single: int, log: Log) -> MessageRun:
    n = args.messages
    memory: list[MemoryPhase] = []
    with fresh_engine("messages", args.batch_size, MESSAGE_BPMN) as (engine, db_path):
        warm = min(args.start_batch, n)  # untimed warm-up of both paths
        start_waiting(engine, "warm", warm, args.start_batch)
        publish_batched(engine, "warm", warm, publish_batch)
        rss0 = rss_mb()
        start_s = start_waiting(engine, "order", n, args.start_batch)
        rss1 = rss_mb()
        memory.append(
            MemoryPhase(f"messages b={publish_batch}: start", rss0, rss1, file_mb(db_path))
        )
        log(f"  started {n:,} waiting instances in {start_s:.1f} s ({n / start_s:,.0f}/s)")
        cpu0 = time.process_time()
        publish_s = publish_batched(engine, "order", n, publish_batch)
        publish_cpu_s = time.process_time() - cpu0
        rss2 = rss_mb()
        memory.append(
            MemoryPhase(f"messages b={publish_batch}: publish", rss1, rss2, file_mb(db_path))
        )
        if completed_count(engine) != n + warm or active_count(engine) != 0:
            raise RuntimeError("not every message instance completed")
        run = MessageRun(publish_batch, n, start_s, publish_s, publish_cpu_s, memory)
        if single:
            start_waiting(engine, "single", single, args.start_batch)
            began = time.perf_counter()
            for i in range(single):
                t = time.perf_counter()
                result = engine.publish_message(MESSAGE_NAME, order_id("single", i), {"amount": i})
                run.single_ms.append((time.perf_counter() - t) * 1000.0)
                if len(result.correlated) != 1:
                    raise RuntimeError(f"a message reached {len(result.correlated)} instances")
            run.single_s = time.perf_counter() - began
            run.single_count = single
            if completed_count(engine) != n + warm + single:
                raise RuntimeError("not every one-at-a-time instance completed")
    return run


# -- profiles -------------------------------------------------------------------------------------


def profile_text(profile: cProfile.Profile, elapsed: float) -> tuple[str, list[str]]:
    """Top functions by internal time, as report lines, and the raw pstats text."""
    buffer = io.StringIO()
    stats = pstats.Stats(profile, stream=buffer)
    stats.sort_stats("tottime").print_stats(PROFILE_TOP)
    stats.sort_stats("cumulative").print_stats(PROFILE_TOP * 2)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:PROFILE_TOP]
    lines = [
        "| Function (by own time) | Calls | Own time (s) | Share | Cumulative (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in rows:
        lines.append(
            f"| `{short_location(filename, line, name)}` | {calls:,} | {tottime:.2f} "
            f"| {tottime / total * 100:.0f} % | {cumtime:.2f} |"
        )
    sqlite_s = sum(
        entry[2]
        for (filename, _line, name), entry in raw.items()
        if filename == "~" and "sqlite3." in name
    )
    lines.append("")
    lines.append(
        f"Profiled wall time {elapsed:.1f} s (cProfile slows Python code down); own time "
        f"inside sqlite3 calls (execute, executemany, commit, fetch) {sqlite_s:.2f} s "
        f"({sqlite_s / total * 100:.0f} % of all profiled time), the rest is Python."
    )
    return buffer.getvalue(), lines


def short_location(filename: str, line: int, name: str) -> str:
    """``legato/x.py:12 name`` for project code, ``module:line name`` otherwise."""
    path = filename.replace("\\", "/")
    for marker in ("/src/legato/", "/site-packages/", "/lib/python"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            if marker == "/src/legato/":
                tail = "legato/" + tail
            elif marker == "/lib/python":
                tail = tail.split("/", 1)[1] if "/" in tail else tail
            return f"{tail}:{line} {name}"
    if path.startswith("~") or path.startswith("<"):
        return name
    return f"{Path(path).name}:{line} {name}"


def profile_timers(args: argparse.Namespace, batch_size: int) -> tuple[str, list[str]]:
    """Profile firing ``--profile-instances`` timers that are all due already."""
    n = args.profile_instances
    with fresh_engine("profile-timers", batch_size, TIMER_BPMN) as (engine, _db):
        calibrate_start(engine, min(args.start_batch, n))
        past = datetime.now(UTC) - timedelta(seconds=1)
        for chunk in batches(n, args.start_batch):
            engine.start_many(TIMER_PROCESS, [{"due": past} for _ in chunk])
        profile = cProfile.Profile()
        began = time.perf_counter()
        fired = 0
        profile.enable()
        while fired < n:
            count = engine.fire_due_timers()
            if not count:
                break
            fired += count
        profile.disable()
        elapsed = time.perf_counter() - began
        if fired != n:
            raise RuntimeError(f"profile: {fired} of {n} timers fired")
    return profile_text(profile, elapsed)


def profile_messages(args: argparse.Namespace, publish_batch: int) -> tuple[str, list[str]]:
    """Profile publishing ``--profile-instances`` matching messages in batches.

    As many other instances as the engine caches are started after them, so that their states
    are read from the database as most are in the full run (not found in the cache).
    """
    n = args.profile_instances
    with fresh_engine("profile-messages", args.batch_size, MESSAGE_BPMN) as (engine, _db):
        start_waiting(engine, "order", n, args.start_batch)
        start_waiting(engine, "filler", ENGINE_CACHE_SIZE, args.start_batch)
        profile = cProfile.Profile()
        began = time.perf_counter()
        profile.enable()
        publish_batched(engine, "order", n, publish_batch)
        profile.disable()
        elapsed = time.perf_counter() - began
    return profile_text(profile, elapsed)


# -- report ---------------------------------------------------------------------------------------


def full_rate(run: TimerRun) -> str:
    rate = run.full_batch_rate
    return "-" if rate is None else f"{rate:,.0f} ({run.full_batch_timers:,} timers)"


@dataclass
class Report:
    command: str
    date: str
    machine: dict[str, str]
    args: argparse.Namespace
    pragmas: dict[str, str]
    timers: list[TimerRun]
    messages: list[MessageRun]
    single: MessageRun | None
    peak_mb: float
    load: tuple[float, float]
    timer_profile: list[str] | None = None
    message_profile: list[str] | None = None

    @property
    def best_timers(self) -> TimerRun:
        return best_timer_run(self.timers)

    @property
    def best_messages(self) -> MessageRun:
        return best_message_run(self.messages)

    @property
    def memory(self) -> list[MemoryPhase]:
        phases = [m for r in self.timers for m in r.memory]
        return phases + [m for r in self.messages for m in r.memory]

    @property
    def timers_met(self) -> bool:
        return timers_met(self.best_timers)

    @property
    def messages_met(self) -> bool:
        return messages_met(self.best_messages)

    def markdown(self) -> str:
        a = self.args
        lines = [
            f"## {SECTION_TITLE}",
            "",
            f"- Command: `{self.command}` (from the repository root)",
            f"- Date: {self.date}",
            *(f"- {name}: {value}" for name, value in self.machine.items()),
            f"- Legato: a fresh SQLite file in a temporary directory per run, journal_mode="
            f"{self.pragmas['journal_mode']}, synchronous={self.pragmas['synchronous']}, "
            "system clock. Instances are started with `start_many` in batches of "
            f"{a.start_batch:,} (one transaction each). Each run starts with an untimed warm-up "
            f"of {min(a.start_batch, a.timers):,} instances.",
            f"- Load average (1 min) at the start and at the end of the run: {self.load[0]:.1f} "
            f"and {self.load[1]:.1f} (the machine is shared: wall times vary with the other work "
            "on it, by 30 % and more; CPU times less so).",
            "",
        ]
        lines += self.timer_lines()
        lines += self.message_lines()
        lines += self.memory_lines()
        lines += self.target_lines()
        return "\n".join(lines).rstrip("\n") + "\n"

    def timer_lines(self) -> list[str]:
        a = self.args
        lines = [
            f"### Timers: {a.timers:,} instances due within one {a.window:g} s window",
            "",
            'Process `start -> timer catch event (timeDate "=due") -> end`; instance i has '
            f"`due = t0 + i * {a.window:g} s / {a.timers:,}` (an aware datetime variable), t0 "
            "set a little after the start phase is expected to end. Firing loop: "
            f"`fire_due_timers()` repeatedly, sleeping {a.idle_sleep * 1000:g} ms when nothing "
            "is due, until all fired; every instance was checked completed. Lateness = "
            f"`TimerTriggered.at` minus the due time set, over {len(self.timers[0].lateness_s):,} "
            "instances spread evenly over the window (first and last included). Firing rate = "
            "timers / time spent inside `fire_due_timers` calls that fired something; the "
            "full-batch rate counts only calls that claimed a whole batch (a backlog was "
            "waiting), i.e. the firing capacity.",
            "",
            "| batch_size | Start (s) | Start (inst/s) | Start ended before t0 (s) "
            "| t0 -> all completed (s) | Last due -> all completed (s) | Firing rate (timers/s) "
            "| Firing rate, full batches (timers/s) | Lateness p50 (s) | p99 (s) | max (s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.timers:
            lines.append(
                f"| {r.batch_size:,} | {r.start_s:.1f} | {r.start_rate:,.0f} "
                f"| {-r.start_end_vs_t0_s:.1f} | {r.done_after_t0_s:.1f} "
                f"| {r.done_after_last_due_s:.1f} | {r.firing_rate:,.0f} | {full_rate(r)} "
                f"| {percentile(r.lateness_s, 50):.2f} | {percentile(r.lateness_s, 99):.2f} "
                f"| {r.max_lateness:.2f} |"
            )
        best = self.best_timers
        lines += [
            "",
            f"Best setting: `Engine(url, batch_size={best.batch_size})` (smallest maximum "
            f"lateness). Arrival rate of due timers: {a.timers / a.window:,.0f}/s.",
            "",
        ]
        return lines

    def message_lines(self) -> list[str]:
        a = self.args
        lines = [
            f"### Message correlation: {a.messages:,} waiting instances, distinct keys",
            "",
            f'Process `start -> message catch event "{MESSAGE_NAME}" (correlationKey '
            '"=orderId") -> end`. Publish phase = wall time of publishing all '
            f"{a.messages:,} matching messages with `publish_messages` in batches (one "
            "transaction per batch); each message reached exactly one instance and every instance "
            f"completed. Engine batch_size={a.batch_size}.",
            "",
            "| Messages per `publish_messages` call | Start (s) | Start (inst/s) "
            "| Publish (s) | Correlations/s | CPU time per correlation (ms) |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.messages:
            lines.append(
                f"| {r.publish_batch:,} | {r.start_s:.1f} | {r.instances / r.start_s:,.0f} "
                f"| {r.publish_s:.1f} | {r.rate:,.0f} "
                f"| {r.publish_cpu_s / r.instances * 1000:.3f} |"
            )
        lines.append("")
        s = self.single
        if s is not None and s.single_count:
            lines += [
                f"One at a time (`publish_message`, one transaction per message), "
                f"{s.single_count:,} messages on the database of the first run (after its "
                f"{a.messages:,} correlations): {s.single_rate:,.0f} correlations/s; latency p50 "
                f"{percentile(s.single_ms, 50):.1f} ms, p99 {percentile(s.single_ms, 99):.1f} ms.",
                "",
            ]
        return lines

    def memory_growth(self) -> tuple[MemoryPhase, MemoryPhase, float]:
        """The first phase, the later phase ending highest, and how much higher (MiB)."""
        phases = self.memory
        reference = phases[0]
        later = phases[1:] or phases
        highest = max(later, key=lambda m: m.after_mb)
        return reference, highest, highest.after_mb - reference.after_mb

    def memory_lines(self) -> list[str]:
        lines = [
            "### Memory",
            "",
            "RSS (VmRSS after gc.collect()) before and after each phase; each run has its own "
            "engine and database, all in one process. The script keeps only the keys of the "
            "sampled instances. The engine caches the state of up to "
            f"{ENGINE_CACHE_SIZE:,} active instances, so the first start phase fills that cache; "
            "memory is called flat when no later "
            f"phase ends more than {FLAT_TOLERANCE * 100:.0f} % above the end of the first.",
            "",
            "| Phase | RSS before (MiB) | RSS after (MiB) | Change (MiB) | Database + WAL (MiB) |",
            "|---|---:|---:|---:|---:|",
        ]
        for m in self.memory:
            lines.append(
                f"| {m.phase} | {m.before_mb:.1f} | {m.after_mb:.1f} | {m.growth_mb:+.1f} "
                f"| {m.db_mb:.1f} |"
            )
        lines.append("")
        points = self.timers[0].rss_during_start
        if points:
            lines += [
                f"RSS during the first start phase (batch_size={self.timers[0].batch_size}): "
                + ", ".join(f"{count:,} started: {mb:.1f} MiB" for count, mb in points)
                + ".",
                "",
            ]
        lines += [f"Peak RSS of the whole benchmark process {self.peak_mb:.1f} MiB.", ""]
        return lines

    def target_lines(self) -> list[str]:
        a = self.args
        bt, bm = self.best_timers, self.best_messages
        reference, highest, growth = self.memory_growth()
        flat = growth <= FLAT_TOLERANCE * reference.after_mb
        lines = [
            "### Targets",
            "",
            "| Target | Measured | Met |",
            "|---|---|---|",
            f"| Every timer fires within {TARGET_LATENESS_S:.0f} s of its due time "
            f"({a.timers:,} due within {a.window:g} s) | max lateness {bt.max_lateness:.2f} s "
            f"(sample of {len(bt.lateness_s):,}; batch_size={bt.batch_size}), all completed "
            f"{bt.done_after_last_due_s:.1f} s after the last due time "
            f"| {yes(self.timers_met)} |",
            f"| >= {TARGET_CORRELATIONS_PER_S:,.0f} correlations/s | {bm.rate:,.0f}/s "
            f"(`publish_messages`, {bm.publish_batch:,} per call) | {yes(self.messages_met)} |",
            f"| Memory flat (after the first phase, no phase ends more than "
            f"{FLAT_TOLERANCE * 100:.0f} % higher) | highest {highest.after_mb:.1f} MiB after "
            f"{highest.phase} vs {reference.after_mb:.1f} MiB after {reference.phase} "
            f"({growth:+.1f} MiB, {growth / reference.after_mb * 100:+.1f} %) | {yes(flat)} |",
            "",
        ]
        lines += self.verdict_lines()
        for title, rows in (
            (
                f"firing {a.profile_instances:,} already-due timers, batch_size={bt.batch_size}",
                self.timer_profile,
            ),
            (
                f"publishing {a.profile_instances:,} messages, {bm.publish_batch:,} per call, to "
                "instances whose states are not cached",
                self.message_profile,
            ),
        ):
            if rows is not None:
                lines += [f"cProfile, {title}: top {PROFILE_TOP} functions by own time", ""]
                lines += [*rows, ""]
        return lines

    def verdict_lines(self) -> list[str]:
        a = self.args
        bt, bm = self.best_timers, self.best_messages
        lines: list[str] = []
        arrival = a.timers / a.window
        if self.timers_met:
            lines.append(
                f"Timers: met. With batch_size={bt.batch_size} the engine fires "
                f"{bt.firing_rate:,.0f} timers/s while busy against an arrival rate of "
                f"{arrival:,.0f}/s; the worst sampled timer fired {bt.max_lateness:.2f} s late."
            )
        else:
            over = bt.max_lateness - TARGET_LATENESS_S
            lines.append(
                f"Timers: not met, by {over:.1f} s (worst sampled lateness "
                f"{bt.max_lateness:.1f} s against {TARGET_LATENESS_S:.0f} s). Firing runs at "
                f"{bt.firing_rate:,.0f} timers/s against an arrival rate of {arrival:,.0f}/s, so "
                "the backlog grows over the window; see the profile below for where the time goes."
            )
        if self.messages_met:
            lines.append(
                f"Correlations: met, {bm.rate:,.0f}/s with {bm.publish_batch:,} messages per "
                f"`publish_messages` call ({bm.rate / TARGET_CORRELATIONS_PER_S:.1f}x the target)."
            )
        else:
            lines.append(
                f"Correlations: not met: {bm.rate:,.0f}/s at best, "
                f"{(1 - bm.rate / TARGET_CORRELATIONS_PER_S) * 100:.0f} % below "
                f"{TARGET_CORRELATIONS_PER_S:,.0f}/s; see the profile below."
            )
        if self.single is not None and self.single.single_count:
            lines.append(
                f"One message per transaction reaches {self.single.single_rate:,.0f}/s: a "
                "durable commit (fsync) per message bounds it, which is why batching matters."
            )
        lines.append("")
        return lines


def best_timer_run(runs: list[TimerRun]) -> TimerRun:
    return min(runs, key=lambda r: (r.max_lateness, r.done_after_t0_s))


def best_message_run(runs: list[MessageRun]) -> MessageRun:
    return max(runs, key=lambda r: r.rate)


def timers_met(run: TimerRun) -> bool:
    return run.max_lateness <= TARGET_LATENESS_S


def messages_met(run: MessageRun) -> bool:
    return run.rate >= TARGET_CORRELATIONS_PER_S


def run_profiles(
    args: argparse.Namespace, timers: list[TimerRun], messages: list[MessageRun], log: Log
) -> tuple[list[str] | None, list[str] | None]:
    """Profile the phases that ``--profile`` asks for (by default those that missed their
    target); returns the report lines of the timer and of the message profile."""

    def wanted(met: bool) -> bool:
        return args.profile == "always" or (args.profile == "missed" and not met)

    timer_lines = message_lines = None
    if timers and wanted(timers_met(best_timer_run(timers))):
        log(f"profile: firing {args.profile_instances:,} due timers ...")
        raw_text, timer_lines = profile_timers(args, best_timer_run(timers).batch_size)
        log(raw_text)
    if messages and wanted(messages_met(best_message_run(messages))):
        log(f"profile: publishing {args.profile_instances:,} messages ...")
        raw_text, message_lines = profile_messages(args, best_message_run(messages).publish_batch)
        log(raw_text)
    return timer_lines, message_lines


def int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return values


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--timers", type=int, default=100_000, help="timer instances per run")
    parser.add_argument(
        "--timer-batch-sizes",
        type=int_list,
        default=[200, 1000, 2000],
        help="engine batch_size of each timer run (comma separated)",
    )
    parser.add_argument("--window", type=float, default=60.0, help="seconds the dues spread over")
    parser.add_argument(
        "--lead",
        type=float,
        default=None,
        help="seconds from the start phase to t0 (default: "
        "calibrated start time x --lead-factor + --lead-margin)",
    )
    parser.add_argument("--lead-factor", type=float, default=1.25)
    parser.add_argument("--lead-margin", type=float, default=5.0)
    parser.add_argument("--idle-sleep", type=float, default=0.02, help="seconds")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds after the window")
    parser.add_argument("--lateness-sample", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=100_000, help="message instances per run")
    parser.add_argument(
        "--message-batches",
        type=int_list,
        default=[500, 1000, 2000],
        help="messages per publish_messages call, one run each (comma separated)",
    )
    parser.add_argument("--single-messages", type=int, default=2_000, help="one at a time")
    parser.add_argument("--batch-size", type=int, default=200, help="engine batch_size (messages)")
    parser.add_argument("--start-batch", type=int, default=1_000, help="instances per start_many")
    parser.add_argument("--profile-instances", type=int, default=5_000)
    parser.add_argument(
        "--profile",
        choices=["missed", "always", "never"],
        default="missed",
        help="profile a phase when its target is missed (default), always, or never",
    )
    parser.add_argument(
        "--only",
        choices=["timers", "messages"],
        default=None,
        help="run one phase; its figures are printed, RESULTS.md is not written",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    for name in ("timers", "messages", "lateness_sample", "start_batch", "profile_instances"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.window <= 0:
        parser.error("--window must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)

    def log(message: str) -> None:
        print(message, flush=True)

    machine = machine_facts({"SQLite": sqlite3.sqlite_version, "SQLAlchemy": sa.__version__})
    command = shlex.join(["python", "bench/events.py", *raw])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    log(f"{SECTION_TITLE}: {command}")
    load_at_start = os.getloadavg()[0]
    for name, value in machine.items():
        log(f"  {name}: {value}")
    with fresh_engine("probe", args.batch_size, TIMER_BPMN) as (probe, _db):
        pragmas = sqlite_pragmas(probe)
    log(f"  Legato SQLite: {pragmas}")

    timers: list[TimerRun] = []
    for index, batch_size in enumerate(args.timer_batch_sizes if args.only != "messages" else []):
        log(f"timers: {args.timers:,} instances, batch_size={batch_size} ...")
        run = timer_run = run_timers(args, batch_size, index == 0, log)
        timers.append(timer_run)
        log(
            f"  all completed {run.done_after_t0_s:.1f} s after t0 "
            f"({run.done_after_last_due_s:.1f} s after the last due); firing "
            f"{run.firing_rate:,.0f} timers/s in {run.firing_calls:,} batches; lateness p50 "
            f"{percentile(run.lateness_s, 50):.2f} s, p99 {percentile(run.lateness_s, 99):.2f} s, "
            f"max {run.max_lateness:.2f} s"
        )

    messages: list[MessageRun] = []
    single: MessageRun | None = None
    for index, publish_batch in enumerate(args.message_batches if args.only != "timers" else []):
        log(f"messages: {args.messages:,} instances, {publish_batch:,} per publish_messages ...")
        one_by_one = args.single_messages if index == 0 else 0
        message_run = run_messages(args, publish_batch, one_by_one, log)
        messages.append(message_run)
        if index == 0:
            single = message_run
        log(
            f"  {message_run.rate:,.0f} correlations/s ({message_run.publish_s:.1f} s; CPU "
            f"{message_run.publish_cpu_s / message_run.instances * 1000:.3f} ms per correlation)"
        )
        if message_run.single_count:
            log(f"  one at a time: {message_run.single_rate:,.0f}/s")

    profiles = run_profiles(args, timers, messages, log)
    if args.only is not None:
        return 0  # one phase: printed above, not a whole report
    # ru_maxrss is updated lazily; never report a peak below a sampled value.
    sampled = [m.after_mb for r in timers for m in r.memory]
    peak = max(peak_rss_mb(), *sampled, *(m.after_mb for r in messages for m in r.memory))
    load = (load_at_start, os.getloadavg()[0])
    report = Report(command, date, machine, args, pragmas, timers, messages, single, peak, load)
    report.timer_profile, report.message_profile = profiles
    publish(report.markdown(), SECTION_TITLE, args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
