"""The SQL (SQLite and PostgreSQL) adapter of
:class:`~legato.store.batch_operations.BatchOperations`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.errors import NotFoundError
from legato.store._rules import iter_chunks
from legato.store._sql_base import SqlTransactionBase
from legato.store.batch_operations import counted
from legato.store.records import BatchOperationRecord
from legato.store.schema import batch_items, batch_operations

_ITEMS_PER_STATEMENT = 1000


def _record(row: sa.RowMapping) -> BatchOperationRecord:
    return BatchOperationRecord(**dict(row))


class SqlBatchOperations(SqlTransactionBase):
    """The batch operations part of a SQL transaction (operators' batches: plain Core)."""

    def insert_batch_operation(self, record: BatchOperationRecord) -> None:
        """Store a new batch operation."""
        self._execute(sa.insert(batch_operations).values(**asdict(record)))

    def add_batch_items(self, batch_key: int, instance_keys: Sequence[int]) -> None:
        """Add instances to a batch operation, pending (a thousand rows a statement)."""
        for chunk in iter_chunks(instance_keys, _ITEMS_PER_STATEMENT):
            rows = [
                {"batch_key": batch_key, "instance_key": key, "state": "pending", "reason": None}
                for key in chunk
            ]
            self._execute(sa.insert(batch_items), rows)

    def get_batch_operation(self, batch_key: int) -> BatchOperationRecord | None:
        """One batch operation."""
        query = sa.select(batch_operations).where(batch_operations.c.batch_key == batch_key)
        row = self._execute(query).first()
        return None if row is None else _record(row._mapping)

    def list_batch_operations(
        self, limit: int = 100, status: str | None = None
    ) -> list[BatchOperationRecord]:
        """The newest first (only those in ``status``, when given)."""
        query = (
            sa.select(batch_operations)
            .order_by(batch_operations.c.created_at.desc(), batch_operations.c.batch_key.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(batch_operations.c.status == status)
        return [_record(row._mapping) for row in self._execute(query)]

    def update_batch_operation(self, record: BatchOperationRecord) -> None:
        """Save a batch operation's status and progress.

        Raises:
            NotFoundError: no such batch operation.
        """
        values: dict[str, Any] = asdict(record)
        del values["batch_key"]
        statement = (
            sa.update(batch_operations)
            .where(batch_operations.c.batch_key == record.batch_key)
            .values(**values)
            .returning(batch_operations.c.batch_key)
        )
        if self._execute(statement).first() is None:
            raise NotFoundError(f"no batch operation with key {record.batch_key}")

    def pending_batch_items(self, batch_key: int, limit: int) -> list[int]:
        """Pending instance keys, lowest first (one range of ``ix_batch_items_state``)."""
        query = (
            sa.select(batch_items.c.instance_key)
            .where(batch_items.c.batch_key == batch_key, batch_items.c.state == "pending")
            .order_by(batch_items.c.instance_key)
            .limit(limit)
        )
        return [row.instance_key for row in self._execute(query)]

    def finish_batch_items(
        self,
        batch_key: int,
        done: Sequence[int],
        failed: Mapping[int, str],
        now: datetime,
    ) -> BatchOperationRecord:
        """Mark the items and count them on the operation."""
        item = sa.and_(
            batch_items.c.batch_key == batch_key,
            batch_items.c.instance_key == sa.bindparam("key"),
        )
        if done:
            statement = sa.update(batch_items).where(item).values(state="done")
            self._execute(statement, [{"key": key} for key in done])
        if failed:
            statement = (
                sa.update(batch_items)
                .where(item)
                .values(state="failed", reason=sa.bindparam("why"))
            )
            self._execute(statement, [{"key": k, "why": why} for k, why in failed.items()])
        record = self.get_batch_operation(batch_key)
        if record is None:
            raise NotFoundError(f"no batch operation with key {batch_key}")
        finished = not self.pending_batch_items(batch_key, 1)
        record = counted(record, len(done), len(failed), now, finished)
        self.update_batch_operation(record)
        return record

    def failed_batch_items(self, batch_key: int, limit: int = 1000) -> list[tuple[int, str]]:
        """The failed instances and why, by instance key."""
        query = (
            sa.select(batch_items.c.instance_key, batch_items.c.reason)
            .where(batch_items.c.batch_key == batch_key, batch_items.c.state == "failed")
            .order_by(batch_items.c.instance_key)
            .limit(limit)
        )
        return [(row.instance_key, row.reason or "") for row in self._execute(query)]
