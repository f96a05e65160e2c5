"""Group commit for commands submitted from many threads at once (the HTTP server's).

Every command is one durable commit; a commit waits for the disk (SQLite ``synchronous=FULL``,
PostgreSQL's WAL flush), so a thread per request committing alone caps the whole server at
one disk flush per command. Here the threads queue their commands; one of them (the leader)
runs everything queued in one batch, one commit, and hands each thread its own outcome. While
a batch commits, the next commands queue up and go together in the next batch. A lone caller
pays nothing: it finds the queue empty and runs its command at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from legato.engine import commands as cmd
from legato.runtime.executor import Outcome
from legato.store.ports import Transaction

Guard = Callable[[Transaction], None]
"""Checks, in the command's transaction, that it may run (raises to refuse it)."""

MAX_BATCH = 200
"""The most commands one commit carries."""


class _Slot:
    __slots__ = ("command", "error", "guard", "outcome")

    def __init__(self, command: cmd.Command, guard: Guard | None) -> None:
        self.command = command
        self.guard = guard
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs commands from any thread, many to a commit."""

    def __init__(
        self, execute: Callable[[Sequence[tuple[cmd.Command, Guard | None]]], list[Outcome]]
    ) -> None:
        self._execute = execute
        self._queue: list[_Slot] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

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

    def _lead(self) -> None:
        with self._queue_lock:
            batch = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
        if not batch:
            return
        try:
            outcomes = self._execute([(s.command, s.guard) for s in batch])
        except BaseException as exc:
            for s in batch:
                s.error = exc
            return
        for s, outcome in zip(batch, outcomes, strict=True):
            s.outcome = outcome
