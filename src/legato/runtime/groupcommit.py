"""Group commit for commands submitted from many threads and event loops at once (the HTTP
server's).

Every command is one durable commit; a commit waits for the disk (SQLite ``synchronous=FULL``,
PostgreSQL's WAL flush), so a caller committing alone caps the whole server at one disk flush
per command. Here the callers queue their commands and one runner executes everything queued
in one batch, one commit, and hands each caller its own outcome. While a batch commits, the
next commands queue up and go together in the next batch.

Two ways in:

- :meth:`GroupCommit.submit`, from any thread: the caller waits, and leads a batch itself
  when no batch is running (a lone caller pays nothing: it finds the queue empty and runs its
  command at once).
- :meth:`GroupCommit.submit_async`, from an event loop: the command is queued for the
  committer thread, and the coroutine waits without holding a thread. Each batch's outcomes
  reach each loop in one call, so a busy server pays one thread switch per batch, not one
  per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence

from legato.engine import commands as cmd
from legato.runtime.executor import Guard, Outcome

MAX_BATCH = 200
"""The most commands one commit carries."""


class _Slot:
    __slots__ = ("command", "error", "future", "guard", "outcome")

    def __init__(
        self,
        command: cmd.Command,
        guard: Guard | None,
        future: asyncio.Future[Outcome] | None = None,
    ) -> None:
        self.command = command
        self.guard = guard
        self.future = future
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs commands from any thread or event loop, many to a commit."""

    def __init__(
        self, execute: Callable[[Sequence[tuple[cmd.Command, Guard | None]]], list[Outcome]]
    ) -> None:
        self._execute = execute
        self._queue: list[_Slot] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()
        self._wake = threading.Event()
        self._committer: threading.Thread | None = None
        self._closed = False

    def submit(self, command: cmd.Command, guard: Guard | None = None) -> Outcome:
        """Run ``command`` (with whatever else is queued) and return its outcome once its
        batch committed; an error that failed the whole batch is raised in every caller.
        ``guard`` checks in the same transaction that the command may run."""
        slot = _Slot(command, guard)
        with self._queue_lock:
            self._queue.append(slot)
        while True:
            with self._leader:
                if slot.outcome is None and slot.error is None:
                    self._lead()
            if slot.error is not None:
                raise slot.error
            if slot.outcome is not None:
                return slot.outcome

    async def submit_async(self, command: cmd.Command, guard: Guard | None = None) -> Outcome:
        """:meth:`submit` for a coroutine: the committer thread runs the batch, the caller's
        event loop stays free meanwhile."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        slot = _Slot(command, guard, future)
        with self._queue_lock:
            if self._closed:
                raise RuntimeError("the engine is closed")
            self._queue.append(slot)
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_loop, name="legato-group-commit", daemon=True
                )
                self._committer.start()
        self._wake.set()
        return await future

    def close(self) -> None:
        """Stop the committer thread once it has run what is queued."""
        with self._queue_lock:
            self._closed = True
            committer = self._committer
        self._wake.set()
        if committer is not None and committer is not threading.current_thread():
            committer.join()

    def _commit_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._leader:
                    ran = self._lead()
                if not ran:
                    break
            with self._queue_lock:
                if self._closed and not self._queue:
                    return

    def _lead(self) -> bool:
        """Run one batch of what is queued; False when nothing was."""
        with self._queue_lock:
            batch = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
        if not batch:
            return False
        try:
            outcomes = self._execute([(s.command, s.guard) for s in batch])
        except BaseException as exc:
            for s in batch:
                s.error = exc
        else:
            for s, outcome in zip(batch, outcomes, strict=True):
                s.outcome = outcome
        _settle([s for s in batch if s.future is not None])
        return True


def _settle(slots: Sequence[_Slot]) -> None:
    """Hand the waiting coroutines their outcomes: one call into each event loop."""
    by_loop: defaultdict[asyncio.AbstractEventLoop, list[_Slot]] = defaultdict(list)
    for slot in slots:
        assert slot.future is not None
        by_loop[slot.future.get_loop()].append(slot)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve, waiting)


def _resolve(slots: Sequence[_Slot]) -> None:
    for slot in slots:
        future = slot.future
        assert future is not None
        if future.done():
            continue  # the caller gave up (a client that went away); the command committed
        if slot.error is not None:
            future.set_exception(slot.error)
        else:
            assert slot.outcome is not None
            future.set_result(slot.outcome)
