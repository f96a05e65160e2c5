"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.audit.AuditLog`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.store._sql_base import SqlTransactionBase
from legato.store.audit import AuditCheckpoint, AuditQuery, AuditRecord
from legato.store.postgres import lock_id
from legato.store.schema import audit_checkpoints, audit_log

_AUDIT_LOCK = "audit-tail"
"""The advisory lock (PostgreSQL) that serialises the writers of the audit trail."""


def _record(row: sa.RowMapping) -> AuditRecord:
    return AuditRecord(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        actor_kind=row["actor_kind"],
        source_address=row["source_address"],
        user_agent=row["user_agent"],
        action=row["action"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        outcome=row["outcome"],
        details=row["details"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _conditions(query: AuditQuery) -> list[sa.ColumnElement[bool]]:
    c = audit_log.c
    found: list[sa.ColumnElement[bool]] = []
    if query.actor is not None:
        found.append(c.actor == query.actor)
    if query.action is not None:
        if query.action.endswith("."):
            found.append(c.action.startswith(query.action, autoescape=True))
        else:
            found.append(c.action == query.action)
    if query.resource_type is not None:
        found.append(c.resource_type == query.resource_type)
    if query.resource_id is not None:
        found.append(c.resource_id == query.resource_id)
    if query.since is not None:
        found.append(c.at >= query.since)
    if query.until is not None:
        found.append(c.at < query.until)
    if query.after_seq is not None:
        found.append(c.seq > query.after_seq)
    if query.before_seq is not None:
        found.append(c.seq < query.before_seq)
    return found


class SqlAuditLog(SqlTransactionBase):
    """The audit part of a SQL transaction."""

    def lock_audit_tail(self) -> tuple[int, str] | None:
        """The last record, read under the writers' lock.

        SQLite: ``BEGIN IMMEDIATE`` holds the database's write lock already. PostgreSQL: a
        transaction-level advisory lock, taken before the read; ``SELECT … FOR UPDATE`` on
        the last row would not do, as a waiting writer would then see that same row again
        (not the one committed meanwhile) and take its number too. After the lock, the read
        is a new statement, which in READ COMMITTED sees the other writer's commit.
        """
        if self._sql.name == "postgresql":
            key = lock_id(_AUDIT_LOCK, self._wake_channel or "")
            self._execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        query = sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc())
        row = self._execute(query.limit(1)).first()
        return None if row is None else (int(row.seq), str(row.hash))

    def insert_audit_record(self, record: AuditRecord) -> None:
        """Append a record (a taken sequence number is a :class:`ConflictError`)."""
        values: dict[str, Any] = {
            column.name: getattr(record, column.name) for column in audit_log.c
        }
        self._execute(sa.insert(audit_log).values(**values))

    def list_audit_records(self, query: AuditQuery) -> list[AuditRecord]:
        """The matching records by sequence number."""
        order = audit_log.c.seq.desc() if query.newest_first else audit_log.c.seq
        statement = sa.select(audit_log).where(*_conditions(query)).order_by(order)
        return [_record(row._mapping) for row in self._execute(statement.limit(query.limit))]

    def first_audit_seq(self) -> int | None:
        """The lowest sequence number kept."""
        value = self._execute(sa.select(sa.func.min(audit_log.c.seq))).scalar()
        return None if value is None else int(value)

    def last_audit_seq_before(self, at: datetime) -> int | None:
        """The highest sequence number of a record older than ``at``."""
        query = sa.select(sa.func.max(audit_log.c.seq)).where(audit_log.c.at < at)
        value = self._execute(query).scalar()
        return None if value is None else int(value)

    def delete_audit_records(self, through_seq: int) -> int:
        """Delete the records up to ``through_seq``."""
        statement = sa.delete(audit_log).where(audit_log.c.seq <= through_seq)
        return len(self._execute(statement.returning(audit_log.c.seq)).all())

    def insert_audit_checkpoint(self, checkpoint: AuditCheckpoint) -> None:
        """Store a checkpoint (replacing one at the same sequence number)."""
        statement = self._sql.insert(audit_checkpoints).values(
            seq=checkpoint.seq,
            hash=checkpoint.hash,
            signature=checkpoint.signature,
            at=checkpoint.at,
        )
        excluded = statement.excluded
        self._execute(
            statement.on_conflict_do_update(
                index_elements=["seq"],
                set_={"hash": excluded.hash, "signature": excluded.signature, "at": excluded.at},
            )
        )

    def list_audit_checkpoints(self) -> list[AuditCheckpoint]:
        """Every checkpoint, by sequence number."""
        query = sa.select(audit_checkpoints).order_by(audit_checkpoints.c.seq)
        return [
            AuditCheckpoint(seq=r.seq, hash=r.hash, signature=r.signature, at=r.at)
            for r in self._execute(query)
        ]

    def delete_audit_checkpoints(self, before_seq: int) -> None:
        """Delete the checkpoints of records before ``before_seq``."""
        self._execute(sa.delete(audit_checkpoints).where(audit_checkpoints.c.seq < before_seq))
