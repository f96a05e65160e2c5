"""Handler slots: where a node runs its handlers, how many at once, and what a hung one costs.

A :class:`HandlerPool` has ``concurrency`` slots. A plain (``def``) handler runs on a slot
thread, an ``async def`` one on the pool's event loop, an isolated one in a child process that
a slot thread talks to. The node asks :meth:`HandlerPool.free` how many jobs it can start now
and activates no more than that: a job is only held while a slot runs it (or its outcome waits
for the next commit), so several nodes share the work instead of one node hoarding it.

A call past its handler's timeout is *abandoned*: the job fails its attempt at once (it is
retried with backoff, so handlers must be idempotent, which the job key makes possible), the
result, if it ever comes, is discarded, and the slot is given a new thread, so later jobs keep
running. A thread cannot be killed in Python: an abandoned call keeps its thread until it
returns, and those threads are counted (:attr:`HandlerPool.hanging`); past ``hanging_limit``
the pool logs an error on every new abandonment. An isolated handler's child process *is*
killed, and its slot carries on with a new child. Every thread here is a daemon thread: none
of them keeps the process alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import multiprocessing
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from legato.engine import commands as cmd
from legato.errors import BpmnError, NonRetryableError
from legato.runtime.handlers import (
    FunctionReference,
    HandlerFailure,
    RegisteredHandler,
    failure_command,
    missing_secrets_failure,
    success_command,
)
from legato.runtime.logcontext import CURRENT_JOB, awaited_running
from legato.runtime.types import Job

logger = logging.getLogger("legato.handlers")


@dataclass(slots=True)
class Finished:
    """What became of one handler call."""

    job: Job
    command: cmd.Command | None
    """The job's outcome; None when the job is given back without charging an attempt: its
    handler raised an interrupt (``KeyboardInterrupt``, ``SystemExit``), or it did not run
    (no slot was free for it)."""
    interrupt: BaseException | None = None
    seconds: float = 0.0
    """How long the call ran (until it returned or was abandoned)."""


@dataclass(slots=True, eq=False)
class _Call:
    job: Job
    handler: RegisteredHandler
    started: float
    deadline: float | None
    done: bool = False
    abandoned: bool = False
    cancel: Callable[[], None] | None = None
    """Asks the call to stop when it is abandoned (an async task's cancel, a child's kill)."""

    @property
    def keeps_running(self) -> bool:
        """Whether an abandoned call goes on running (a thread, a task that may ignore its
        cancellation); an isolated call's child process is killed."""
        return not self.handler.isolated


class HandlerPool:
    """Runs handler calls on up to ``concurrency`` slots at once (see the module docstring).

    :meth:`submit` is called by one thread (the node's loop), which also calls
    :meth:`collect`; slot threads and the event loop only hand results back.
    """

    def __init__(self, concurrency: int, *, hanging_limit: int = 16) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.hanging_limit = hanging_limit
        self.abandoned = 0
        """Calls abandoned since the pool was made."""
        self.hanging = 0
        """Abandoned calls whose threads still run (an isolated call's child is killed)."""
        self._lock = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._results: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._idle: list[_Slot] = []
        self._loop: _EventLoop | None = None
        self._closed = False
        self._inline: deque[_Call] = deque()
        self._durations: dict[str, float] = {}
        """A moving average of each job type's call duration, in seconds."""

    @property
    def running(self) -> int:
        """Calls that hold a slot now (abandoned ones no longer do)."""
        return len(self._calls)

    def free(self) -> int:
        """How many more calls can start now on slots (calls run inline need none)."""
        return max(self.concurrency - (len(self._calls) - len(self._inline)), 0)

    def runs_inline(self, handler: RegisteredHandler) -> bool:
        """Whether calls of ``handler`` run on the caller's thread: a plain handler without
        a timeout (there is nothing to abandon) whose calls were measured to take under
        :data:`INLINE_LIMIT`, where a handoff to a thread would cost more than the call. The
        first calls of a handler run on slots (they are measured there); a job whose model
        sets a timeout goes to a slot all the same."""
        return (
            handler.timeout is None
            and not handler.is_async
            and not handler.isolated
            and self._durations.get(handler.job_type, INLINE_LIMIT) < INLINE_LIMIT
        )

    def job_keys(self) -> list[int]:
        """The jobs whose calls run now."""
        return list(self._calls)

    def submit(self, job: Job, handler: RegisteredHandler) -> None:
        """Start ``handler`` on ``job`` in a free slot."""
        timeout = job.context.timeout if job.context is not None else None
        started = time.monotonic()
        deadline = started + timeout.total_seconds() if timeout is not None else None
        call = _Call(job, handler, started, deadline)
        self._calls[job.key] = call
        if self._runs_inline(call):
            self._inline.append(call)
            return
        self._dispatch(call)

    def _runs_inline(self, call: _Call) -> bool:
        return call.deadline is None and self.runs_inline(call.handler)

    def _dispatch(self, call: _Call) -> None:
        handler = call.handler
        if handler.is_async and not handler.isolated:
            if self._loop is None:
                self._loop = _EventLoop()
            self._loop.submit(self, call)
            return
        slot = self._idle.pop() if self._idle else _Slot(self)
        slot.run(call)

    def wake(self) -> None:
        """Make a waiting :meth:`collect` return now (new work arrived, or a stop)."""
        self._results.put(_WAKE)

    def collect(self, timeout: float) -> list[Finished]:
        """Wait up to ``timeout`` seconds for calls to end; return every call that ended.

        Calls that run inline run now, on this thread, first. A call past its deadline ends
        here, abandoned, as a failed attempt.
        """
        finished = self._run_inline()
        results = self._results
        if not finished:
            wait = timeout
            deadlines = [c.deadline for c in self._calls.values() if c.deadline is not None]
            if deadlines:
                wait = min(wait, max(min(deadlines) - time.monotonic(), 0.0))
            with contextlib.suppress(queue.Empty):
                finished.append(results.get(timeout=wait))
        # Whatever else has ended, without waiting. The size first: this is the only reader,
        # and a call run inline (most of them) then raises no Empty to end the loop.
        while results.qsize():
            finished.append(results.get_nowait())
        finished = [result for result in finished if result is not _WAKE]
        for result in finished:
            self._calls.pop(result.job.key, None)
            self._measured(result.job.type, result.seconds)
        finished.extend(self._abandon_late(time.monotonic()))
        return finished

    def _run_inline(self) -> list[Finished]:
        finished = []
        while self._inline:
            call = self._inline.popleft()
            if not self._runs_inline(call):
                # Its handler turned out slow: a free slot runs it, else it is given back
                # (to any worker) rather than held while it waits.
                if self.concurrency - (len(self._calls) - len(self._inline)) >= 0:
                    self._dispatch(call)
                else:
                    del self._calls[call.job.key]
                    finished.append(Finished(call.job, None))
                continue
            call.started = time.monotonic()
            result = _outcome(call.job, call.handler)
            result.seconds = time.monotonic() - call.started
            del self._calls[call.job.key]
            self._measured(call.job.type, result.seconds)
            finished.append(result)
            if result.interrupt is not None:
                break  # Ctrl-C: the rest waits to be given back
        return finished

    def _measured(self, job_type: str, seconds: float) -> None:
        before = self._durations.get(job_type)
        self._durations[job_type] = seconds if before is None else 0.8 * before + 0.2 * seconds

    def _abandon_late(self, now: float) -> list[Finished]:
        late: list[Finished] = []
        for call in list(self._calls.values()):
            if call.deadline is not None and call.deadline <= now and self._abandon(call):
                self.abandoned += 1
                late.append(self._timed_out(call, now))
        return late

    def _abandon(self, call: _Call) -> bool:
        """Give up on a running call (False if it just ended: its result is queued)."""
        with self._lock:
            if call.done:
                return False
            call.abandoned = True
            if call.keeps_running:
                self.hanging += 1
        del self._calls[call.job.key]
        if call.cancel is not None:
            call.cancel()
        return True

    def abandon_all(self) -> list[Job]:
        """Abandon every running call without an outcome (the node is stopping and gives
        their jobs back); returns their jobs."""
        abandoned = [call.job for call in self._inline]
        for call in self._inline:
            del self._calls[call.job.key]
        self._inline.clear()
        for call in list(self._calls.values()):
            if self._abandon(call):
                abandoned.append(call.job)
        return abandoned

    def _timed_out(self, call: _Call, now: float) -> Finished:
        job = call.job
        timeout = job.context.timeout if job.context is not None else None
        message = f"handler did not finish within {timeout}"
        if call.handler.isolated:
            logger.warning("job %s (%s): %s; its process was killed", job.key, job.type, message)
        else:
            level = logging.ERROR if self.hanging > self.hanging_limit else logging.WARNING
            logger.log(
                level,
                "job %s (%s): %s; the call is abandoned (%d abandoned calls still running%s)",
                job.key,
                job.type,
                message,
                self.hanging,
                "; past the limit of "
                f"{self.hanging_limit}: handlers hang, give them a timeout they keep or run "
                "them isolated in a process"
                if self.hanging > self.hanging_limit
                else "",
            )
        command = failure_command(job, TimeoutError(message), log=False)
        return Finished(job, command, seconds=now - call.started)

    def _finish(self, call: _Call, result: Finished) -> bool:
        """Hand a call's result back unless it was abandoned; False if it was."""
        with self._lock:
            if call.abandoned:
                if call.keeps_running:
                    self.hanging -= 1
                late = time.monotonic() - call.started
                logger.info(
                    "abandoned call of job %s (%s) returned after %.1f s; its result is discarded",
                    call.job.key,
                    call.job.type,
                    late,
                )
                return False
            call.done = True
        self._results.put(result)
        return True

    def _idle_again(self, slot: _Slot) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(slot)
                return
        slot.stop()

    def close(self) -> None:
        """Stop the idle slots and the event loop (running calls are left to end alone)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for slot in idle:
            slot.stop()
        if self._loop is not None:
            self._loop.stop()
            self._loop = None


INLINE_LIMIT = 0.001
"""Plain handlers without a timeout whose calls take less (on average) run on the node's
own thread: handing a call to another thread costs more than that."""

_WAKE: Any = object()
"""Put in the result queue to end a wait early; not a result."""


def _outcome(job: Job, handler: RegisteredHandler) -> Finished:
    try:
        result = _direct(job, handler)
    except Exception as exc:
        return Finished(job, failure_command(job, exc))
    except BaseException as exc:  # an interrupt: give the job back, stop the node
        return Finished(job, None, interrupt=exc)
    return Finished(job, success_command(job, result))


def _direct(job: Job, handler: RegisteredHandler) -> Any:
    result = _call(job, handler)
    if inspect.isawaitable(result):  # a plain callable that returned a coroutine
        return asyncio.run(_awaited(result))
    return result


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _call(job: Job, handler: RegisteredHandler) -> Any:
    refused = missing_secrets_failure(job)
    if refused is not None:
        raise refused
    function = handler.function
    # The job is the current one while its handler runs: log lines meanwhile carry its keys
    # (an async handler's coroutine takes it along).
    token = CURRENT_JOB.set(job)
    try:
        result = function(job, job.context) if handler.wants_context else function(job)
    finally:
        CURRENT_JOB.reset(token)
    if inspect.iscoroutine(result):
        return awaited_running(job, result)
    return result


class _Slot:
    """A slot thread: runs one call at a time, handed over through its inbox."""

    def __init__(self, pool: HandlerPool) -> None:
        self._pool = pool
        self._inbox: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._child: _Child | None = None
        self._thread = threading.Thread(target=self._main, name="legato-handler", daemon=True)
        self._thread.start()

    def run(self, call: _Call) -> None:
        self._inbox.put(call)

    def stop(self) -> None:
        self._inbox.put(None)

    def _main(self) -> None:
        while (call := self._inbox.get()) is not None:
            begun = time.monotonic()
            if call.handler.isolated:
                self._child = child = self._child or _Child()
                call.cancel = child.kill
                result = child.call(call.job, call.handler)
                if not child.alive:
                    self._child = None
            else:
                result = _outcome(call.job, call.handler)
            result.seconds = time.monotonic() - begun  # the call alone, not its wait
            if not self._pool._finish(call, result) and not call.handler.isolated:
                return  # abandoned: the pool has started another slot in this one's place
            self._pool._idle_again(self)
        if self._child is not None:
            self._child.kill()


class _EventLoop:
    """The pool's event loop for ``async def`` handlers, on a daemon thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="legato-async-handlers", daemon=True
        )
        self._thread.start()

    def submit(self, pool: HandlerPool, call: _Call) -> None:
        future = asyncio.run_coroutine_threadsafe(self._run(pool, call), self._loop)

        def cancel() -> None:
            future.cancel()  # thread-safe: it cancels the task on the loop's thread

        call.cancel = cancel

    async def _run(self, pool: HandlerPool, call: _Call) -> None:
        job, handler = call.job, call.handler
        try:
            result = await _call(job, handler)
        except asyncio.CancelledError:
            if call.abandoned:
                pool._finish(call, Finished(job, None))
                return
            raise
        except Exception as exc:
            pool._finish(call, Finished(job, failure_command(job, exc)))
            return
        except BaseException as exc:
            pool._finish(call, Finished(job, None, interrupt=exc))
            return
        pool._finish(call, Finished(job, success_command(job, result)))

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


# -- isolated handlers: a child process per slot ------------------------------------------------


@dataclass(slots=True)
class _Child:
    """A child process that runs isolated handler calls, one at a time, until it is killed."""

    process: Any = None
    connection: Connection | None = None
    alive: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.process = context.Process(
            target=_child_main, args=(child,), name="legato-isolated-handler", daemon=True
        )
        self.process.start()
        child.close()
        self.connection = parent

    def call(self, job: Job, handler: RegisteredHandler) -> Finished:
        assert self.connection is not None
        reference = handler.reference
        assert reference is not None
        refused = missing_secrets_failure(job)
        if refused is not None:
            return Finished(job, failure_command(job, refused))
        try:
            self.connection.send((reference, handler.wants_context, job))
            kind, *rest = self.connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.kill()
            code = self.process.exitcode
            return Finished(
                job,
                failure_command(job, RuntimeError(f"handler process ended (exit code {code})")),
            )
        if kind == "ok":
            return Finished(job, success_command(job, rest[0]))
        if kind == "bpmn":
            code_, message, variables = rest
            return Finished(job, failure_command(job, BpmnError(code_, message, variables)))
        type_name, message, details, retryable = rest
        error = HandlerFailure(type_name, message, details, retryable=retryable)
        return Finished(job, failure_command(job, error))

    def kill(self) -> None:
        with self._lock:
            if not self.alive:
                return
            self.alive = False
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        if self.connection is not None:
            self.connection.close()


def _child_main(connection: Connection) -> None:  # pragma: no cover - runs in a child process
    functions: dict[FunctionReference, Callable[..., Any]] = {}
    while True:
        try:
            reference, wants_context, job = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        try:
            function = functions.get(reference) or functions.setdefault(reference, reference.load())
            result = function(job, job.context) if wants_context else function(job)
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            reply: tuple[Any, ...] = ("ok", result)
        except BpmnError as exc:
            reply = ("bpmn", exc.code, exc.message, exc.variables)
        except Exception as exc:
            details = "".join(traceback.format_exception(exc))
            reply = (
                "error",
                type(exc).__name__,
                str(exc),
                details,
                not isinstance(exc, NonRetryableError),
            )
        try:
            connection.send(reply)
        except Exception as exc:  # the result does not pickle
            connection.send(("error", type(exc).__name__, str(exc), "", False))
