"""The audit trail's rows: records chained by hash and signed checkpoints.

The port (:class:`AuditLog`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`. The hashing, signing and verifying
are :mod:`legato.security.audit`'s; the store only keeps the rows in sequence order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of ``audit_log``."""

    seq: int
    """The position in the trail: 1, 2, 3, ... without gaps."""
    at: datetime
    actor: str
    """A user name, ``key:<id>`` for an API key, or ``system``."""
    actor_kind: str
    """``user``, ``key``, ``token``, ``system`` or ``anonymous`` (a failed sign-in)."""
    source_address: str | None
    user_agent: str | None
    action: str
    """A dotted name: ``instance.cancel``, ``auth.sign_in_failed``, ..."""
    resource_type: str | None
    resource_id: str | None
    outcome: str
    """``allowed`` or ``denied``."""
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    """The hash of the record before (or of the trail's start)."""
    hash: str = ""


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """One row of ``audit_checkpoints``: record ``seq``'s hash, signed."""

    seq: int
    hash: str
    signature: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which audit records to list (every given filter must match)."""

    actor: str | None = None
    action: str | None = None
    """An exact action, or a prefix ending in ``.`` (``instance.``)."""
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    """At or after."""
    until: datetime | None = None
    """Before."""
    after_seq: int | None = None
    """Only records after this one (oldest first)."""
    before_seq: int | None = None
    """Only records before this one."""
    newest_first: bool = False
    limit: int = 100


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
