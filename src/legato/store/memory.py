"""An in-memory :class:`~legato.store.ports.Store` for unit tests and the testing kit.

It is an honest fake: it keeps the same rules as the SQL adapter (foreign keys, unique keys,
revision checks, JSON round trips, aware UTC datetimes, all-or-nothing transactions), so a
test that passes here passes on SQLite.

A transaction writes into an overlay over the committed tables; the overlay is merged into
them when the block ends normally and dropped when it raises. One transaction runs at a time
(a lock serialises them, as SQLite's write lock does). :class:`MemoryTransaction` is assembled
from one adapter per part of the port (:mod:`legato.store.jobs.memory` and so on) on the
overlays of :mod:`legato.store._memory_base`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from legato.errors import StoreError
from legato.store._memory_base import _Tables
from legato.store.accounts.memory import MemoryAccounts
from legato.store.analytics.memory import MemoryAnalyticsReads
from legato.store.cockpit.memory import MemoryCockpitReads
from legato.store.definitions.memory import MemoryDefinitions
from legato.store.history.memory import MemoryEventLogReads, MemoryHistory
from legato.store.incidents.memory import MemoryIncidents
from legato.store.instances.memory import MemoryInstances
from legato.store.jobs.memory import MemoryJobs
from legato.store.messages.memory import MemoryMessages
from legato.store.nodes.memory import MemoryNodes
from legato.store.ports import Store
from legato.store.retention.memory import MemoryRetention
from legato.store.timers.memory import MemoryTimers
from legato.store.user_tasks.memory import MemoryUserTasks


class MemoryStore:
    """A store that keeps everything in dictionaries (lost when the process ends)."""

    def __init__(self) -> None:
        self._tables = _Tables()
        # Serialises transactions like SQLite's write lock; a reentrant lock so that a nested
        # transaction() in the same thread fails with a clear error instead of deadlocking.
        self._lock = threading.RLock()
        self._active = False

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        """A transaction: commits when the block ends normally, rolls back on an exception.

        Raises:
            StoreError: if a transaction of this store is already open in this thread.
        """
        with self._lock:
            if self._active:
                raise StoreError("a transaction is already open; transactions do not nest")
            self._active = True
            tx = MemoryTransaction(self._tables)
            try:
                yield tx
                tx.commit()
            finally:
                tx.close()
                self._active = False

    def listen(self, wake: Callable[[], None]) -> None:
        """None: a memory store has one process, which knows its own work."""
        return None

    def close(self) -> None:
        """Nothing to release; the data stays readable until the store is dropped."""


class MemoryTransaction(
    MemoryDefinitions,
    MemoryInstances,
    MemoryRetention,
    MemoryCockpitReads,
    MemoryAnalyticsReads,
    MemoryEventLogReads,
    MemoryHistory,
    MemoryJobs,
    MemoryTimers,
    MemoryMessages,
    MemoryUserTasks,
    MemoryIncidents,
    MemoryNodes,
    MemoryAccounts,
):
    """Reads and writes of one in-memory transaction (the port: ``ports.Transaction``)."""


if TYPE_CHECKING:

    def _satisfies_port(store: MemoryStore) -> Store:
        # mypy proves here that the adapter implements the port.
        return store
