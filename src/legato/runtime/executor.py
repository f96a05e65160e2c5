"""Runs commands durably: load state, step, persist state + history + rows in one transaction.

Many commands may share one transaction (group commit); a command is acknowledged only after
its transaction committed. Commands for other instances that a step produces (a child to
start, a parent to resume) run in the same transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from legato.engine import commands as cmd
from legato.engine import values
from legato.engine.context import EngineContext
from legato.engine.events import Event, payload_fields
from legato.engine.state import InstanceState
from legato.engine.step import StepResult, step
from legato.errors import (
    ConflictError,
    InvalidCommandError,
    LegatoError,
    NotFoundError,
    StoreUnavailableError,
)
from legato.feel import FeelLimits
from legato.model import RetryPolicy
from legato.runtime.clock import Clock
from legato.runtime.collector import CollectorPolicy
from legato.runtime.correlation import correlation_commands
from legato.runtime.definitions import DefinitionRegistry
from legato.runtime.keys import KeyAllocator
from legato.runtime.projection import BatchWrites, JobHold, Noted, project
from legato.store.facts import KnownStarts
from legato.store.ports import Store, Transaction
from legato.store.records import HistoryChunk, HistoryRecord, InstanceRecord, JobRecord

logger = logging.getLogger("legato.executor")

Guard = Callable[[Transaction], cmd.Command | None]
"""Checks, in a command's transaction, that the command may run (raises to refuse it), and
may return the command to run in its place."""

_MAX_CONFLICT_RETRIES = 20
"""How often a batch that lost a race to another node runs again before the error is raised."""

UNAVAILABLE_PATIENCE = 60.0
"""Seconds a batch keeps retrying while the database cannot be reached."""

_MAX_ROUNDS = 50
"""How often deliveries within one batch may throw anew (a bound against ping-pong models)."""


@dataclass(slots=True)
class _Cached:
    state: InstanceState
    revision: int
    history_length: int
    summary: tuple[object, ...] | None = None
    """The summary columns of the stored row (None: not stored yet), see :func:`_summary`."""


@dataclass(frozen=True, slots=True)
class LookedAhead:
    """What a batch's transaction found for this process to run next, once its own writes
    were done: due jobs, now held for this process, or else when the next one is due."""

    jobs: list[JobRecord]
    next_due: datetime | None
    """When no job was found: when the next job of this process's types becomes due (None
    if none is waiting)."""


Observed = list[tuple[InstanceState, list[Event]]]
"""The steps of a batch: each step's instance state (as the batch left it) and events."""


class BatchObserver(Protocol):
    """Told of what committed batches did (metrics, traces): never of a rolled-back one."""

    def committed(self, steps: Observed, commit_seconds: float) -> None:
        """A batch committed ``steps``; its commit took ``commit_seconds``."""

    def loaded(self, state: InstanceState) -> None:
        """An instance's state was read from the store (it may be one another node moved
        on: what it holds started there)."""


LookAhead = Callable[[Transaction], LookedAhead | None]
"""Takes the due jobs this process can run, in a batch's transaction (None: it cannot look:
no handler slot is free)."""


@dataclass(slots=True)
class Outcome:
    """The result of one submitted command: its step, or the error that refused it."""

    command: cmd.Command
    result: StepResult | None = None
    error: LegatoError | None = None


class CommandExecutor:
    """Applies commands to instances durably, keeping active instances' state in a cache."""

    def __init__(
        self,
        store: Store,
        definitions: DefinitionRegistry,
        keys: KeyAllocator,
        clock: Clock,
        retry_policy: RetryPolicy,
        random_source: Callable[[], float] = random.random,
        cache_size: int = 10_000,
        feel_limits: FeelLimits | None = None,
    ) -> None:
        self._store = store
        self._feel_limits = feel_limits
        self._definitions = definitions
        self._keys = keys
        self._clock = clock
        self._retry_policy = retry_policy
        self._random = random_source
        self._cache: OrderedDict[int, _Cached] = OrderedDict()
        self._cache_size = cache_size
        self.push_types: frozenset[str] = frozenset()
        """Job types run by handlers in this process: their new jobs are handed out at once."""
        self.push_worker = ""
        self.push_lease = timedelta(minutes=5)
        self.push_room: Callable[[], tuple[frozenset[str], int]] | None = None
        """The job types this process runs inline (all their new jobs are held) and how many
        new jobs of other types it can start now (its free handler slots); None: no limit."""
        self.on_noted: Callable[[list[Noted]], None] | None = None
        """Told of the failed attempts and new incidents of every committed batch."""
        self.analytics = True
        """Keep the analytics facts in each batch's transaction (``Engine(analytics=...)``)."""
        self._starts = KnownStarts()
        self.observer: BatchObserver | None = None
        """Told of each committed batch's steps (see :class:`BatchObserver`)."""
        self._observed: Observed | None = None
        self.on_jobs_available: Callable[[frozenset[str]], None] | None = None
        """Told, after a batch commits, of the types of the jobs it made available to any
        worker (new ones not held for this process, failed ones due again, retried ones)."""
        self._pushed: deque[JobRecord] = deque()
        self._earliest_new_timer: datetime | None = None
        self._current: set[int] = set()
        """Cached instances whose revision was checked in the running transaction."""
        self._steps = 0
        """Steps run so far (the collector policy counts them)."""
        self._looked_ahead: LookedAhead | None = None
        self._collector = CollectorPolicy()
        self.lock = threading.RLock()
        """Held while a batch runs or the cache is read in bulk: the engine is used from many
        threads at once (a server's requests beside the node's own loop), and the cache, the
        key allocator and the batch fields are one thread's at a time."""

    def release_collector(self) -> None:
        """The engine closes: see :meth:`CollectorPolicy.release`."""
        self._collector.release()

    def pushed_keys(self) -> list[int]:
        """The jobs held for this process's handlers that none has taken yet."""
        return [job.job_key for job in self._pushed]

    def take_pushed(self, max_jobs: int) -> list[JobRecord]:
        """Jobs created by committed commands and already held for this process's handlers."""
        taken: list[JobRecord] = []
        while self._pushed and len(taken) < max_jobs:
            taken.append(self._pushed.popleft())
        return taken

    def cached_state(self, instance_key: int) -> InstanceState | None:
        """The cached state of an instance, if it is in the cache."""
        cached = self._cache.get(instance_key)
        return cached.state if cached else None

    def context(self) -> EngineContext:
        """A context for a step now."""
        return EngineContext(
            now=self._clock.now(),
            new_key=self._keys.new_key,
            definitions=self._definitions,
            random=self._random,
            default_retry_policy=self._retry_policy,
            feel_limits=self._feel_limits,
        )

    def execute(
        self,
        commands: Sequence[cmd.Command],
        *,
        all_or_nothing: bool = False,
        guards: Sequence[Guard | None] | None = None,
        look_ahead: LookAhead | None = None,
    ) -> list[Outcome]:
        """Run ``commands`` in one transaction; if it fails, run them one by one to isolate.

        With ``all_or_nothing``, a refused command rolls the whole batch back. ``guards``
        (one per command, or None) check in the transaction that their command may run; a
        guard that refuses (``InvalidCommandError``, ``NotFoundError``) refuses only its
        command, and a guard that returns a command has it run instead (one completed from
        what the guard read, such as a job's instance). ``look_ahead``, when the batch created
        no job for this process and none waits for it, takes the due jobs of this process in
        the same transaction (see :meth:`take_looked_ahead`), so that running on needs no
        transaction of its own to find them.
        """
        self._looked_ahead = None
        if not commands:
            return []
        try:
            return self._execute_batch(
                commands, all_or_nothing=all_or_nothing, guards=guards, look_ahead=look_ahead
            )
        except Exception:
            if len(commands) == 1 or all_or_nothing:
                raise
            logger.warning("a batch of %d commands failed; retrying them one by one", len(commands))
        outcomes: list[Outcome] = []
        for n, command in enumerate(commands):
            try:
                one = None if guards is None else [guards[n]]
                outcomes.extend(self._execute_batch([command], guards=one))
            except LegatoError as exc:
                outcomes.append(Outcome(command, error=exc))
        return outcomes

    def execute_with(
        self,
        commands: Sequence[cmd.Command],
        also: Callable[[Transaction, list[Outcome]], None],
        *,
        always: bool = False,
    ) -> list[Outcome]:
        """Run ``commands`` and ``also`` in one transaction (e.g. to record a request id).

        ``also`` runs only when every command was accepted, unless ``always``.
        """
        return self._execute_batch(commands, also, always=always)

    def execute_guarded(
        self, commands: Sequence[cmd.Command], guard: Callable[[Transaction], None]
    ) -> list[Outcome]:
        """Run ``commands`` all or nothing, after ``guard`` checked in the same transaction
        that they may run (it raises to refuse them: e.g. a job no longer held by the
        worker that reports its result)."""
        return self._execute_batch(commands, all_or_nothing=True, guard=guard)

    def peek_many(self, tx: Transaction, instance_keys: Sequence[int]) -> None:
        """Make the states of these instances current in bulk (see :meth:`preload`), so
        that :meth:`cached_state` returns them; do not change them."""
        with self.lock:
            self._current = set()
            self.preload(tx, instance_keys)

    def execute_in(
        self,
        plan: Callable[[Transaction], Sequence[cmd.Command]],
        also: Callable[[Transaction, list[Outcome]], None] | None = None,
    ) -> list[Outcome]:
        """Run the commands that ``plan`` makes from what the database holds, in one
        transaction with that reading (e.g. the instances a published message correlates to),
        then ``also`` with their outcomes (whatever they are) in the same transaction."""
        return self._execute_batch((), also, plan=plan, always=True)

    def _execute_batch(
        self,
        commands: Sequence[cmd.Command],
        also: Callable[[Transaction, list[Outcome]], None] | None = None,
        all_or_nothing: bool = False,
        plan: Callable[[Transaction], Sequence[cmd.Command]] | None = None,
        always: bool = False,
        guard: Callable[[Transaction], None] | None = None,
        guards: Sequence[Guard | None] | None = None,
        look_ahead: LookAhead | None = None,
    ) -> list[Outcome]:
        with self.lock:
            steps = self._steps
            try:
                return self._retrying(
                    lambda: self._run_batch(
                        commands, also, all_or_nothing, plan, always, guard, guards, look_ahead
                    ),
                    # What a plan makes (a message or timer start) is not known here.
                    may_start=plan is not None or _starts_instances(commands),
                )
            finally:
                self._collector.ran(self._steps - steps)

    def _retrying(self, run: Callable[[], list[Outcome]], *, may_start: bool) -> list[Outcome]:
        """Run a batch again when it lost a race or the database was briefly away.

        A lost race (:class:`ConflictError`: another node saved one of the instances first)
        rolled everything back, and the touched instances left the cache: the commands run
        again on the stored state. While the database is unreachable the batch is retried
        with a growing pause for up to :data:`UNAVAILABLE_PATIENCE`. A connection lost during
        the commit may have stored the batch: running it again is still safe for commands on
        existing instances (they meet the new state: a completed job is no longer there), but
        a new instance could start twice, so a batch that starts instances (or may: one planned
        from what the database holds) is not retried then; the caller decides
        (:meth:`Engine.start` with a request id looks the instance up).
        """
        conflicts = 0
        waited = 0.0
        pause = 0.05
        while True:
            try:
                return run()
            except ConflictError:
                conflicts += 1
                if conflicts > _MAX_CONFLICT_RETRIES:
                    raise
                logger.debug("a batch lost a race with another node; running it again")
                time.sleep(self._random() * 0.005 * conflicts)
            except StoreUnavailableError as exc:
                if waited >= UNAVAILABLE_PATIENCE or (exc.maybe_committed and may_start):
                    raise
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, pause)
                time.sleep(pause)
                waited += pause
                pause = min(pause * 2, 5.0)

    def _run_batch(
        self,
        commands: Sequence[cmd.Command],
        also: Callable[[Transaction, list[Outcome]], None] | None,
        all_or_nothing: bool,
        plan: Callable[[Transaction], Sequence[cmd.Command]] | None,
        always: bool,
        guard: Callable[[Transaction], None] | None = None,
        guards: Sequence[Guard | None] | None = None,
        look_ahead: LookAhead | None = None,
    ) -> list[Outcome]:
        self._looked_ahead = None
        looked: LookedAhead | None = None
        touched: set[int] = set()
        self._current = set()
        noted: list[Noted] = []
        available: set[str] = set()
        observer = self.observer
        observed: Observed | None = [] if observer is not None else None
        self._observed = observed
        committing = 0.0
        try:
            with self._keys.transaction(self._store) as tx:
                self._definitions.use(tx)
                writes = BatchWrites(
                    tx, self._job_hold(), analytics=self.analytics, starts=self._starts
                )
                noted = writes.noted
                available = writes.available_types
                try:
                    if guard is not None:
                        guard(tx)
                    if plan is not None:
                        commands = [*commands, *plan(tx)]
                    admitted: list[cmd.Command | Outcome] = list(commands)
                    if guards is not None:
                        admitted = [_admit(tx, c, g) for c, g in zip(commands, guards, strict=True)]
                    if len(admitted) > 1:
                        # A batch of job results checks its instances' revisions with one
                        # query instead of one per instance.
                        self.preload(tx, _existing_instances(admitted))
                    outcomes = [
                        c if isinstance(c, Outcome) else self._run(tx, writes, c, touched)
                        for c in admitted
                    ]
                    refused = next((o.error for o in outcomes if o.error is not None), None)
                    if refused is not None and all_or_nothing:
                        raise refused
                    pushed = self._write(writes, touched)
                    pushed += self._correlate(tx, writes, touched)
                    if also is not None and (refused is None or always):
                        also(tx, outcomes)
                    if look_ahead is not None and not pushed and not self._pushed:
                        looked = look_ahead(tx)
                        if looked is not None and looked.jobs:
                            self.preload(tx, [job.instance_key for job in looked.jobs])
                            pushed += looked.jobs
                finally:
                    self._definitions.use(None)
                committing = time.perf_counter()
        except BaseException:
            for key in touched:
                self._cache.pop(key, None)
            raise
        if observed:
            assert observer is not None
            try:
                observer.committed(observed, time.perf_counter() - committing)
            except Exception:  # what was committed stands: only its measuring failed
                logger.exception("the metrics or traces of a committed batch failed")
        self._pushed.extend(pushed)
        if writes.started_changes is not None:
            self._starts.apply(writes.started_changes)
        self._looked_ahead = looked
        if noted and self.on_noted is not None:
            self.on_noted(noted)
        if available and self.on_jobs_available is not None:
            self.on_jobs_available(frozenset(available))
        for key in touched:
            cached = self._cache.get(key)
            if cached is not None and not cached.state.is_active:
                del self._cache[key]
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return outcomes

    def _run(
        self, tx: Transaction, writes: BatchWrites, command: cmd.Command, touched: set[int]
    ) -> Outcome:
        queue: deque[cmd.Command] = deque([command])
        first: Outcome | None = None
        while queue:
            current = queue.popleft()
            try:
                result = self._step(tx, writes, current, touched)
            except (InvalidCommandError, NotFoundError) as exc:
                if first is None:
                    return Outcome(command, error=exc)
                logger.error("follow-up command %r was refused: %s", current, exc)
                continue
            if first is None:
                first = Outcome(command, result)
            queue.extend(result.follow_ups)
        assert first is not None
        return first

    def _step(
        self, tx: Transaction, writes: BatchWrites, command: cmd.Command, touched: set[int]
    ) -> StepResult:
        if isinstance(command, cmd.StartInstance) and command.instance_key == cmd.NEW_INSTANCE:
            command = dataclasses.replace(command, instance_key=self._keys.new_key())
        key = command.instance_key
        cached = None if isinstance(command, cmd.StartInstance) else self._load(tx, key)
        state = cached.state if cached else None
        result = step(state, command, self.context())
        self._steps += 1
        touched.add(key)
        self._record(writes, result, cached)
        return result

    def _load(self, tx: Transaction, instance_key: int) -> _Cached | None:
        cached = self._cache.get(instance_key)
        if cached is not None:
            # Another process (a worker, the command line, another node) may have moved the
            # instance on since it was cached: a cached state is used only while its revision
            # is the stored one, checked once per transaction.
            if instance_key in self._current or tx.get_revision(instance_key) == cached.revision:
                self._current.add(instance_key)
                self._cache.move_to_end(instance_key)
                return cached
            del self._cache[instance_key]
        record = tx.get_instance(instance_key)
        if record is None:
            return None
        cached = self._cache[instance_key] = _cached_from(record)
        self._current.add(instance_key)
        if self.observer is not None:
            self.observer.loaded(cached.state)
        return cached

    def preload(self, tx: Transaction, instance_keys: Sequence[int]) -> None:
        """Make the states of these instances current for the running transaction in bulk.

        Commands for many instances (a batch of messages) would otherwise check or read each
        state with its own query: the cached ones are checked against the stored revisions
        in one query and the others (or stale ones) read in another, as :meth:`_load` would
        one by one. Every batch of more than one command does this before it runs.
        """
        keys = [key for key in dict.fromkeys(instance_keys) if key not in self._current]
        cached = [key for key in keys if key in self._cache]
        revisions = tx.get_revisions(cached) if cached else {}
        for key in cached:
            if revisions.get(key) == self._cache[key].revision:
                self._current.add(key)
                self._cache.move_to_end(key)
            else:
                del self._cache[key]
        missing = [key for key in keys if key not in self._cache]
        self._make_room(len(missing))
        observer = self.observer
        for record in tx.get_instances(missing) if missing else ():
            entry = self._cache[record.instance_key] = _cached_from(record)
            self._current.add(record.instance_key)
            if observer is not None:
                observer.loaded(entry.state)

    def _make_room(self, count: int) -> None:
        """Evict the least recently used states before ``count`` are read in bulk, so that a
        large batch does not hold the cache's size plus the batch. States this transaction
        uses stay: they are the most recently used, at the end."""
        cache = self._cache
        while cache and len(cache) + count > self._cache_size:
            oldest = next(iter(cache))
            if oldest in self._current:
                break
            del cache[oldest]

    def take_looked_ahead(self) -> LookedAhead | None:
        """What the last :meth:`execute` with a ``look_ahead`` found, if its batch committed
        and looked (once)."""
        looked, self._looked_ahead = self._looked_ahead, None
        return looked

    def take_earliest_new_timer(self) -> datetime | None:
        """The earliest due time of the timers this process scheduled since the last call."""
        earliest, self._earliest_new_timer = self._earliest_new_timer, None
        return earliest

    def _write(self, writes: BatchWrites, touched: set[int]) -> list[JobRecord]:
        if writes.new_timers:
            due = min(t.due_at for t in writes.new_timers.values())
            known = self._earliest_new_timer
            self._earliest_new_timer = due if known is None else min(known, due)
        self._save_instances(writes, touched)
        pushed = self._push(writes)
        writes.flush()
        return pushed

    def _correlate(
        self, tx: Transaction, writes: BatchWrites, touched: set[int]
    ) -> list[JobRecord]:
        """Deliver what the batch threw or waits for: messages and signals the instances
        threw, and buffered messages for the message subscriptions they opened. What that
        starts or moves on may throw again, so this goes round until nothing is left."""
        pushed: list[JobRecord] = []
        for _ in range(_MAX_ROUNDS):
            commands = correlation_commands(tx, writes, self._clock.now())
            if not commands:
                break
            round_touched: set[int] = set()
            for command in commands:
                outcome = self._run(tx, writes, command, round_touched)
                if outcome.error is not None:
                    logger.info("%s was not delivered: %s", type(command).__name__, outcome.error)
            touched |= round_touched
            pushed += self._write(writes, round_touched)
        return pushed

    def _job_hold(self) -> JobHold | None:
        """Hold the new jobs of local handlers for this process (job push).

        They are stored as activated by this worker with a lease, in the same transaction that
        creates them, and run right after the commit without another query. If this process
        dies, the lease runs out and any worker takes them, as with a pulled job.
        """
        if not self.push_types:
            return None
        lease_until = self._clock.now() + self.push_lease
        if self.push_room is None:
            return JobHold(self.push_types, self.push_worker, lease_until)
        inline_types, room = self.push_room()
        room -= sum(1 for job in self._pushed if job.job_type not in inline_types)
        return JobHold(self.push_types, self.push_worker, lease_until, inline_types, room)

    @staticmethod
    def _push(writes: BatchWrites) -> list[JobRecord]:
        """The held new jobs that are about to be written (see :meth:`_job_hold`)."""
        hold = writes.hold
        if hold is None:
            return []
        return [
            job
            for job in writes.new_jobs.values()
            if job.state == "activated" and job.worker == hold.worker
        ]

    def _record(self, writes: BatchWrites, result: StepResult, cached: _Cached | None) -> None:
        """Queue the history and row changes of one step (written when the batch ends)."""
        state = result.state
        self._current.add(state.instance_key)  # this transaction's own changes are current
        if state.suspended and self._pushed:
            # Jobs held for this process's handlers and not started: suspended with their
            # instance (they lost their lease), so no handler may start them now.
            key = state.instance_key
            self._pushed = deque(job for job in self._pushed if job.instance_key != key)
        if cached is None:
            cached = _Cached(state, -1, 0)
            self._cache[state.instance_key] = cached
        cached.history_length = _chunk_history(
            writes.history, state.instance_key, cached.history_length, result.events
        )
        project(writes, state, result.events)
        if self._observed is not None:
            self._observed.append((state, result.events))
        writes.messages += result.messages
        writes.signals += result.signals

    def _save_instances(self, writes: BatchWrites, touched: set[int]) -> None:
        """One row write per instance per batch, however many commands touched it."""
        inserts: list[InstanceRecord] = []
        updates: list[InstanceRecord] = []
        states: list[InstanceRecord] = []
        for key in sorted(touched):
            cached = self._cache[key]
            cached.revision += 1
            record = _instance_record(cached)
            summary = _summary(record)
            if cached.revision == 0:
                inserts.append(record)
            elif summary == cached.summary:
                # Most steps change the state only: the row's indexed summary columns are
                # left alone (see Instances.update_instance_states).
                states.append(record)
            else:
                updates.append(record)
            cached.summary = summary
        writes.tx.insert_instances(inserts)
        writes.tx.update_instances(updates)
        writes.tx.update_instance_states(states)

    def forget(self, instance_key: int) -> None:
        """Drop an instance from the cache (it is reloaded from the store when next used)."""
        self._cache.pop(instance_key, None)


def _starts_instances(commands: Sequence[cmd.Command]) -> bool:
    return any(isinstance(command, cmd.StartInstance) for command in commands)


def _existing_instances(commands: Sequence[cmd.Command | Outcome]) -> list[int]:
    """The instances that ``commands`` address, except the ones they start (and the ones a
    guard refused)."""
    return [
        c.instance_key
        for c in commands
        if isinstance(c, cmd.Command) and not isinstance(c, cmd.StartInstance)
    ]


def _admit(tx: Transaction, command: cmd.Command, guard: Guard | None) -> cmd.Command | Outcome:
    """The command to run after ``guard`` checked it (the guard's own, when it returns one),
    or the refusal as an outcome. A guard reads (and locks) rows only: a refusal leaves
    nothing behind."""
    if guard is None:
        return command
    try:
        return guard(tx) or command
    except (InvalidCommandError, NotFoundError) as exc:
        return Outcome(command, error=exc)


def _cached_from(record: InstanceRecord) -> _Cached:
    data = dict(record.state)
    history_length = int(data.pop("history_length", 0))
    return _Cached(InstanceState.from_json(data), record.revision, history_length, _summary(record))


def _summary(record: InstanceRecord) -> tuple[object, ...]:
    """The columns of an instance row other than its key, state and revision."""
    return (
        record.definition_key,
        record.process_id,
        record.version,
        record.status,
        record.business_key,
        record.started_at,
        record.ended_at,
        record.parent_instance_key,
        record.incident_count,
        record.suspended,
    )


def _instance_record(cached: _Cached) -> InstanceRecord:
    state = cached.state
    data = state.to_json()
    data["history_length"] = cached.history_length
    assert state.started_at is not None
    return InstanceRecord(
        instance_key=state.instance_key,
        definition_key=state.definition_key,
        process_id=state.process_id,
        version=state.version,
        status=state.status,
        business_key=state.business_key,
        started_at=state.started_at,
        ended_at=state.ended_at,
        state=data,
        revision=cached.revision,
        parent_instance_key=state.parent_instance_key,
        incident_count=len(state.incidents),
        suspended=state.suspended,
    )


def _chunk_history(
    chunks: list[HistoryChunk], instance_key: int, length: int, events: Sequence[Event]
) -> int:
    """Add ``events`` to the batch's history ``chunks``, encoded once each, straight into the
    rows they are stored as (events of one instance at one instant, continuing the last
    chunk if it is theirs); returns the instance's new history length."""
    builders = _BUILDERS
    last = chunks[-1] if chunks else None
    if last is not None and (
        last.instance_key != instance_key or last.position + len(last.events) != length + 1
    ):
        last = None
    for event in events:
        length += 1
        at = event.at
        if last is None or at != last.at:
            last = HistoryChunk(instance_key, length, at, [])
            chunks.append(last)
        builder = builders.get(type(event)) or _history_builder(type(event))
        last.events.append(builder(event))
    return length


_PASS_THROUGH = frozenset({"str", "str | None", "bool"})
"""Field annotations whose values are stored as they are (no value encoding to do)."""

_INTEGER = frozenset({"int", "int | None"})
"""Field annotations of keys and counters: stored as they are within 64 bits."""

_MIN_INT = -(2**63)
_MAX_INT = 2**63 - 1

_HistoryBuilder = Callable[[Event], list[Any]]
_BUILDERS: dict[type[Event], _HistoryBuilder] = {}


def _history_builder(cls: type[Event]) -> _HistoryBuilder:
    """Write (once per event class) the function that encodes an event for its history chunk
    (``[event_type, element_id, payload]``).

    Every command records several events, and building their payloads generically (a loop
    over the fields with a lookup, a type test and a dictionary write per value) was the
    largest single cost of the executor. The function is generated from the class's fields,
    as ``dataclasses`` generates ``__init__``: one attribute read per field, and per field
    only the conversion its annotation needs: none for strings and booleans, a 64-bit range
    check for integers (beyond it they are encoded and stay exact, as ``values.encode``
    does), :func:`values.encode` for everything else.
    """
    annotations = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    lines = ["def build(event):"]
    entries = []
    for name in payload_fields(cls):
        kind = annotations[name]
        lines.append(f"    v_{name} = event.{name}")
        if kind in _INTEGER:
            lines.append(
                f"    if v_{name} is not None and not _MIN_INT <= v_{name} <= _MAX_INT:"
                f" v_{name} = encode(v_{name})"
            )
        elif kind not in _PASS_THROUGH:
            lines.append(f"    v_{name} = encode(v_{name})")
        entries.append(f"{name!r}: v_{name}")
    element_id = "v_element_id if isinstance(v_element_id, str) else None"
    if "element_id" not in annotations:
        element_id = "None"
    lines.append(f"    return [{cls.type_name!r}, {element_id}, {{{', '.join(entries)}}}]")
    namespace: dict[str, Any] = {
        "encode": values.encode,
        "_MIN_INT": _MIN_INT,
        "_MAX_INT": _MAX_INT,
    }
    exec("\n".join(lines), namespace)  # built above from field names only  # nosec B102
    builder: _HistoryBuilder = namespace["build"]
    _BUILDERS[cls] = builder
    return builder


def decode_event(record: HistoryRecord) -> Event:
    """Rebuild an event from its history record (for replay)."""
    from legato.engine.events import event_type

    cls = event_type(record.event_type)
    payload = {name: values.decode(value) for name, value in record.payload.items()}
    return cls(at=record.at, **payload)
