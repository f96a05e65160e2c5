"""What a log line concerns: the instance, element and job of the handler call it comes from.

While a handler runs, the job it runs is the current one (a context variable, so threads and
``async`` handlers each see their own); :class:`JobLogFilter` adds its keys to every record
logged meanwhile, as the ``legato`` fields that the JSON formatter of ``legato serve
--log-format json`` writes out. Add the filter to your own logging handlers to get the same
fields on your handlers' lines::

    handler.addFilter(JobLogFilter())
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from legato.runtime.types import Job

T = TypeVar("T")

CURRENT_JOB: ContextVar[Job | None] = ContextVar("legato_current_job", default=None)
"""The job whose handler runs in this context (set and reset around each call)."""


def current_job() -> Job | None:
    """The job whose handler is running here, if any."""
    return CURRENT_JOB.get()


@contextmanager
def running(job: Job) -> Iterator[None]:
    """Make ``job`` the current one while the block runs."""
    token = CURRENT_JOB.set(job)
    try:
        yield
    finally:
        CURRENT_JOB.reset(token)


async def awaited_running(job: Job, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` (an ``async`` handler's call) with ``job`` the current one."""
    with running(job):
        return await awaitable


def job_fields(job: Job) -> dict[str, object]:
    """The fields a log line about ``job`` carries."""
    return {
        "instance_key": job.instance_key,
        "process_id": job.process_id,
        "element_id": job.element_id,
        "element_instance_key": job.element_instance_key,
        "job_key": job.key,
        "job_type": job.type,
    }


class JobLogFilter(logging.Filter):
    """Adds the current job's keys to a record's ``legato`` fields (keeping the fields the
    record brought itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = CURRENT_JOB.get()
        if job is not None:
            own = getattr(record, "legato", None)
            fields = job_fields(job)
            if isinstance(own, dict):
                fields.update(own)
            record.legato = fields
        return True
