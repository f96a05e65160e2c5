"""Database-wide gauges: active instances, open incidents, job queues, nodes alive.

They describe the whole database, not one process, so one node at a time exports them: the
running node that started first (the oldest live row of ``nodes``; when it stops or dies its
heartbeat runs out and the next oldest takes over). Every other node leaves them out, so a
Prometheus that scrapes every node sums nothing twice. An engine that serves no node (an
embedded one) exports them while no node runs.

They are read by :meth:`DatabaseGauges.refresh` (a few grouped queries over the small
counter tables and the jobs index, never the instances) on each heartbeat of a serving node,
or on a scrape of an embedded engine when the last reading is older than
:data:`REFRESH_INTERVAL` (by the wall clock or by the engine's, which moves on its own in
tests). A scrape itself only renders the last reading: it answers at once
however many instances run, and also while the database is unreachable or busy recovering
(``legato_gauges_age_seconds`` then tells how old the reading is).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from legato.errors import StoreError
from legato.runtime.clock import Clock
from legato.runtime.definitions import DefinitionRegistry
from legato.store.ports import Store, Transaction
from legato.store.records import NodeRecord

logger = logging.getLogger("legato.metrics")

REFRESH_INTERVAL = 5.0
"""Seconds a reading serves an embedded engine's scrapes before one reads again."""


@dataclass(slots=True)
class _Reading:
    exporter: bool
    """Whether this node exports the database-wide gauges (see the module docstring)."""
    active: dict[tuple[str, str], int] = field(default_factory=dict)
    incidents: dict[tuple[str, str], int] = field(default_factory=dict)
    queues: list[tuple[str, int, float]] = field(default_factory=list)
    nodes_alive: int = 0
    taken: float = field(default_factory=time.monotonic)
    taken_at: datetime | None = None
    """When it was taken by the engine's clock (a virtual clock moves on in tests)."""


class DatabaseGauges(Collector):
    """Reads the database-wide gauges and renders the last reading (a Prometheus collector).

    Args:
        store: the database.
        clock: the engine's clock (job ages are measured with it).
        definitions: names the process and version of a definition key.
        node_id: this engine's node id (its worker name).
        node_timeout: how long a node may stay silent and still count as alive.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        definitions: DefinitionRegistry,
        node_id: str,
        node_timeout: timedelta = timedelta(seconds=30),
    ) -> None:
        self._store = store
        self._clock = clock
        self._definitions = definitions
        self.node_id = node_id
        self.node_timeout = node_timeout
        self._reading: _Reading | None = None
        self._lock = threading.Lock()
        self.serving = False
        """Set while the engine serves as a node: its heartbeats refresh the reading, and a
        scrape never waits for the database."""

    def refresh(self) -> None:
        """Read the gauges again (if this node exports them); a database error keeps the last
        reading (logged)."""
        if not self._lock.acquire(blocking=False):
            return  # a reading is under way
        try:
            now = self._clock.now()
            with self._store.transaction() as tx:
                self._reading = self._read(tx, now)
            self._reading.taken_at = now
        except StoreError as exc:
            logger.warning("could not read the database-wide gauges: %s", exc)
        finally:
            self._lock.release()

    def refresh_if_stale(self) -> None:
        """Refresh when the last reading is older than :data:`REFRESH_INTERVAL` and no node
        loop refreshes it (an embedded engine being scraped)."""
        reading = self._reading
        if self.serving and reading is not None:
            return
        if (
            reading is None
            or time.monotonic() - reading.taken > REFRESH_INTERVAL
            or (
                reading.taken_at is not None
                and (self._clock.now() - reading.taken_at).total_seconds() > REFRESH_INTERVAL
            )
        ):
            self.refresh()

    def _read(self, tx: Transaction, now: datetime) -> _Reading:
        alive = [n for n in tx.list_nodes() if _alive(n, now, self.node_timeout)]
        first = min(alive, key=lambda n: (n.started_at, n.node_id), default=None)
        if first is not None and first.node_id != self.node_id:
            return _Reading(exporter=False)
        reading = _Reading(exporter=True, nodes_alive=len(alive))
        for definition_key, counts in tx.counts_by_definition().items():
            deployed = self._definitions.get_in(tx, definition_key)
            if deployed is None:
                continue
            labels = (deployed.process_id, str(deployed.version))
            active, _, _, incidents = counts
            reading.active[labels] = reading.active.get(labels, 0) + active
            reading.incidents[labels] = reading.incidents.get(labels, 0) + incidents
        reading.queues = [
            (job_type, waiting, max((now - oldest).total_seconds(), 0.0))
            for job_type, waiting, oldest in tx.job_queues(now)
        ]
        return reading

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front: :meth:`collect` must not run when the collector registers."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The last reading's gauges (none on a node that does not export them)."""
        reading = self._reading
        if reading is None or not reading.exporter:
            return
        by_version = ["process", "version"]
        active = GaugeMetricFamily(
            "legato_instances_active", "Instances running (suspended ones too)", labels=by_version
        )
        for labels, count in sorted(reading.active.items()):
            active.add_metric(list(labels), count)
        incidents = GaugeMetricFamily(
            "legato_incidents_open", "Incidents waiting for an operator", labels=by_version
        )
        for labels, count in sorted(reading.incidents.items()):
            incidents.add_metric(list(labels), count)
        depth = GaugeMetricFamily(
            "legato_job_queue_depth", "Due jobs no worker holds yet", labels=["job_type"]
        )
        age = GaugeMetricFamily(
            "legato_job_queue_oldest_age_seconds",
            "How long the oldest due job no worker holds has waited",
            labels=["job_type"],
        )
        for job_type, waiting, seconds in reading.queues:
            depth.add_metric([job_type], waiting)
            age.add_metric([job_type], seconds)
        nodes = GaugeMetricFamily(
            "legato_nodes_alive",
            "Engine nodes whose heartbeat is current",
            value=reading.nodes_alive,
        )
        freshness = GaugeMetricFamily(
            "legato_gauges_age_seconds",
            "Age of the database-wide gauges' reading",
            value=time.monotonic() - reading.taken,
        )
        yield from (active, incidents, depth, age, nodes, freshness)


def _alive(node: NodeRecord, now: datetime, timeout: timedelta) -> bool:
    return node.status == "running" and node.heartbeat_at >= now - timeout
