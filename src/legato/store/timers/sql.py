"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.timers.Timers`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._rules import utc
from legato.store._sql_base import SqlTransactionBase, _bp, _insert, listing_query
from legato.store.records import TimerRecord

if TYPE_CHECKING:
    from legato.store._sql_base import SqlDialect
from legato.store.schema import timers

_INSERT_TIMER = _insert(timers)

# Batches of single-key deletes (executemany): each is a primary-key probe on a statement
# prepared once, cheaper than building and compiling IN lists of varying length.
_DELETE_TIMER = Prepared(sa.delete(timers).where(timers.c.timer_key == _bp("key")))

_CLAIM_TIMER = Prepared(
    sa.update(timers)
    .where(timers.c.timer_key == _bp("key"))
    .values(state="claimed", lease_until=_bp("lease_until"), available_at=_bp("lease_until"))
)

# An ordered ix_timers_due scan that stops at the first row.
_NEXT_TIMER_DUE = Prepared(
    sa.select(timers.c.available_at)
    .where(timers.c.available_at.is_not(None))
    .order_by(timers.c.available_at)
    .limit(1)
)


@functools.cache
def due_timers_query(dialect: SqlDialect) -> Prepared:
    """The timers to claim, earliest available first (``ix_timers_due`` in order).

    The same reasoning as :func:`~legato.store.jobs.sql.due_jobs_statement`: SQLite's write
    lock, taken at BEGIN, keeps other writers out between this SELECT and the UPDATE that
    claims the rows; PostgreSQL gets ``FOR UPDATE SKIP LOCKED`` so that nodes claim disjoint
    timers without waiting.
    """
    query = (
        sa.select(timers)
        .where(timers.c.available_at <= _bp("now"))
        .order_by(timers.c.available_at, timers.c.timer_key)
        .limit(_bp("max_timers", type_=sa.Integer))
    )
    return Prepared(dialect.skip_locked(query))


class SqlTimers(SqlTransactionBase):
    """The timers part of a SQL transaction."""

    def insert_timers(self, records: Sequence[TimerRecord]) -> None:
        """Store new timers (one ``executemany``)."""
        if records:
            self._run_many(_INSERT_TIMER, [rows.timer_params(r) for r in records])
            self._wake_nodes()

    def delete_timers(self, timer_keys: Sequence[int]) -> None:
        """Remove fired or cancelled timers (unknown keys are ignored)."""
        if timer_keys:
            self._run_many(_DELETE_TIMER, [{"key": key} for key in timer_keys])

    def claim_due_timers(
        self, now: datetime, max_timers: int, lease_until: datetime
    ) -> list[TimerRecord]:
        """Claim up to ``max_timers`` due timers (or expired claims) until ``lease_until``.

        Earliest available first, ties by key.
        """
        now, lease_until = utc(now), utc(lease_until)
        if max_timers < 1:
            return []
        query = due_timers_query(self._sql)
        found = self._fetch(query, {"now": now, "max_timers": max_timers})
        claimed = [rows.timer_record(row, claimed_until=lease_until) for row in found]
        if claimed:
            claim = [{"key": t.timer_key, "lease_until": lease_until} for t in claimed]
            self._run_many(_CLAIM_TIMER, claim)
        return claimed

    def next_timer_due_at(self) -> datetime | None:
        """When the next timer becomes due (counting expiring claims)."""
        found = self._fetch(_NEXT_TIMER_DUE, {})
        return found[0].available_at if found else None

    def list_timers(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[TimerRecord]:
        """Timers by due time, then key.

        With ``instance_key``, that instance's timers (of ``definition_key`` if also given);
        with only ``definition_key``, the timer start events of that definition; with
        neither, every timer.
        """
        query = listing_query(timers, instance_key is not None, definition_key is not None)
        parameters = {"instance_key": instance_key, "definition_key": definition_key}
        return [rows.timer_record(row) for row in self._fetch(query, parameters)]
