"""The in-memory adapter of :class:`~legato.store.audit.AuditLog`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from legato.errors import ConflictError
from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import dump_json, load_json, utc
from legato.store.audit import AuditCheckpoint, AuditQuery, AuditRecord


def _matches(record: AuditRecord, query: AuditQuery) -> bool:
    action = query.action
    checks = (
        query.actor is None or record.actor == query.actor,
        action is None
        or (record.action.startswith(action) if action.endswith(".") else record.action == action),
        query.resource_type is None or record.resource_type == query.resource_type,
        query.resource_id is None or record.resource_id == query.resource_id,
        query.since is None or record.at >= query.since,
        query.until is None or record.at < query.until,
        query.after_seq is None or record.seq > query.after_seq,
        query.before_seq is None or record.seq < query.before_seq,
    )
    return all(checks)


class MemoryAuditLog(MemoryTransactionBase):
    """The audit part of an in-memory transaction (one transaction runs at a time, which is
    the lock :meth:`lock_audit_tail` promises)."""

    def lock_audit_tail(self) -> tuple[int, str] | None:
        """The last record's sequence number and hash."""
        self._check_open()
        overlay = self._audit_log
        added = [r for r in overlay.changes.values() if r is not None]
        if added:
            last = max(added, key=lambda r: r.seq)
            return last.seq, last.hash
        if overlay.base:
            # Records are appended in sequence order, and a dict keeps its insertion order:
            # the last committed key is the tail (unless this transaction deleted it).
            newest = overlay.get(next(reversed(overlay.base)))
            if newest is not None:
                return newest.seq, newest.hash
        found = max(overlay.values(), key=lambda r: r.seq, default=None)
        return None if found is None else (found.seq, found.hash)

    def insert_audit_record(self, record: AuditRecord) -> None:
        """Append a record (a taken sequence number is a :class:`ConflictError`)."""
        self._check_open()
        if self._audit_log.get(record.seq) is not None:
            raise ConflictError(f"concurrent change: audit record {record.seq} exists")
        details = load_json(dump_json(record.details))  # the JSON round trip of the column
        self._audit_log.put(record.seq, replace(record, at=utc(record.at), details=details))

    def list_audit_records(self, query: AuditQuery) -> list[AuditRecord]:
        """The matching records by sequence number."""
        self._check_open()
        found = [r for r in self._audit_log.values() if _matches(r, query)]
        found.sort(key=lambda r: r.seq, reverse=query.newest_first)
        return found[: query.limit]

    def first_audit_seq(self) -> int | None:
        """The lowest sequence number kept."""
        self._check_open()
        return min((r.seq for r in self._audit_log.values()), default=None)

    def last_audit_seq_before(self, at: datetime) -> int | None:
        """The highest sequence number of a record older than ``at``."""
        self._check_open()
        return max((r.seq for r in self._audit_log.values() if r.at < at), default=None)

    def delete_audit_records(self, through_seq: int) -> int:
        """Delete the records up to ``through_seq``."""
        self._check_open()
        gone = [r.seq for r in self._audit_log.values() if r.seq <= through_seq]
        for seq in gone:
            self._audit_log.delete(seq)
        return len(gone)

    def insert_audit_checkpoint(self, checkpoint: AuditCheckpoint) -> None:
        """Store a checkpoint (replacing one at the same sequence number)."""
        self._check_open()
        self._audit_checkpoints.put(checkpoint.seq, replace(checkpoint, at=utc(checkpoint.at)))

    def list_audit_checkpoints(self) -> list[AuditCheckpoint]:
        """Every checkpoint, by sequence number."""
        self._check_open()
        return _ordered(self._audit_checkpoints.values(), lambda c: c.seq)

    def delete_audit_checkpoints(self, before_seq: int) -> None:
        """Delete the checkpoints of records before ``before_seq``."""
        self._check_open()
        for checkpoint in list(self._audit_checkpoints.values()):
            if checkpoint.seq < before_seq:
                self._audit_checkpoints.delete(checkpoint.seq)
