"""Engine nodes: heartbeats, dead-node release, locks, the shared clock.

The port (:class:`Nodes`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from legato.store.records import NodeRecord


class Nodes(Protocol):
    """Engine nodes: heartbeats, dead-node release, locks, the shared clock."""

    def save_node(self, record: NodeRecord) -> None:
        """Insert or replace a node's row (its heartbeat)."""

    def list_nodes(self) -> list[NodeRecord]:
        """Every node that ever heartbeat here, by id."""

    def release_dead_nodes(self, now: datetime, timeout: timedelta) -> list[str]:
        """Mark ``running`` nodes whose heartbeat is older than ``now - timeout`` as ``dead``
        and end the leases of the jobs they hold, so that any node may take them at once.
        Returns the ids of the nodes found dead."""

    def try_lock(self, name: str) -> bool:
        """Take the lock ``name`` until this transaction ends, if no other transaction holds
        it (PostgreSQL: an advisory lock). Where a single writer runs at a time anyway
        (SQLite, memory) it is always granted."""

    def database_now(self) -> datetime | None:
        """The database server's clock, where nodes on several machines share one
        (PostgreSQL); None where there is none (SQLite, memory: one machine)."""
