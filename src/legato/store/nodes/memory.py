"""The in-memory adapter of :class:`~legato.store.nodes.Nodes`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import utc
from legato.store.records import NodeRecord


class MemoryNodes(MemoryTransactionBase):
    """The nodes part of an in-memory transaction."""

    def save_node(self, record: NodeRecord) -> None:
        """Insert or replace a node's row."""
        self._check_open()
        self._nodes.put(
            record.node_id,
            replace(
                record, started_at=utc(record.started_at), heartbeat_at=utc(record.heartbeat_at)
            ),
        )

    def list_nodes(self) -> list[NodeRecord]:
        """Every node, by id."""
        self._check_open()
        return _ordered(self._nodes.values(), lambda n: n.node_id)

    def release_dead_nodes(self, now: datetime, timeout: timedelta) -> list[str]:
        """Mark silent nodes dead and end the leases of their jobs."""
        self._check_open()
        limit = utc(now) - timeout
        dead = [
            node
            for node in self._nodes.values()
            if node.status == "running" and node.heartbeat_at < limit
        ]
        names = {node.node_id for node in dead}
        for node in dead:
            self._nodes.put(node.node_id, replace(node, status="dead"))
        held = [
            job for job in self._jobs.values() if job.state == "activated" and job.worker in names
        ]
        for job in held:
            self._jobs.put(job.job_key, replace(job, lease_until=utc(now)))
        return sorted(names)

    def try_lock(self, name: str) -> bool:
        """Always granted: transactions of a memory store run one at a time."""
        self._check_open()
        return True

    def database_now(self) -> datetime | None:
        """None: a memory store lives in one process, on its clock."""
        return None
