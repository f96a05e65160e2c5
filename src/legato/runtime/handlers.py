"""Job handlers: registration, calling them (sync or async) and turning outcomes into commands."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from legato.engine import commands as cmd
from legato.errors import BpmnError, NonRetryableError
from legato.runtime.types import Job
from legato.security.secrets import ResolvedSecrets

logger = logging.getLogger("legato.handlers")

HandlerResult = Mapping[str, Any] | None
Handler = Callable[..., HandlerResult | Awaitable[HandlerResult]]


@dataclass(frozen=True, slots=True)
class FunctionReference:
    """Where a child process finds a handler: its module (by name, else by file) and name."""

    module: str
    qualname: str
    file: str | None = None

    @classmethod
    def of(cls, function: Callable[..., Any]) -> FunctionReference:
        """The reference of a module-level function.

        Raises:
            ValueError: the function is not reachable by name (a lambda, a nested function).
        """
        qualname = getattr(function, "__qualname__", "")
        module = getattr(function, "__module__", None)
        if not module or not qualname or "<" in qualname:
            raise ValueError(
                f"{qualname or function!r} cannot run isolated: a handler run in a child "
                "process must be a module-level function"
            )
        file = getattr(sys.modules.get(module), "__file__", None)
        return cls(module, qualname, file)

    def load(self) -> Callable[..., Any]:
        """The function, imported in this process."""
        module = sys.modules.get(self.module)
        if module is None:
            try:
                module = importlib.import_module(self.module)
            except ImportError:
                if self.file is None:
                    raise
                spec = importlib.util.spec_from_file_location(self.module, self.file)
                if spec is None or spec.loader is None:
                    raise
                module = importlib.util.module_from_spec(spec)
                sys.modules[self.module] = module
                spec.loader.exec_module(module)
        target: Any = module
        for part in self.qualname.split("."):
            target = getattr(target, part)
        return target  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class RegisteredHandler:
    """A handler and how to call it."""

    job_type: str
    function: Handler
    timeout: timedelta | None
    wants_context: bool
    is_async: bool
    isolated: bool = False
    """Run in a child process, which is killed when the call passes its timeout."""
    reference: FunctionReference | None = None
    """Where the child process finds an isolated handler."""


def register(
    job_type: str, function: Handler, timeout: timedelta | None, *, isolated: bool = False
) -> RegisteredHandler:
    """Describe a handler: it takes ``(job)`` or ``(job, context)``; ``def`` or ``async def``.

    Raises:
        ValueError: ``isolated`` for a function a child process cannot import by name.
    """
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
    reference = FunctionReference.of(function) if isolated else None
    return RegisteredHandler(
        job_type,
        function,
        timeout,
        wants_context,
        inspect.iscoroutinefunction(function),
        isolated,
        reference,
    )


class HandlerFailure(Exception):
    """An exception an isolated handler raised in its child process, as the child reported it."""

    def __init__(self, type_name: str, message: str, details: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.details = details
        self.retryable = retryable

    def __str__(self) -> str:
        message = str(self.args[0])
        return f"{self.type_name}: {message}" if message else self.type_name


def success_command(job: Job, result: Any) -> cmd.Command:
    """The command for a handler that returned ``result``."""
    if result is None:
        variables: dict[str, Any] = {}
    elif isinstance(result, Mapping):
        variables = {str(k): v for k, v in result.items()}
        secrets = set(job.context.secrets.values()) if job.context is not None else set()
        if secrets:  # a handler that hands its inputs back must not store a secret
            variables = {k: v for k, v in variables.items() if not _is_secret(v, secrets)}
    else:
        return cmd.FailJob(
            instance_key=job.instance_key,
            job_key=job.key,
            error_message=f"handler returned {type(result).__name__}, "
            "expected a dict of variables or None",
            retryable=False,
        )
    return cmd.CompleteJob(instance_key=job.instance_key, job_key=job.key, variables=variables)


def failure_command(job: Job, exc: Exception, *, log: bool = True) -> cmd.Command:
    """The command for a handler that raised ``exc``."""
    if isinstance(exc, BpmnError):
        return cmd.ThrowError(
            instance_key=job.instance_key,
            job_key=job.key,
            error_code=exc.code,
            error_message=exc.message,
            variables=exc.variables,
        )
    if isinstance(exc, HandlerFailure):
        message, details, retryable = str(exc), exc.details, exc.retryable
    else:
        details = "".join(traceback.format_exception(exc))
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        retryable = not isinstance(exc, NonRetryableError)
    if job.context is not None and job.context.secrets:
        resolved = ResolvedSecrets(job.context.secrets)
        message, details = resolved.scrub(message), resolved.scrub(details)
    if log:
        logger.debug("job %s (%s) failed: %s", job.key, job.type, message)
    return cmd.FailJob(
        instance_key=job.instance_key,
        job_key=job.key,
        error_message=message,
        details=details,
        retryable=retryable,
    )


def _is_secret(value: Any, secrets: set[str]) -> bool:
    return isinstance(value, str) and value in secrets


def missing_secrets_failure(job: Job) -> NonRetryableError | None:
    """The error of a job that names secrets its provider does not have (None if none)."""
    missing = job.context.missing_secrets if job.context is not None else ()
    if not missing:
        return None
    names = ", ".join(repr(n) for n in missing)
    return NonRetryableError(
        f"the secret{'s' if len(missing) > 1 else ''} {names} of job type {job.type!r} "
        "is not set in the engine's secrets provider"
    )


HANDLER_MARK = "__legato_job_type__"


def handler(
    job_type: str, *, timeout: timedelta | None = None, isolated: bool = False
) -> Callable[[Handler], Handler]:
    """Mark a function as the handler of ``job_type`` jobs, for a handlers file.

    ``legato run --handlers FILE`` and ``legato worker --handlers FILE`` register every marked
    function of FILE; :meth:`Engine.register_module` does the same from Python. ``isolated``
    runs it in a child process that is killed when a call passes ``timeout``.
    """

    def mark(function: Handler) -> Handler:
        setattr(function, HANDLER_MARK, (job_type, timeout, isolated))
        return function

    return mark


def marked_handlers(
    namespace: Mapping[str, Any],
) -> list[tuple[str, Handler, timedelta | None, bool]]:
    """The handlers marked with :func:`handler` in a module's namespace:
    ``(job_type, function, timeout, isolated)``."""
    found = []
    for value in namespace.values():
        mark = getattr(value, HANDLER_MARK, None)
        if mark is not None and callable(value):
            job_type, timeout, isolated = mark
            found.append((job_type, value, timeout, isolated))
    return found
