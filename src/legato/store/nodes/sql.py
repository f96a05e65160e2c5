"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.nodes.Nodes`."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta

import sqlalchemy as sa

from legato.store._rules import utc
from legato.store._sql_base import SqlTransactionBase, upsert_statement
from legato.store.records import NodeRecord
from legato.store.schema import jobs, nodes


class SqlNodes(SqlTransactionBase):
    """The nodes part of a SQL transaction."""

    def save_node(self, record: NodeRecord) -> None:
        """Insert or replace a node's row (one upsert)."""
        statement = upsert_statement(self._sql, nodes)
        self._run(statement, {f.name: getattr(record, f.name) for f in fields(record)})

    def list_nodes(self) -> list[NodeRecord]:
        """Every node, by id."""
        query = sa.select(nodes).order_by(nodes.c.node_id)
        return [NodeRecord(**row._mapping) for row in self._execute(query)]

    def release_dead_nodes(self, now: datetime, timeout: timedelta) -> list[str]:
        """Mark silent nodes dead and end the leases of the jobs they hold.

        On PostgreSQL the silent rows are locked (``SKIP LOCKED``): two nodes sweeping at once
        release each dead node once, and a node that heartbeats meanwhile is not touched.
        """
        now = utc(now)
        query = (
            sa.select(nodes.c.node_id)
            .where(nodes.c.status == "running", nodes.c.heartbeat_at < now - timeout)
            .order_by(nodes.c.node_id)
        )
        query = self._sql.skip_locked(query)
        dead = [row.node_id for row in self._execute(query)]
        if not dead:
            return []
        self._execute(sa.update(nodes).where(nodes.c.node_id.in_(dead)).values(status="dead"))
        # An ended lease makes the job due again (available_at is when it may be claimed).
        self._execute(
            sa.update(jobs)
            .where(jobs.c.state == "activated", jobs.c.worker.in_(dead))
            .values(lease_until=now, available_at=now)
        )
        return dead

    def try_lock(self, name: str) -> bool:
        """PostgreSQL: a transaction-level advisory lock (released at commit or rollback, and
        when the session dies). SQLite: granted, its write lock serialises writers anyway."""
        return self._sql.try_lock(self, name)

    def database_now(self) -> datetime | None:
        """PostgreSQL's ``clock_timestamp()``; None on SQLite (one machine, one clock)."""
        return self._sql.database_now(self)
