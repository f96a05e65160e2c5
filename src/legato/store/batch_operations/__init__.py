"""Batch operations: an operator's long-running batch over many instances, and its items.

The port (:class:`BatchOperations`, part of :class:`~legato.store.ports.Transaction`) and its
two adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from legato.store.records import BatchOperationRecord


class BatchOperations(Protocol):
    """Batch operations and the state of each of their instances."""

    def insert_batch_operation(self, record: BatchOperationRecord) -> None:
        """Store a new batch operation (its items follow with :meth:`add_batch_items`)."""

    def add_batch_items(self, batch_key: int, instance_keys: Sequence[int]) -> None:
        """Add instances to a batch operation, pending."""

    def get_batch_operation(self, batch_key: int) -> BatchOperationRecord | None:
        """One batch operation, with its progress."""

    def list_batch_operations(
        self, limit: int = 100, status: str | None = None
    ) -> list[BatchOperationRecord]:
        """The newest batch operations first (only those in ``status``, when given)."""

    def update_batch_operation(self, record: BatchOperationRecord) -> None:
        """Save a batch operation's status and progress."""

    def pending_batch_items(self, batch_key: int, limit: int) -> list[int]:
        """Instance keys still pending in a batch, lowest first."""

    def finish_batch_items(
        self,
        batch_key: int,
        done: Sequence[int],
        failed: Mapping[int, str],
        now: datetime,
    ) -> BatchOperationRecord:
        """Mark items done or failed (with the reason), count them on the operation (which
        completes when nothing is pending) and return it as it is now."""

    def failed_batch_items(self, batch_key: int, limit: int = 1000) -> list[tuple[int, str]]:
        """The failed instances of a batch with the reason of each, by instance key."""


def counted(
    record: BatchOperationRecord, done: int, failed: int, now: datetime, finished: bool
) -> BatchOperationRecord:
    """``record`` with ``done`` and ``failed`` more items counted; completed when it was
    running and nothing is pending any more (``finished``)."""
    record = replace(record, done=record.done + done, failed=record.failed + failed, updated_at=now)
    if record.status == "running" and finished:
        record = replace(record, status="completed", ended_at=now)
    return record
