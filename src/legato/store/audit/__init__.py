"""The audit trail's rows: records chained by hash and signed checkpoints.

The port (:class:`AuditLog`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`. The hashing, signing and verifying
are :mod:`legato.security.audit`'s; the store only keeps the rows in sequence order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from legato.store.records import AuditCheckpoint, AuditQuery, AuditRecord

__all__ = ["AuditCheckpoint", "AuditLog", "AuditQuery", "AuditRecord"]


class AuditLog(Protocol):
    """The audit trail's records and checkpoints."""

    def lock_audit_tail(self) -> tuple[int, str] | None:
        """The last record's ``(seq, hash)`` (None for an empty trail), read under a lock
        held until the transaction ends: of two writers, the second waits for the first's
        commit and then sees its record, so sequence numbers never repeat or skip."""

    def insert_audit_record(self, record: AuditRecord) -> None:
        """Append a record (its ``seq`` follows the tail read by :meth:`lock_audit_tail`).

        Raises:
            ConflictError: if the sequence number is taken.
        """

    def list_audit_records(self, query: AuditQuery) -> list[AuditRecord]:
        """The records that match, by sequence (newest first if asked), at most ``limit``."""

    def first_audit_seq(self) -> int | None:
        """The lowest sequence number kept (None for an empty trail)."""

    def last_audit_seq_before(self, at: datetime) -> int | None:
        """The highest sequence number of a record older than ``at``."""

    def delete_audit_records(self, through_seq: int) -> int:
        """Delete the records up to and including ``through_seq``; how many went."""

    def insert_audit_checkpoint(self, checkpoint: AuditCheckpoint) -> None:
        """Store a checkpoint (replacing one at the same sequence number)."""

    def list_audit_checkpoints(self) -> list[AuditCheckpoint]:
        """Every checkpoint, by sequence number."""

    def delete_audit_checkpoints(self, before_seq: int) -> None:
        """Delete the checkpoints of records before ``before_seq``."""
