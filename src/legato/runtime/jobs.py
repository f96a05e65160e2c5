"""Running jobs with the handlers registered in this process.

:class:`JobRunner` holds the handlers and runs their jobs on a :class:`HandlerPool` of
``concurrency`` slots, outside any transaction, committing their outcomes together. It takes
only as many jobs as it has free slots (jobs just created for its handlers first: they are
pushed, without another query), so a job is held only while it runs and several nodes share
the work. Each held job is leased for ``lease``; the lease is extended while the handler runs
(every third of it), so a long handler keeps its job and a dead node loses its jobs to the
others within one lease. The :class:`~legato.runtime.engine.Engine` delegates to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.state import InstanceState
from legato.engine.values import decode
from legato.errors import InstanceSuspendedError, InvalidCommandError, StoreError
from legato.model import RetryPolicy
from legato.model.expressions import secret_name
from legato.runtime.clock import Clock
from legato.runtime.definitions import DefinitionRegistry
from legato.runtime.executor import CommandExecutor, LookedAhead
from legato.runtime.handlers import Handler, RegisteredHandler, marked_handlers, register
from legato.runtime.masking import Masking
from legato.runtime.projection import Noted
from legato.runtime.slots import Finished, HandlerPool
from legato.runtime.types import Job, JobContext
from legato.security.secrets import SecretsProvider, resolve
from legato.security.sensitive import Viewer, mask_text
from legato.store.ports import Store, Transaction
from legato.store.records import JobRecord

logger = logging.getLogger("legato.jobs")


class JobRunner:
    """The handlers of this process and the running of their jobs."""

    def __init__(
        self,
        store: Store,
        executor: CommandExecutor,
        definitions: DefinitionRegistry,
        clock: Clock,
        retry_policy: RetryPolicy,
        worker_name: str,
        batch_size: int,
        *,
        concurrency: int = 32,
        lease: timedelta = timedelta(seconds=30),
        secrets: SecretsProvider | None = None,
    ) -> None:
        if lease <= timedelta(0):
            raise InvalidCommandError(f"job_lease must be positive, not {lease}")
        if concurrency < 1:
            raise InvalidCommandError(f"concurrency must be at least 1, not {concurrency}")
        self.store = store
        self.clock = clock
        self.retry_policy = retry_policy
        self.worker_name = worker_name
        self.batch_size = batch_size
        self.lease = lease
        self.pool = HandlerPool(concurrency)
        self.secrets = secrets
        """Where the secrets named by jobs come from (see :mod:`legato.security.secrets`)."""
        self._executor = executor
        self._definitions = definitions
        self._handlers: dict[str, RegisteredHandler] = {}
        self._renewed = time.monotonic()
        self._idle: LookedAhead | None = None
        self.on_released: Callable[[], None] | None = None
        """Told when jobs were given back (fetches parked in this process look again)."""
        self.traceparent: Callable[[int, int, int, datetime], str] | None = None
        """While the engine traces: the ``traceparent`` of a job attempt handed out now
        (instance key, job key, retries left, when)."""
        executor.push_room = self._push_room
        executor.push_lease = lease
        executor.on_noted = report_noted

    @property
    def job_types(self) -> list[str]:
        """The job types with a handler."""
        return sorted(self._handlers)

    def register(
        self, job_type: str, function: Handler, timeout: timedelta | None, isolated: bool = False
    ) -> None:
        """Register a handler; new jobs of its type are pushed to this process."""
        try:
            self._handlers[job_type] = register(job_type, function, timeout, isolated=isolated)
        except ValueError as exc:
            raise InvalidCommandError(str(exc)) from None
        self._executor.push_types = frozenset(self._handlers)
        self._executor.push_worker = self.worker_name

    def register_module(self, module: ModuleType | Mapping[str, Any]) -> list[str]:
        """Register the functions of ``module`` marked with :func:`legato.handler`."""
        namespace = vars(module) if isinstance(module, ModuleType) else module
        registered = []
        for job_type, function, timeout, isolated in marked_handlers(namespace):
            self.register(job_type, function, timeout, isolated)
            registered.append(job_type)
        return registered

    # -- one batch at a time (run_once, run_until_idle) -------------------------------------------

    def run_batch(self, *, look_ahead: bool = False) -> int:
        """Start jobs in the free slots (at most ``batch_size``), wait for every one of them
        to end, and commit their outcomes together, in the order the jobs were taken (so a
        run does not depend on which handler returns first). Returns how many ran (a job
        given back unstarted, when its handler turned out slow and no slot was free, runs
        again later and counts then).

        With ``look_ahead``, the transaction that commits the outcomes takes the next due
        jobs too when the outcomes created none for this process (see :meth:`idle`)."""
        jobs = self.start()
        if not jobs:
            return 0
        ended: dict[int, Finished] = {}
        try:
            while len(ended) < len(jobs):
                for finished in self.pool.collect(self._until_renewal()):
                    ended[finished.job.key] = finished
                self.renew_leases()
        except BaseException:
            # Interrupted (Ctrl-C) or failed: calls still running are abandoned (their
            # results, if they come, are discarded) and every job held is given back.
            self.give_back(also=list(ended))
            raise
        outcomes = [ended[job.key] for job in jobs]
        self.commit(outcomes, look_ahead=look_ahead)
        return sum(1 for finished in outcomes if finished.command is not None)

    # -- continuously (serve) ---------------------------------------------------------------------

    def start(self) -> list[Job]:
        """Take due jobs and start their handlers: jobs pushed to this process first, else
        as many as the free slots can start (and of the types run inline, as many as a
        batch holds)."""
        if not self._handlers:
            return []
        records = self._executor.take_pushed(self.batch_size)
        if records:
            with self._executor.lock:
                jobs = self._job_views(records, self.worker_name)
        else:
            jobs = self._activate_own()
        for job in jobs:
            self.pool.submit(job, self._handlers[job.type])
        return jobs

    def _push_room(self) -> tuple[frozenset[str], int]:
        """What the jobs new commands create may be held for this process (see
        :class:`~legato.runtime.projection.JobHold`)."""
        inline = frozenset(t for t, h in self._handlers.items() if self.pool.runs_inline(h))
        return inline, self.pool.free()

    def _activate_own(self) -> list[Job]:
        if not self._room():
            return []
        # The views read the executor's cache, which another thread's batch may change.
        with self._executor.lock:
            with self.store.transaction() as tx:
                records = self._activate_in(tx)
                self._executor.peek_many(tx, [r.instance_key for r in records])
            return self._job_views(records, self.worker_name)

    def _room(self) -> tuple[frozenset[str], list[str], int] | None:
        """The inline job types, the others and the free slots for them; None if no job can
        be taken now."""
        inline_types, free = self._push_room()
        others = [t for t in self.job_types if t not in inline_types]
        free = min(free, self.batch_size) if others else 0
        if not inline_types and not free:
            return None
        return inline_types, others, free

    def _activate_in(self, tx: Transaction) -> list[JobRecord]:
        """Activate due jobs for this process in ``tx``: for the free slots first (they start
        on threads at once), then of the inline types, up to a batch."""
        room = self._room()
        if room is None:
            return []
        inline_types, others, free = room
        now = self.clock.now()
        lease_until = now + self.lease
        worker = self.worker_name
        records = tx.activate_jobs(others, worker, free, now, lease_until) if free else []
        left = self.batch_size - len(records)
        if inline_types and left > 0:
            records += tx.activate_jobs(sorted(inline_types), worker, left, now, lease_until)
        return records

    def _look_ahead(self, tx: Transaction) -> LookedAhead | None:
        """In a batch's transaction: the due jobs for this process, or else when the next is
        due (see :meth:`CommandExecutor.execute`)."""
        if self._room() is None:
            return None
        records = self._activate_in(tx)
        if records:
            return LookedAhead(records, None)
        return LookedAhead([], tx.next_job_due_at(self.job_types, held=False))

    def idle(self) -> LookedAhead | None:
        """After :meth:`run_batch` with ``look_ahead``: what its transaction found when it
        found no job for this process (when the next is due), once; None if it did not
        look, found jobs (they are held for this process), or jobs wait for it since."""
        looked, self._idle = self._idle, None
        if looked is None or looked.jobs or self._executor.pushed_keys():
            return None
        return looked

    def collect(self, wait: float) -> list[Finished]:
        """Wait up to ``wait`` seconds for handlers to end (less when leases are due for
        renewal); returns the calls that ended."""
        finished = self.pool.collect(min(wait, self._until_renewal()))
        self.renew_leases()
        return finished

    def commit(self, finished: Sequence[Finished], *, look_ahead: bool = False) -> None:
        """Commit the outcomes of ended calls together. A call ended by an interrupt
        (``KeyboardInterrupt``, ``SystemExit``) gives its job back, uncharged, and the
        interrupt is raised once the others are committed. With ``look_ahead``, see
        :meth:`run_batch`."""
        self._idle = None
        interrupt = next((f.interrupt for f in finished if f.interrupt is not None), None)
        given_back = [f.job.key for f in finished if f.command is None]
        commands = [f.command for f in finished if f.command is not None]
        refused: list[cmd.Command] = []
        ahead = self._look_ahead if look_ahead and not given_back else None
        outcomes = self._executor.execute(commands, look_ahead=ahead)
        self._idle = self._executor.take_looked_ahead()
        for outcome in outcomes:
            error = outcome.error
            if error is None:
                continue
            if not isinstance(error, InvalidCommandError):
                raise error
            if isinstance(error, InstanceSuspendedError):
                continue  # its instance was suspended meanwhile: the job runs again on resume
            command = outcome.command
            if isinstance(command, (cmd.CompleteJob, cmd.ThrowError)):
                # A result the engine cannot take (a value it cannot store): retrying the
                # handler would not change it, so the job becomes an incident that says why.
                # (If the job is gone, this is refused as well, and ignored.)
                refused.append(
                    cmd.FailJob(
                        instance_key=command.instance_key,
                        job_key=command.job_key,
                        error_message=f"the handler's result was refused: {error}",
                        retryable=False,
                    )
                )
        if refused:
            self._idle = None
            self._executor.execute(refused)
        if given_back:
            self.release(given_back)
        if interrupt is not None:
            raise interrupt

    def held(self) -> list[int]:
        """The jobs this process holds: running, or pushed to it and not started yet."""
        return [*self.pool.job_keys(), *self._executor.pushed_keys()]

    def renew_leases(self, *, force: bool = False) -> None:
        """Extend the leases of the jobs this process holds, once a third of the lease has
        passed since the last renewal (or now, with ``force``)."""
        if not force and self._until_renewal() > 0:
            return
        self._renewed = time.monotonic()
        held = self.held()
        if not held:
            return
        with self.store.transaction() as tx:
            kept = tx.extend_leases(held, self.worker_name, self.clock.now() + self.lease)
        lost = sorted(set(held) - set(kept))
        if lost:
            logger.warning(
                "worker %s no longer holds job(s) %s (finished, or released when this node "
                "was thought dead): their results will be refused",
                self.worker_name,
                ", ".join(map(str, lost)),
            )

    def release(self, job_keys: Sequence[int]) -> None:
        """Give jobs back without charging an attempt (shutting down, interrupted)."""
        if not job_keys:
            return
        try:
            with self.store.transaction() as tx:
                released = tx.release_jobs(job_keys, self.worker_name)
        except StoreError as exc:
            logger.warning("could not give back %d job(s): %s", len(job_keys), exc)
            return
        logger.info("gave back %d job(s) without charging an attempt", released)
        if released and self.on_released is not None:
            self.on_released()

    def shutdown(self, grace: float) -> None:
        """Stop taking work: let running handlers end within ``grace`` seconds and commit
        their outcomes, then give back every job still held (no attempt charged)."""
        given_back = self._executor.take_pushed(1 << 30)
        deadline = time.monotonic() + grace
        try:
            while self.pool.running and (remaining := deadline - time.monotonic()) > 0:
                finished = self.collect(remaining)
                if finished:
                    self.commit(finished)
        finally:
            still_running = self.pool.job_keys()
            if still_running:
                logger.warning(
                    "%d handler(s) still running after %.0f s: their jobs are given back",
                    len(still_running),
                    grace,
                )
            self.pool.abandon_all()
            self.release([*still_running, *(r.job_key for r in given_back)])

    def give_back(self, also: Sequence[int] = ()) -> None:
        """Give back every job held now (and ``also`` these, whose outcomes will not be
        committed), without waiting for running handlers: their results, if they come, are
        discarded."""
        held = [*self.held(), *also]
        self._executor.take_pushed(1 << 30)
        self.pool.abandon_all()
        self.release(held)

    def close(self) -> None:
        """Give back what is held and stop the slots."""
        try:
            self.give_back()
        finally:
            self.pool.close()

    def _until_renewal(self) -> float:
        return max(self.lease.total_seconds() / 3 - (time.monotonic() - self._renewed), 0.0)

    def _element_of(self, state: InstanceState | None, element_id: str) -> object:
        if state is None:
            return None
        try:
            return self._definitions.get(state.definition_key).process.elements.get(element_id)
        except KeyError:
            return None

    def _lease(self) -> timedelta:
        return max(
            (h.timeout for h in self._handlers.values() if h.timeout is not None),
            default=timedelta(minutes=5),
        )

    def _job_views(self, records: Sequence[JobRecord], worker: str) -> list[Job]:
        missing = {r.instance_key for r in records} - {
            r.instance_key for r in records if self._executor.cached_state(r.instance_key)
        }
        if missing:
            with self.store.transaction() as tx:
                self._executor.peek_many(tx, sorted(missing))
        jobs = []
        now = self.clock.now()
        for record in records:
            state = self._executor.cached_state(record.instance_key)
            element = self._element_of(state, record.element_id)
            policy = getattr(element, "retry_policy", None) or self.retry_policy
            variables = state.visible_variables(record.element_instance_key) if state else {}
            handler = self._handlers.get(record.job_type)
            timeout = (handler.timeout if handler else None) or getattr(element, "timeout", None)
            context = JobContext(
                idempotency_key=str(record.job_key),
                attempt=max(policy.max_attempts - record.retries + 1, 1),
                deadline=record.lease_until
                if worker != self.worker_name
                else (now + timeout if timeout is not None else None),
                worker=worker,
                timeout=timeout,
                traceparent=None
                if self.traceparent is None
                else self.traceparent(record.instance_key, record.job_key, record.retries, now),
            )
            job = Job(
                key=record.job_key,
                type=record.job_type,
                element_id=record.element_id,
                instance_key=record.instance_key,
                element_instance_key=record.element_instance_key,
                variables=variables,
                retries=record.retries,
                headers=dict(record.headers),
                process_id=state.process_id if state else "",
                business_key=state.business_key if state else None,
                context=context,
            )
            jobs.append(with_secrets(job, element, self.secrets))
        return jobs


def secret_references(
    headers: Mapping[str, str], element: object
) -> tuple[dict[str, str], dict[str, str]]:
    """The secrets a job names: by header, and by the target of an input mapping of its
    element (``element`` may be None: then only the headers')."""
    by_header = {h: n for h, v in headers.items() if (n := secret_name(v)) is not None}
    mappings = getattr(element, "input_mappings", ()) or ()
    by_input = {m.target: m.secret for m in mappings if m.secret is not None}
    return by_header, by_input


def with_secrets(job: Job, element: object, provider: SecretsProvider | None) -> Job:
    """``job`` with the secrets its headers and its element's input mappings name resolved
    into its headers, variables and context (the job itself when it names none). This view
    is the handler's alone: nothing of it is stored."""
    headers, inputs = secret_references(job.headers, element)
    if not headers and not inputs:
        return job
    resolved = resolve(provider, [*headers.values(), *inputs.values()])
    values = resolved.values
    context = job.context or JobContext(str(job.key), 1, None, "")
    return replace(
        job,
        headers={**job.headers, **{h: values[n] for h, n in headers.items() if n in values}},
        variables={**job.variables, **{t: values[n] for t, n in inputs.items() if n in values}},
        context=replace(context, secrets=dict(values), missing_secrets=resolved.missing),
    )


def report_noted(noted: Sequence[Noted], masking: Masking | None = None) -> None:
    """Log a line for each failed attempt and each new incident of a committed batch; with
    ``masking``, the error text is cleared of the instance's sensitive values (a handler's
    exception may quote one)."""
    for item in noted:
        event = item.event
        texts: list[str] = []
        if masking is not None:
            texts = masking.texts(
                Viewer(),
                item.process_id,
                [{k: decode(v) for k, v in scope.items()} for scope in item.variables.values()],
            )
        if isinstance(event, ev.JobFailed):
            if event.retries > 0:
                logger.warning(
                    "job %s (%s) of instance %s at %s failed: %s; %d attempt(s) left, next at %s",
                    event.job_key,
                    item.job_type,
                    item.instance_key,
                    event.element_id,
                    mask_text(event.error_message, texts),
                    event.retries,
                    event.retry_at.isoformat(timespec="seconds") if event.retry_at else "once",
                    extra=_fields(item, job_key=event.job_key, retries=event.retries),
                )
        else:
            logger.error(
                "incident %s on instance %s (%s) at %s: %s",
                event.incident_key,
                item.instance_key,
                item.process_id,
                event.element_id,
                mask_text(event.message, texts),
                extra=_fields(item, incident_key=event.incident_key),
            )


def _fields(item: Noted, **more: object) -> dict[str, object]:
    """Structured fields of a log record (a JSON log formatter writes them out)."""
    event = item.event
    return {
        "legato": {
            "event": type(event).__name__,
            "instance_key": item.instance_key,
            "process_id": item.process_id,
            "element_id": event.element_id,
            "job_type": item.job_type,
            **more,
        }
    }
