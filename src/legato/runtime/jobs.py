"""Running jobs with the handlers registered in this process.

:class:`JobRunner` holds the handlers, hands due jobs to them (jobs just created for them
first: they are pushed, without another query), runs them outside any transaction, and commits
their outcomes together. The :class:`~legato.runtime.engine.Engine` delegates to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from legato.engine import commands as cmd
from legato.engine.state import InstanceState
from legato.errors import InvalidCommandError
from legato.model import RetryPolicy
from legato.runtime.clock import Clock
from legato.runtime.definitions import DefinitionRegistry
from legato.runtime.executor import CommandExecutor
from legato.runtime.handlers import (
    Handler,
    RegisteredHandler,
    marked_handlers,
    outcome_command,
    outcome_command_async,
    register,
)
from legato.runtime.types import Job, JobContext
from legato.store.ports import Store
from legato.store.records import JobRecord


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
    ) -> None:
        self.store = store
        self.clock = clock
        self.retry_policy = retry_policy
        self.worker_name = worker_name
        self.batch_size = batch_size
        self._executor = executor
        self._definitions = definitions
        self._handlers: dict[str, RegisteredHandler] = {}

    @property
    def job_types(self) -> list[str]:
        """The job types with a handler."""
        return sorted(self._handlers)

    def register(self, job_type: str, function: Handler, timeout: timedelta | None) -> None:
        """Register a handler; new jobs of its type are pushed to this process."""
        self._handlers[job_type] = register(job_type, function, timeout)
        self._executor.push_types = frozenset(self._handlers)
        self._executor.push_worker = self.worker_name
        self._executor.push_lease = self._lease()

    def register_module(self, module: ModuleType | Mapping[str, Any]) -> list[str]:
        """Register the functions of ``module`` marked with :func:`legato.handler`."""
        namespace = vars(module) if isinstance(module, ModuleType) else module
        registered = []
        for job_type, function, timeout in marked_handlers(namespace):
            self.register(job_type, function, timeout)
            registered.append(job_type)
        return registered

    def lease(self) -> timedelta:
        """How long this process holds a job (the longest handler timeout, else 5 minutes)."""
        return self._lease()

    def run_batch(self) -> int:
        """Run one batch of due jobs; returns how many ran."""
        return self._run_jobs()

    def activate(
        self, job_types: Sequence[str], worker: str, max_jobs: int, timeout: timedelta
    ) -> list[Job]:
        """Hand due jobs of these types to ``worker`` for ``timeout``."""
        return self._activate(job_types, worker, max_jobs, timeout)

    def _run_jobs(self) -> int:
        timeout = self._lease()
        records = self._executor.take_pushed(self.batch_size)
        if records:
            jobs = self._job_views(records, self.clock.now() + timeout, self.worker_name)
        else:
            jobs = self._activate(self.job_types, self.worker_name, self.batch_size, timeout)
        if not jobs:
            return 0
        commands = self._run_handlers(jobs)
        for outcome in self._executor.execute(commands):
            if outcome.error is not None and not isinstance(outcome.error, InvalidCommandError):
                raise outcome.error
        return len(jobs)

    def _run_handlers(self, jobs: Sequence[Job]) -> list[cmd.Command]:
        results: dict[int, cmd.Command] = {}
        async_jobs: list[Job] = []
        for job in jobs:
            handler = self._handlers[job.type]
            if handler.is_async:
                async_jobs.append(job)
            else:
                assert job.context is not None
                results[job.key] = outcome_command(job, handler, job.context)
        if async_jobs:
            results.update(asyncio.run(self._run_async(async_jobs)))
        return [results[job.key] for job in jobs]

    async def _run_async(self, jobs: Sequence[Job]) -> dict[int, cmd.Command]:
        async def one(job: Job) -> tuple[int, cmd.Command]:
            assert job.context is not None
            return job.key, await outcome_command_async(job, self._handlers[job.type], job.context)

        return dict(await asyncio.gather(*(one(job) for job in jobs)))

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

    def _activate(
        self, job_types: Sequence[str], worker: str, max_jobs: int, timeout: timedelta
    ) -> list[Job]:
        now = self.clock.now()
        lease_until = now + timeout
        with self.store.transaction() as tx:
            records = tx.activate_jobs(job_types, worker, max_jobs, now, lease_until)
            self._executor.peek_many(tx, [r.instance_key for r in records])
        return self._job_views(records, lease_until, worker)

    def _job_views(
        self, records: Sequence[JobRecord], lease_until: datetime, worker: str
    ) -> list[Job]:
        missing = {r.instance_key for r in records} - {
            r.instance_key for r in records if self._executor.cached_state(r.instance_key)
        }
        if missing:
            with self.store.transaction() as tx:
                self._executor.peek_many(tx, sorted(missing))
        jobs = []
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
                deadline=lease_until,
                worker=worker,
                timeout=timeout,
            )
            jobs.append(
                Job(
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
            )
        return jobs
