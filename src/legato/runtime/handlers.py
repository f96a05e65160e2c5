"""Job handlers: registration, calling them (sync or async) and turning outcomes into commands."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from legato.engine import commands as cmd
from legato.errors import BpmnError, NonRetryableError
from legato.runtime.types import Job, JobContext

logger = logging.getLogger("legato.handlers")

HandlerResult = Mapping[str, Any] | None
Handler = Callable[..., HandlerResult | Awaitable[HandlerResult]]


@dataclass(frozen=True, slots=True)
class RegisteredHandler:
    """A handler and how to call it."""

    job_type: str
    function: Handler
    timeout: timedelta | None
    wants_context: bool
    is_async: bool


def register(job_type: str, function: Handler, timeout: timedelta | None) -> RegisteredHandler:
    """Describe a handler: it takes ``(job)`` or ``(job, context)``; ``def`` or ``async def``."""
    try:
        parameters = inspect.signature(function).parameters.values()
        positional = [
            p
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        positional = []
    wants_context = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)
    return RegisteredHandler(
        job_type, function, timeout, wants_context, inspect.iscoroutinefunction(function)
    )


def outcome_command(job: Job, handler: RegisteredHandler, context: JobContext) -> cmd.Command:
    """Run a synchronous handler and say what should happen to its job."""
    try:
        if context.timeout is not None:
            result = _call_with_timeout(handler, job, context, context.timeout)
        else:
            result = _call(handler, job, context)
    except BaseException as exc:
        return failure_command(job, exc)
    return success_command(job, result)


async def outcome_command_async(
    job: Job, handler: RegisteredHandler, context: JobContext
) -> cmd.Command:
    """Run an ``async def`` handler (with its timeout) and say what happens to its job."""
    try:
        call = handler.function(job, context) if handler.wants_context else handler.function(job)
        assert inspect.isawaitable(call)
        if context.timeout is not None:
            result = await asyncio.wait_for(call, context.timeout.total_seconds())
        else:
            result = await call
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return failure_command(job, exc)
    return success_command(job, result)


def _call(handler: RegisteredHandler, job: Job, context: JobContext) -> Any:
    return handler.function(job, context) if handler.wants_context else handler.function(job)


_POOL: concurrent.futures.ThreadPoolExecutor | None = None


def _call_with_timeout(
    handler: RegisteredHandler, job: Job, context: JobContext, timeout: timedelta
) -> Any:
    # A synchronous function cannot be interrupted; it runs in a worker thread and its result
    # is ignored once the time is up (the job is retried, which is why handlers get a stable
    # idempotency key).
    global _POOL
    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="legato-job"
        )
    future = _POOL.submit(_call, handler, job, context)
    try:
        return future.result(timeout=timeout.total_seconds())
    except concurrent.futures.TimeoutError as exc:
        raise TimeoutError(f"handler did not finish within {timeout}") from exc


def success_command(job: Job, result: Any) -> cmd.Command:
    """The command for a handler that returned ``result``."""
    if result is None:
        variables: dict[str, Any] = {}
    elif isinstance(result, Mapping):
        variables = {str(k): v for k, v in result.items()}
    else:
        return cmd.FailJob(
            instance_key=job.instance_key,
            job_key=job.key,
            error_message=f"handler returned {type(result).__name__}, "
            "expected a dict of variables or None",
            retryable=False,
        )
    return cmd.CompleteJob(instance_key=job.instance_key, job_key=job.key, variables=variables)


def failure_command(job: Job, exc: BaseException) -> cmd.Command:
    """The command for a handler that raised ``exc``."""
    if isinstance(exc, BpmnError):
        return cmd.ThrowError(
            instance_key=job.instance_key,
            job_key=job.key,
            error_code=exc.code,
            error_message=exc.message,
            variables=exc.variables,
        )
    details = "".join(traceback.format_exception(exc))
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    logger.info("job %s (%s) failed: %s", job.key, job.type, message)
    return cmd.FailJob(
        instance_key=job.instance_key,
        job_key=job.key,
        error_message=message,
        details=details,
        retryable=not isinstance(exc, NonRetryableError),
    )


HANDLER_MARK = "__legato_job_type__"


def handler(job_type: str, *, timeout: timedelta | None = None) -> Callable[[Handler], Handler]:
    """Mark a function as the handler of ``job_type`` jobs, for a handlers file.

    ``legato run --handlers FILE`` and ``legato worker --handlers FILE`` register every marked
    function of FILE; :meth:`Engine.register_module` does the same from Python.
    """

    def mark(function: Handler) -> Handler:
        setattr(function, HANDLER_MARK, (job_type, timeout))
        return function

    return mark


def marked_handlers(namespace: Mapping[str, Any]) -> list[tuple[str, Handler, timedelta | None]]:
    """The handlers marked with :func:`handler` in a module's namespace."""
    found = []
    for value in namespace.values():
        mark = getattr(value, HANDLER_MARK, None)
        if mark is not None and callable(value):
            job_type, timeout = mark
            found.append((job_type, value, timeout))
    return found
