"""An engine node's presence in the database: heartbeats, and the sweep for dead nodes.

A node is a process that runs :meth:`Engine.serve <legato.runtime.engine.Engine.serve>`. It
writes a row in ``nodes`` every :attr:`NodeAgent.heartbeat_interval` from a thread of its own
(so a long handler does not make it look dead) with its load and counters; ``legato nodes``
lists them.

The jobs a node holds are leased to it. If it dies, its leases would only run out after the
handler timeout (five minutes by default); instead, any live node that finds a ``running``
node silent for :attr:`NodeAgent.node_timeout` marks it ``dead`` and ends its leases, so its
jobs are taken over at once. That sweep is a singleton duty: it runs under the named lock
``sweep`` (a PostgreSQL advisory lock), one node at a time. A node wrongly found dead (a long
pause, a partition) only loses its leases: a job may then run on two nodes (handlers are
at-least-once), but the second completion meets a job that is gone and is refused, so no job
completes twice in the engine.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from legato.errors import StoreError
from legato.runtime.clock import Clock
from legato.store.ports import Store, Transaction
from legato.store.records import NodeRecord

logger = logging.getLogger("legato.node")


@dataclass(slots=True)
class _Counters:
    jobs_done: int = 0
    timers_fired: int = 0
    busy_seconds: float = 0.0
    abandoned: int = 0


class NodeAgent:
    """Heartbeats for one node, and the singleton duties any node may take on.

    Args:
        store: the database.
        clock: the node's clock (database time on PostgreSQL).
        node_id: the node's worker name (the jobs it holds carry it).
        duties: run in the sweep's transaction, under the ``sweep`` lock, on one node at a
            time (e.g. expiring buffered messages).
        on_beat: run before each heartbeat (e.g. measuring the clock offset again).
        heartbeat_interval: how often the node writes its heartbeat.
        node_timeout: how long a node may stay silent before the others find it dead;
            several heartbeat intervals, so that a slow database does not kill live nodes.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        node_id: str,
        *,
        duties: Callable[[Transaction], object] | None = None,
        on_beat: Callable[[], None] | None = None,
        heartbeat_interval: timedelta = timedelta(seconds=5),
        node_timeout: timedelta = timedelta(seconds=30),
    ) -> None:
        if node_timeout <= heartbeat_interval:
            raise ValueError("node_timeout must be longer than heartbeat_interval")
        self.heartbeat_interval = heartbeat_interval
        self.node_timeout = node_timeout
        self._store = store
        self._clock = clock
        self.node_id = node_id
        self._duties = duties
        self._on_beat = on_beat
        self._counters = _Counters()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at: datetime | None = None
        self._last_beat = time.monotonic()

    def record(
        self,
        *,
        jobs: int = 0,
        timers: int = 0,
        busy_seconds: float = 0.0,
        abandoned: int | None = None,
    ) -> None:
        """Count work done (called by the serving loop); ``abandoned`` is the total of
        handler calls abandoned so far."""
        with self._lock:
            self._counters.jobs_done += jobs
            self._counters.timers_fired += timers
            self._counters.busy_seconds += busy_seconds
            if abandoned is not None:
                self._counters.abandoned = abandoned

    def start(self) -> None:
        """Say hello (first heartbeat, synchronously) and keep beating in a thread."""
        self._stop.clear()
        self._started_at = self._clock.now()
        self.beat()
        self._thread = threading.Thread(target=self._run, name="legato-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and say goodbye (the row stays, as ``stopped``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self._save("stopped")
        except StoreError as exc:
            logger.warning("could not record that node %s stopped: %s", self.node_id, exc)

    def beat(self) -> list[str]:
        """Write a heartbeat, then sweep for dead nodes if no other node is sweeping.

        Returns the ids of the nodes found dead (their jobs were released)."""
        if self._on_beat is not None:
            self._on_beat()
        self._save("running")
        with self._store.transaction() as tx:
            if not tx.try_lock("sweep"):
                return []
            dead = tx.release_dead_nodes(self._clock.now(), self.node_timeout)
            if self._duties is not None:
                self._duties(tx)
        for node_id in dead:
            logger.warning("node %s stopped heartbeating; its jobs were released", node_id)
        return dead

    def _save(self, status: str) -> None:
        now = self._clock.now()
        elapsed = time.monotonic() - self._last_beat
        with self._lock:
            counters = self._counters
            busy, counters.busy_seconds = counters.busy_seconds, 0.0
            self._last_beat = time.monotonic()
            record = NodeRecord(
                node_id=self.node_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=self._started_at or now,
                heartbeat_at=now,
                status=status,
                jobs_done=counters.jobs_done,
                timers_fired=counters.timers_fired,
                load=min(busy / elapsed, 1.0) if elapsed > 0 else 0.0,
                abandoned=counters.abandoned,
            )
        with self._store.transaction() as tx:
            tx.save_node(record)

    def _run(self) -> None:
        interval = self.heartbeat_interval.total_seconds()
        while not self._stop.wait(interval):
            try:
                self.beat()
            except StoreError as exc:
                # The database is away (restart, network): the serving loop backs off too;
                # keep trying, a node is only dead if it stays silent for node_timeout.
                logger.warning("heartbeat of node %s failed: %s", self.node_id, exc)
