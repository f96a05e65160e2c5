"""The in-memory adapter of :class:`~legato.store.batch_operations.BatchOperations`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from legato.errors import ConflictError, NotFoundError
from legato.store._memory_base import MemoryTransactionBase
from legato.store._rules import utc
from legato.store.batch_operations import counted
from legato.store.records import BatchOperationRecord


class MemoryBatchOperations(MemoryTransactionBase):
    """The batch operations part of an in-memory transaction."""

    def insert_batch_operation(self, record: BatchOperationRecord) -> None:
        """Store a new batch operation."""
        self._check_open()
        if self._batch_operations.get(record.batch_key) is not None:
            raise ConflictError(f"batch operation {record.batch_key} exists already")
        self._batch_operations.put(record.batch_key, _stored(record))

    def add_batch_items(self, batch_key: int, instance_keys: Sequence[int]) -> None:
        """Add instances to a batch operation, pending."""
        self._check_open()
        for key in instance_keys:
            self._batch_items.put((batch_key, key), (batch_key, key, "pending", None))

    def get_batch_operation(self, batch_key: int) -> BatchOperationRecord | None:
        """One batch operation."""
        self._check_open()
        return self._batch_operations.get(batch_key)

    def list_batch_operations(
        self, limit: int = 100, status: str | None = None
    ) -> list[BatchOperationRecord]:
        """The newest first (only those in ``status``, when given)."""
        self._check_open()
        ordered = sorted(
            (r for r in self._batch_operations.values() if status in (None, r.status)),
            key=lambda r: (r.created_at, r.batch_key),
            reverse=True,
        )
        return ordered[:limit]

    def update_batch_operation(self, record: BatchOperationRecord) -> None:
        """Save a batch operation's status and progress."""
        self._check_open()
        if self._batch_operations.get(record.batch_key) is None:
            raise NotFoundError(f"no batch operation with key {record.batch_key}")
        self._batch_operations.put(record.batch_key, _stored(record))

    def _items(self, batch_key: int, state: str) -> list[tuple[int, str | None]]:
        return sorted(
            (instance_key, reason)
            for key, instance_key, item_state, reason in self._batch_items.values()
            if key == batch_key and item_state == state
        )

    def pending_batch_items(self, batch_key: int, limit: int) -> list[int]:
        """Pending instance keys, lowest first."""
        self._check_open()
        return [key for key, _ in self._items(batch_key, "pending")[:limit]]

    def finish_batch_items(
        self,
        batch_key: int,
        done: Sequence[int],
        failed: Mapping[int, str],
        now: datetime,
    ) -> BatchOperationRecord:
        """Mark the items and count them on the operation."""
        self._check_open()
        for key in done:
            self._batch_items.put((batch_key, key), (batch_key, key, "done", None))
        for key, reason in failed.items():
            self._batch_items.put((batch_key, key), (batch_key, key, "failed", reason))
        record = self._batch_operations.get(batch_key)
        if record is None:
            raise NotFoundError(f"no batch operation with key {batch_key}")
        finished = not self.pending_batch_items(batch_key, 1)
        record = counted(record, len(done), len(failed), now, finished)
        self.update_batch_operation(record)
        return record

    def failed_batch_items(self, batch_key: int, limit: int = 1000) -> list[tuple[int, str]]:
        """The failed instances and why, by instance key."""
        self._check_open()
        return [(key, reason or "") for key, reason in self._items(batch_key, "failed")[:limit]]


def _stored(record: BatchOperationRecord) -> BatchOperationRecord:
    return replace(
        record,
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        ended_at=None if record.ended_at is None else utc(record.ended_at),
    )
