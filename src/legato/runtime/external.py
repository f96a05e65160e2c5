"""Jobs for external workers: fetching with filters and long polling, results, leases.

An external worker (a Camunda 7 external-task client, a Camunda 8 job worker, any process
that calls :class:`~legato.runtime.engine.Engine`) asks for jobs of some types
(:class:`~legato.runtime.types.JobRequest`), gets them leased to it for a while
(:class:`~legato.runtime.types.ActivatedJob`), and reports each outcome: completed, failed
(with the retries it decides), or a BPMN error. While it holds a job it may extend the
lease; it may give a job back (unlock) or lock one without fetching.

Handing out is one transaction: the filters (business key, process, version) are applied in
the query before anything is locked, and each job is leased with a conditional update, so a
job is never handed to two callers, however many engines share the database (on PostgreSQL
the candidate rows are also locked with ``FOR UPDATE SKIP LOCKED``, so two fetches at once
take disjoint jobs instead of waiting for each other).

A fetch that finds nothing may wait (long polling): it parks in a :class:`FetchParking` and
is woken when a job of its types becomes available: created or failed-and-due by a command
of this process, given back, unlocked, or (through ``LISTEN``/``NOTIFY``) by another node.
Leases that run out and retry backoffs that end are waited for with a timeout at the next
such time, so no notification is needed for them. A parked call costs a dictionary entry
and an event; its database work runs on a thread only while it looks.

A result (complete, fail, BPMN error) is checked against the lease in the same transaction
that applies it: the job must be activated, its lease not run out, and held by the worker
that reports (when it names itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from legato.engine import commands as cmd
from legato.engine import values
from legato.errors import InvalidCommandError, JobStateError, NotFoundError, TooManyRequestsError
from legato.runtime.clock import Clock
from legato.runtime.definitions import DefinitionRegistry
from legato.runtime.executor import CommandExecutor, Guard, Outcome
from legato.runtime.groupcommit import GroupCommit
from legato.runtime.types import ActivatedJob, JobRequest
from legato.store.jobs import Jobs
from legato.store.ports import Store, Transaction
from legato.store.records import InstanceRecord, JobRecord

logger = logging.getLogger("legato.external")

MAX_PARKED_FETCHES = 200
"""How many fetches may wait for jobs at once by default (Camunda 7's limit as well)."""

_PAGE = 100
"""Candidates read per query when a request filters on process variables."""

_SCAN_LIMIT = 1000
"""At most this many candidates are examined per request and fetch for a process variable
filter: a fetch stays cheap when many due jobs of the type do not match."""


class FetchParking:
    """The fetches that wait for jobs, and what wakes them.

    Each parked call registers its job types and a ``wake`` callable (setting a
    ``threading.Event``, or an ``asyncio.Event`` through its loop). :meth:`notify` calls the
    ones whose types match. When the types are unknown (a ``NOTIFY`` from another node says
    only that work arrived), ``probe`` first asks the database which of the parked types have
    a job available, in one transaction: a notification costs one look, not one per parked
    call, and calls waiting for other types sleep on.
    """

    def __init__(
        self,
        limit: int = MAX_PARKED_FETCHES,
        probe: Callable[[frozenset[str]], frozenset[str]] | None = None,
    ) -> None:
        if limit < 1:
            raise InvalidCommandError(f"max_parked_fetches must be at least 1, not {limit}")
        self.limit = limit
        self.probe = probe
        """Which of these job types have a job available now (None: assume all)."""
        self.closed = False
        """Set when the engine closes: parked calls answer at once."""
        self._lock = threading.Lock()
        self._parked: dict[object, tuple[frozenset[str], Callable[[], None]]] = {}

    def __len__(self) -> int:
        return len(self._parked)

    def park(self, job_types: frozenset[str], wake: Callable[[], None]) -> object:
        """Register a waiting call; returns its ticket for :meth:`leave`.

        Raises:
            TooManyRequestsError: ``limit`` calls wait already.
            InvalidCommandError: the engine was closed.
        """
        with self._lock:
            if self.closed:
                raise InvalidCommandError("the engine was closed: it hands out no more jobs")
            if len(self._parked) >= self.limit:
                raise TooManyRequestsError(
                    f"{len(self._parked)} calls wait for jobs already (at most {self.limit}): "
                    "at the moment the server has to handle too many requests at the same "
                    "time. Please try again later."
                )
            ticket = object()
            self._parked[ticket] = (job_types, wake)
            return ticket

    def leave(self, ticket: object) -> None:
        """Unregister a call that stops waiting."""
        with self._lock:
            self._parked.pop(ticket, None)

    def notify(self, job_types: frozenset[str] | None = None) -> None:
        """Wake the parked calls that wait for any of ``job_types`` (None: unknown; the
        probe tells which, else every call is woken)."""
        with self._lock:
            parked = list(self._parked.values())
        if not parked:
            return
        if job_types is None and self.probe is not None and not self.closed:
            try:
                job_types = self.probe(frozenset().union(*(types for types, _ in parked)))
            except Exception:  # a hint only: wake every call, each looks for itself
                logger.debug("probing for available jobs failed", exc_info=True)
        for types, wake in parked:
            if job_types is None or not types.isdisjoint(job_types):
                wake()

    def close(self) -> None:
        """Wake every parked call for good (the engine closes)."""
        self.closed = True
        with self._lock:
            wakes = [wake for _, wake in self._parked.values()]
        for wake in wakes:
            wake()


class ExternalJobs:
    """The engine's side of external workers (the :class:`Engine` methods delegate here)."""

    def __init__(
        self,
        store: Store,
        executor: CommandExecutor,
        clock: Clock,
        parking: FetchParking,
        poll_interval: Callable[[], float],
        definitions: DefinitionRegistry,
    ) -> None:
        self.store = store
        self._definitions = definitions
        self.clock = clock
        self.parking = parking
        self._executor = executor
        self._poll_interval = poll_interval
        """The longest wait before looking again without a wake (other processes' work)."""
        self.group_commit: GroupCommit | None = None
        """Where single-command results are committed together with other threads' ones."""

    # -- fetching ---------------------------------------------------------------------------

    def fetch(
        self,
        requests: Sequence[JobRequest],
        worker: str,
        max_jobs: int,
        request_timeout: timedelta,
        by_priority: bool = False,
    ) -> list[ActivatedJob]:
        """Lease up to ``max_jobs`` jobs, waiting up to ``request_timeout`` for some."""
        _check_fetch(requests, worker, max_jobs)
        if request_timeout <= timedelta(0):
            return self._fetch_once(requests, worker, max_jobs, by_priority)[0]
        deadline = time.monotonic() + request_timeout.total_seconds()
        arrived = threading.Event()
        # Parked before the first look: a job made available between the look and the wait
        # sets the event, so the wait returns at once.
        ticket = self.parking.park(_types(requests), arrived.set)
        try:
            while True:
                arrived.clear()
                jobs, next_due = self._fetch_once(requests, worker, max_jobs, by_priority)
                remaining = deadline - time.monotonic()
                if jobs or remaining <= 0:
                    return jobs
                arrived.wait(self._pause(remaining, next_due))
                if self.parking.closed:
                    return []
        finally:
            self.parking.leave(ticket)

    async def fetch_async(
        self,
        requests: Sequence[JobRequest],
        worker: str,
        max_jobs: int,
        request_timeout: timedelta,
        by_priority: bool = False,
    ) -> list[ActivatedJob]:
        """:meth:`fetch` for an event loop: each look runs on a thread, the waits hold none."""
        _check_fetch(requests, worker, max_jobs)
        if request_timeout <= timedelta(0):
            return (await self._look_async(requests, worker, max_jobs, by_priority))[0]
        loop = asyncio.get_running_loop()
        arrived = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(arrived.set)

        deadline = loop.time() + request_timeout.total_seconds()
        ticket = self.parking.park(_types(requests), wake)
        try:
            while True:
                arrived.clear()
                jobs, next_due = await self._look_async(requests, worker, max_jobs, by_priority)
                remaining = deadline - loop.time()
                if jobs or remaining <= 0:
                    return jobs
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), self._pause(remaining, next_due))
                if self.parking.closed:
                    return []
        finally:
            self.parking.leave(ticket)

    async def _look_async(
        self, requests: Sequence[JobRequest], worker: str, max_jobs: int, by_priority: bool
    ) -> tuple[list[ActivatedJob], datetime | None]:
        looking = asyncio.ensure_future(
            asyncio.to_thread(self._fetch_once, requests, worker, max_jobs, by_priority)
        )
        try:
            return await asyncio.shield(looking)
        except asyncio.CancelledError:
            # The caller went away while the thread leased jobs: give them back when it ends
            # instead of leaving them to their lease.
            looking.add_done_callback(lambda done: self._give_back_later(done, worker))
            raise

    def _give_back_later(
        self, done: asyncio.Future[tuple[list[ActivatedJob], datetime | None]], worker: str
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        keys = [job.key for job in done.result()[0]]
        if keys:
            threading.Thread(target=self.give_back, args=(keys, worker), daemon=True).start()

    def give_back(self, job_keys: Sequence[int], worker: str) -> None:
        """Give back jobs ``worker`` holds, uncharged: any worker may fetch them at once."""
        with self.store.transaction() as tx:
            released = tx.release_jobs(job_keys, worker)
        if released:
            self.parking.notify()

    def available_types(self, job_types: frozenset[str]) -> frozenset[str]:
        """Which of these job types have a job that may be handed out now (filters aside):
        one transaction, one indexed look per type."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            return frozenset(
                job_type
                for job_type in job_types
                if (due := tx.next_job_due_at([job_type])) is not None and due <= now
            )

    def _pause(self, remaining: float, next_due: datetime | None) -> float:
        pause = min(remaining, self._poll_interval())
        if next_due is not None:
            # A lease that runs out or a backoff that ends makes a job available without
            # any notification: look again then.
            until = (next_due - self.clock.now()).total_seconds()
            pause = min(pause, max(until, 0.0) + 0.001)
        return max(pause, 0.0)

    def _fetch_once(
        self, requests: Sequence[JobRequest], worker: str, max_jobs: int, by_priority: bool
    ) -> tuple[list[ActivatedJob], datetime | None]:
        """One look, in one transaction: the jobs leased, and (when there are none) when the
        next job of these types becomes available."""
        now = self.clock.now()
        picked: list[tuple[JobRecord, JobRequest]] = []
        next_due: datetime | None = None
        with self.store.transaction() as tx:
            for request in requests:
                room = max_jobs - len(picked)
                if room <= 0:
                    break
                candidates = _candidates(tx, request, room, now, by_priority)
                if candidates:
                    leased = tx.lease_jobs(
                        [job.job_key for job in candidates], worker, now, now + request.timeout
                    )
                    picked += [(job, request) for job in leased]
            if picked:
                keys = sorted({job.instance_key for job, _ in picked})
                instances = {r.instance_key: r for r in tx.get_instances(keys)}
                views = [
                    self._view(tx, job, instances.get(job.instance_key), request)
                    for job, request in picked
                ]
            else:
                views = []
                next_due = tx.next_job_due_at(sorted(_types(requests)), after=now)
        return views, next_due

    def _view(
        self,
        tx: Transaction,
        job: JobRecord,
        instance: InstanceRecord | None,
        request: JobRequest | None,
    ) -> ActivatedJob:
        properties: dict[str, str] = {}
        if instance is not None:
            deployed = self._definitions.get_in(tx, instance.definition_key)
            element = deployed.process.elements.get(job.element_id) if deployed else None
            properties = dict(getattr(element, "properties", ()))
        return _view(job, instance, request, properties)

    # -- results ----------------------------------------------------------------------------

    def complete(
        self,
        job_key: int,
        variables: Mapping[str, Any] | None,
        worker: str | None,
        local_variables: Mapping[str, Any] | None,
    ) -> None:
        """Complete a held job: ``variables`` as its result, ``local_variables`` in its
        element instance scope."""
        command, guard = self._completion(job_key, variables, worker, local_variables)
        if self.group_commit is None:
            outcomes = self._executor.execute([command], guards=[guard])
        else:
            # A lone result shares its commit with the results other threads report now.
            outcomes = [self.group_commit.submit(command, guard)]
        if outcomes[0].error is not None:
            raise outcomes[0].error

    async def complete_async(
        self,
        job_key: int,
        variables: Mapping[str, Any] | None,
        worker: str | None,
        local_variables: Mapping[str, Any] | None,
    ) -> None:
        """:meth:`complete` for a coroutine: the result shares a commit with the others
        reported now, and no thread waits for it."""
        if self.group_commit is None:
            raise RuntimeError("no group commit: use complete()")
        command, guard = self._completion(job_key, variables, worker, local_variables)
        outcome = await self.group_commit.submit_async(command, guard)
        if outcome.error is not None:
            raise outcome.error

    def _completion(
        self,
        job_key: int,
        variables: Mapping[str, Any] | None,
        worker: str | None,
        local_variables: Mapping[str, Any] | None,
    ) -> tuple[cmd.CompleteJob, Guard]:
        """The completion of a held job and its guard: the guard reads the job in the
        commit's transaction, refuses it unless held as required, and fills in its instance
        (so no read before the commit is needed)."""
        command = cmd.CompleteJob(
            instance_key=0,
            job_key=job_key,
            variables=dict(variables or {}),
            local_variables=dict(local_variables or {}),
        )

        def guard(tx: Jobs) -> cmd.Command:
            job = tx.get_job(job_key, for_update=True)
            _check_held(job, job_key, worker, self.clock.now(), "completed")
            assert job is not None
            return dataclasses.replace(command, instance_key=job.instance_key)

        return command, guard

    def fail(
        self,
        job_key: int,
        failure: cmd.FailJob,
        worker: str | None,
        variables: Mapping[str, Any] | None,
        local_variables: Mapping[str, Any] | None,
    ) -> None:
        """Fail an attempt of a held job, setting variables first (Camunda 7.17's failure
        variables: ``variables`` from the task's scope up, ``local_variables`` in it)."""
        job = self._existing(job_key)
        if failure.retries is not None and failure.retries < 0:
            raise InvalidCommandError(f"retries must not be negative, not {failure.retries}")
        commands: list[cmd.Command] = _variable_commands(job, variables, local_variables)
        commands.append(dataclasses.replace(failure, instance_key=job.instance_key))
        self._run_held(job_key, worker, "failed", commands)

    def throw_error(self, job_key: int, error: cmd.ThrowError, worker: str | None) -> None:
        """Report a BPMN error for a held job."""
        job = self._existing(job_key)
        command = dataclasses.replace(error, instance_key=job.instance_key)
        self._run_held(job_key, worker, "failed with a BPMN error", [command])

    def _run_held(
        self, job_key: int, worker: str | None, action: str, commands: Sequence[cmd.Command]
    ) -> list[Outcome]:
        def guard(tx: Jobs) -> None:
            job = tx.get_job(job_key, for_update=True)
            _check_held(job, job_key, worker, self.clock.now(), action)

        if len(commands) == 1 and self.group_commit is not None:
            # A lone result shares its commit with the results other threads report now.
            outcomes = [self.group_commit.submit(commands[0], guard)]
        else:
            outcomes = self._executor.execute_guarded(commands, guard)
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return outcomes

    # -- leases and retries -----------------------------------------------------------------

    def update(
        self, job_key: int, retries: int | None, timeout: timedelta | None, worker: str | None
    ) -> None:
        """Extend the lease to now + ``timeout`` and/or set the retries (see
        :meth:`Engine.update_job`)."""
        if retries is not None and retries < 0:
            raise InvalidCommandError(f"retries must not be negative, not {retries}")
        if timeout is not None and timeout <= timedelta(0):
            raise InvalidCommandError(f"timeout must be positive, not {timeout}")
        job = self._existing(job_key)

        def extend(tx: Jobs) -> None:
            if timeout is None:
                return
            held = tx.get_job(job_key, for_update=True)
            now = self.clock.now()
            _check_held(held, job_key, worker, now, "extended", extend=True)
            assert held is not None
            tx.update_job(dataclasses.replace(held, lease_until=now + timeout))

        if retries is None:
            with self.store.transaction() as tx:
                extend(tx)
            return
        command = cmd.UpdateJobRetries(
            instance_key=job.instance_key, job_key=job_key, retries=retries
        )
        outcomes = self._executor.execute_guarded([command], extend)
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error

    def lock(self, job_key: int, worker: str, timeout: timedelta) -> None:
        """Lease a job to ``worker`` without fetching it (see :meth:`Engine.lock_job`)."""
        if timeout <= timedelta(0):
            raise InvalidCommandError(f"timeout must be positive, not {timeout}")
        with self.store.transaction() as tx:
            job = tx.get_job(job_key, for_update=True)
            if job is None:
                raise NotFoundError(_missing(job_key))
            now = self.clock.now()
            _check_not_suspended(job, "locked")
            if job.state == "failed":
                raise JobStateError(
                    f"job {job_key} cannot be locked: it failed and waits for an operator "
                    "(its incident)"
                )
            held = (
                job.state == "activated" and job.lease_until is not None and job.lease_until > now
            )
            if held and job.worker != worker:
                raise JobStateError(
                    f"job {job_key} cannot be locked by worker '{worker}': it is locked by "
                    f"worker '{job.worker}' until {_iso(job.lease_until)}"
                )
            tx.update_job(
                dataclasses.replace(
                    job, state="activated", worker=worker, lease_until=now + timeout
                )
            )

    def unlock(self, job_key: int) -> None:
        """End a job's lease: any worker may fetch it at once (see :meth:`Engine.unlock_job`)."""
        with self.store.transaction() as tx:
            job = tx.get_job(job_key, for_update=True)
            if job is None:
                raise NotFoundError(_missing(job_key))
            if job.state != "activated":
                return
            now = self.clock.now()
            tx.update_job(
                dataclasses.replace(
                    job,
                    state="activatable",
                    worker=None,
                    lease_until=None,
                    due_at=min(job.due_at, now),
                )
            )
        self.parking.notify(frozenset({job.job_type}))

    # -- reading ----------------------------------------------------------------------------

    def job(self, job_key: int) -> ActivatedJob:
        """Any job as it is now (without variables)."""
        with self.store.transaction() as tx:
            job = tx.get_job(job_key)
            if job is None:
                raise NotFoundError(_missing(job_key))
            return self._view(tx, job, tx.get_instance(job.instance_key), None)

    def _existing(self, job_key: int) -> JobRecord:
        with self.store.transaction() as tx:
            job = tx.get_job(job_key)
        if job is None:
            raise NotFoundError(_missing(job_key))
        return job


def _check_fetch(requests: Sequence[JobRequest], worker: str, max_jobs: int) -> None:
    if max_jobs < 0:
        raise InvalidCommandError(f"max_jobs must not be negative, not {max_jobs}")
    for request in requests:
        if not isinstance(request, JobRequest):
            raise InvalidCommandError(f"requests must be JobRequests, not {request!r}")
        _check_request(request)
        if request.timeout <= timedelta(0):
            raise InvalidCommandError(
                f"the timeout (lease) of job type '{request.job_type}' must be positive, "
                f"not {request.timeout}"
            )


def _check_request(request: JobRequest) -> None:
    """A request's fields have the types they are declared with (it is built by callers such
    as HTTP routes from what clients send)."""
    wrong = None
    if not isinstance(request.job_type, str):
        wrong = "job_type must be a string"
    elif not isinstance(request.timeout, timedelta):
        wrong = "timeout must be a timedelta"
    elif request.variables is not None and (
        isinstance(request.variables, str)
        or not all(isinstance(name, str) for name in request.variables)
    ):
        wrong = "variables must be a sequence of names or None"
    elif not isinstance(request.local_variables, bool):
        wrong = "local_variables must be a bool"
    elif request.business_key is not None and not isinstance(request.business_key, str):
        wrong = "business_key must be a string or None"
    elif request.process_ids is not None and (
        isinstance(request.process_ids, str)
        or not all(isinstance(p, str) for p in request.process_ids)
    ):
        wrong = "process_ids must be a sequence of strings or None"
    elif request.definition_keys is not None and not all(
        isinstance(k, int) and not isinstance(k, bool) for k in request.definition_keys
    ):
        wrong = "definition_keys must be a sequence of integers or None"
    elif request.process_variables is not None and not isinstance(
        request.process_variables, Mapping
    ):
        wrong = "process_variables must be a mapping or None"
    if wrong is not None:
        raise InvalidCommandError(f"a JobRequest's {wrong}, not {request!r}")


def _types(requests: Sequence[JobRequest]) -> frozenset[str]:
    return frozenset(request.job_type for request in requests)


def _candidates(
    tx: Transaction, request: JobRequest, room: int, now: datetime, by_priority: bool
) -> list[JobRecord]:
    """The jobs ``request`` may take now, at most ``room``: the store filters on the
    instance columns; process variables are compared here, page by page."""
    types = [request.job_type]
    filters: dict[str, Any] = {
        "business_key": request.business_key,
        "process_ids": list(request.process_ids) if request.process_ids else None,
        "definition_keys": list(request.definition_keys) if request.definition_keys else None,
    }
    wanted = dict(request.process_variables or {})
    if not wanted:
        return tx.find_fetchable_jobs(types, now, room, by_priority=by_priority, **filters)
    found: list[JobRecord] = []
    after: tuple[datetime, int] | None = None
    scanned = 0
    while len(found) < room and scanned < _SCAN_LIMIT:
        # By priority, one larger page (the pages go by due time).
        size = _SCAN_LIMIT if by_priority else _PAGE
        page = tx.find_fetchable_jobs(
            types, now, size, after=after, by_priority=by_priority, **filters
        )
        scanned += len(page)
        keys = sorted({job.instance_key for job in page})
        instances = {r.instance_key: r for r in tx.get_instances(keys)} if keys else {}
        for job in page:
            instance = instances.get(job.instance_key)
            if instance is not None and _root_holds(instance, wanted):
                found.append(job)
                if len(found) >= room:
                    break
        if len(page) < size:
            break
        last = page[-1]
        available = last.due_at if last.state == "activatable" else last.lease_until
        assert available is not None
        after = (available, last.job_key)
    return found


def _root_holds(instance: InstanceRecord, wanted: Mapping[str, Any]) -> bool:
    root = instance.state.get("variables", {}).get(str(instance.instance_key), {})
    for name, value in wanted.items():
        if name not in root or not _equal(values.decode(root[name]), value):
            return False
    return True


def _equal(stored: Any, wanted: Any) -> bool:
    # True is not 1 to a worker's filter (JSON and Camunda's typed values tell them apart).
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return type(stored) is type(wanted) and stored == wanted
    return bool(stored == wanted)


def _variable_commands(
    job: JobRecord,
    variables: Mapping[str, Any] | None,
    local_variables: Mapping[str, Any] | None,
) -> list[cmd.Command]:
    commands: list[cmd.Command] = []
    if variables:
        commands.append(
            cmd.SetVariables(
                instance_key=job.instance_key,
                variables=dict(variables),
                scope_key=job.element_instance_key,
                local=False,
            )
        )
    if local_variables:
        commands.append(
            cmd.SetVariables(
                instance_key=job.instance_key,
                variables=dict(local_variables),
                scope_key=job.element_instance_key,
                local=True,
            )
        )
    return commands


def _check_held(
    job: JobRecord | None,
    job_key: int,
    worker: str | None,
    now: datetime,
    action: str,
    *,
    extend: bool = False,
) -> None:
    """Refuse a command on a job that is not held as it requires."""
    if job is None:
        raise NotFoundError(_missing(job_key))
    _check_not_suspended(job, action)
    if job.state == "failed":
        raise JobStateError(
            f"job {job_key} cannot be {action}: it failed and waits for an operator (its incident)"
        )
    if job.state != "activated" or job.lease_until is None:
        raise JobStateError(
            f"job {job_key} cannot be {action}: it is not activated (it was never fetched, "
            "or it was given back)"
        )
    if job.lease_until <= now:
        if extend:
            raise JobStateError(
                f"job {job_key}: cannot extend a lock that expired (at {_iso(job.lease_until)})"
            )
        raise JobStateError(
            f"job {job_key} cannot be {action}: its lease ran out at {_iso(job.lease_until)} "
            "and it is back in the queue (a stale lease): fetch it again"
        )
    if worker is not None and job.worker != worker:
        verb = "extended" if extend else action
        raise JobStateError(
            f"Job {job_key} cannot be {verb} by worker '{worker}'. "
            f"It is locked by worker '{job.worker}'."
        )


def _check_not_suspended(job: JobRecord, action: str) -> None:
    if job.suspended:
        raise JobStateError(
            f"job {job.job_key} cannot be {action}: its instance {job.instance_key} is "
            "suspended (its lease ended when it was suspended; the job is handed out again "
            "once the instance is resumed)"
        )


def _missing(job_key: int) -> str:
    return f"job {job_key} does not exist (it was completed or cancelled, or never created)"


def _iso(at: datetime | None) -> str:
    return at.isoformat(timespec="milliseconds") if at is not None else "?"


def _view(
    job: JobRecord,
    instance: InstanceRecord | None,
    request: JobRequest | None,
    properties: dict[str, str],
) -> ActivatedJob:
    stored = instance.state if instance is not None else {}
    return ActivatedJob(
        key=job.job_key,
        type=job.job_type,
        instance_key=job.instance_key,
        element_id=job.element_id,
        element_instance_key=job.element_instance_key,
        definition_key=instance.definition_key if instance is not None else 0,
        process_id=instance.process_id if instance is not None else "",
        version=instance.version if instance is not None else 0,
        business_key=instance.business_key if instance is not None else None,
        variables=_variables(stored, job, request) if request is not None else {},
        headers=dict(job.headers),
        properties=properties,
        retries=job.retries,
        worker=job.worker or "",
        deadline=job.lease_until if job.state == "activated" else None,
        created_at=job.created_at or job.due_at,
        error_message=job.error_message,
        error_details=job.error_details,
        priority=job.priority,
        state=job.state,
        suspended=job.suspended,
    )


def _variables(stored: Mapping[str, Any], job: JobRecord, request: JobRequest) -> dict[str, Any]:
    """The variables a request asks for, as the job's element instance sees them (its own
    scope over its parents' over the root's), decoded; only the ones asked for are decoded."""
    if request.variables is not None and not request.variables:
        return {}
    parents = {e["key"]: e.get("parent_key") for e in stored.get("elements", ())}
    chain: list[int] = []
    key: int | None = job.element_instance_key
    while key is not None and len(chain) < 1 + len(parents):
        chain.append(key)
        if request.local_variables:
            break
        key = parents.get(key)
    scopes = stored.get("variables", {})
    visible: dict[str, Any] = {}
    for scope in reversed(chain):
        visible.update(scopes.get(str(scope), {}))
    names = visible if request.variables is None else [n for n in request.variables if n in visible]
    return {name: values.decode(visible[name]) for name in names}
