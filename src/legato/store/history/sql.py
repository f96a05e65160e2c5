"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.history.History` and
:class:`~legato.store.history.EventLogReads`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.errors import StoreError
from legato.store import _sqlrows as rows
from legato.store._cockpit_sql import INSTANCE_SUMMARY
from legato.store._prepared import Prepared
from legato.store._rules import dump_json, iter_chunks
from legato.store._sql_base import _IN_CHUNK, SqlTransactionBase, _bp, _in_list, _insert
from legato.store.history import EventLogQuery
from legato.store.records import HistoryChunk, HistoryRecord, InstanceRecord
from legato.store.schema import history, instances

_INSERT_HISTORY = _insert(history)

_HISTORY_ORDER = ("instance_key", "position", "event_count", "at", "events")
"""The column order of the history chunk rows that ``append_history`` builds itself (SQLite's
positional ``_INSERT_HISTORY`` and PostgreSQL's ``COPY``)."""

_COPY_HISTORY = f"COPY history ({', '.join(_HISTORY_ORDER)}) FROM STDIN"

_REWRITE_HISTORY = Prepared(
    sa.update(history).where(
        history.c.instance_key == _bp("b_instance_key"),
        history.c.position == _bp("b_position"),
        history.c.event_count == _bp("b_event_count"),
    ),
    ["events"],
)

_HISTORY = Prepared(
    sa.select(history).where(history.c.instance_key == _bp("key")).order_by(history.c.position)
)


@functools.lru_cache(maxsize=32)  # lists over _IN_CHUNK keys come as they are: sizes vary
def _history_page(size: int, after: bool) -> Prepared:
    """A page of the history rows of an IN list of ``size`` instance keys, in key and
    position order, after a (key, position) if ``after``: prepared once (an event-log export
    reads thousands of pages, and a statement built per page left garbage in reference
    cycles behind each time)."""
    c = history.c
    conditions = [_in_list(c.instance_key, size)]
    if after:
        conditions.append(
            sa.or_(c.instance_key != _bp("after_key"), c.position > _bp("after_position"))
        )
    return Prepared(
        sa.select(c.instance_key, c.position, c.at, c.events)
        .where(*conditions)
        .order_by(c.instance_key, c.position)
        .limit(_bp("limit", type_=sa.Integer()))
    )


def _history_chunks(records: Sequence[HistoryRecord]) -> list[HistoryChunk]:
    """The history chunks of ``records``.

    Consecutive events of one instance at one instant, with consecutive positions, make one
    chunk (a command's events for one instance); anything else starts a new chunk, so any
    sequence of records is stored faithfully.
    """
    chunks: list[HistoryChunk] = []
    chunk: HistoryChunk | None = None
    following = 0
    for record in records:
        if (
            chunk is None
            or record.position != following
            or record.instance_key != chunk.instance_key
            or record.at != chunk.at
        ):
            chunk = HistoryChunk(record.instance_key, record.position, record.at, [])
            chunks.append(chunk)
        chunk.events.append([record.event_type, record.element_id, record.payload])
        following = record.position + 1
    return chunks


def _history_rows(
    chunks: Sequence[HistoryChunk], at: Callable[[datetime], Any]
) -> Iterator[tuple[Any, ...]]:
    """History chunk rows in :data:`_HISTORY_ORDER`, the instant converted by ``at``."""
    for chunk in chunks:
        events = chunk.events
        yield chunk.instance_key, chunk.position, len(events), at(chunk.at), dump_json(events)


def _same(value: datetime) -> datetime:
    return value


class SqlHistory(SqlTransactionBase):
    """The history part of a SQL transaction."""

    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""
        self.append_history_chunks(_history_chunks(records))

    def append_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        """Append events grouped into chunks: one row each (see
        :meth:`~legato.store.dialects.SqlDialect.append_history`)."""
        if not chunks:
            return
        self._check_open()
        self._sql.append_history(self, chunks, self._append_history_each)

    def _append_history_each(self, chunks: Sequence[HistoryChunk]) -> None:
        """executemany: one prepared statement stepped once per chunk."""
        self._run_many(_INSERT_HISTORY, [rows.history_params(chunk) for chunk in chunks])

    def rewrite_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        """Replace the events of stored chunks (same instance, position and count)."""
        for chunk in chunks:
            parameters = {
                "b_instance_key": chunk.instance_key,
                "b_position": chunk.position,
                "b_event_count": len(chunk.events),
                "events": chunk.events,
            }
            if self._run(_REWRITE_HISTORY, parameters).rowcount != 1:
                raise StoreError(
                    f"instance {chunk.instance_key} has no history chunk of "
                    f"{len(chunk.events)} events at {chunk.position}"
                )

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order (its chunks expanded into events)."""
        return [
            record
            for row in self._fetch(_HISTORY, {"key": instance_key})
            for record in rows.history_records(row)
        ]


def _event_log_conditions(query: EventLogQuery) -> list[Any]:
    """The WHERE conditions of ``query`` on ``instances`` (its key list aside)."""
    columns = instances.c
    conditions: list[Any] = []
    if query.process_id is not None:
        conditions.append(columns.process_id == query.process_id)
    if query.versions is not None:
        conditions.append(columns.version.in_(list(query.versions)))
    if query.statuses is not None:
        conditions.append(columns.status.in_(list(query.statuses)))
    for column, low, high in (
        (columns.started_at, query.started_from, query.started_before),
        (columns.ended_at, query.ended_from, query.ended_before),
    ):
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column < high)
    return conditions


class SqlEventLogReads(SqlTransactionBase):
    """The event log part of a SQL transaction: pages by key, never a whole table."""

    def event_log_instances(
        self, query: EventLogQuery, *, after: int | None, limit: int
    ) -> list[InstanceRecord]:
        """Up to ``limit`` selected instances by key ascending, keys above ``after``.

        Without a key list the walk is the primary key's order, filtered: an export reads
        most of the instances it walks past, so no other index would spare it much.
        """
        conditions = _event_log_conditions(query)
        key = instances.c.instance_key
        select = sa.select(*INSTANCE_SUMMARY).order_by(key)
        if query.instance_keys is None:
            if after is not None:
                conditions.append(key > after)
            return self._instance_page(select.where(*conditions).limit(limit))
        wanted = sorted(k for k in set(query.instance_keys) if after is None or k > after)
        found: list[InstanceRecord] = []
        # Key lists go in IN lists of bounded length; unknown keys find nothing, so a page
        # may take several lists to fill.
        for chunk in iter_chunks(wanted, _IN_CHUNK):
            statement = select.where(*conditions, key.in_(list(chunk)))
            found += self._instance_page(statement.limit(limit - len(found)))
            if len(found) >= limit:
                break
        return found

    def _instance_page(self, statement: sa.Select[Any]) -> list[InstanceRecord]:
        return [rows.instance_record(row, with_state=False) for row in self._execute(statement)]

    def history_chunks(
        self, instance_keys: Sequence[int], *, after: tuple[int, int] | None, limit: int
    ) -> list[HistoryChunk]:
        """Up to ``limit`` history rows of these instances after (key, position) ``after``."""
        keys = sorted(set(instance_keys))
        if after is not None:
            # The keys before the page's instance are done; within it, the primary key's
            # range after the last event read (a chunk starts after its predecessor ends).
            keys = [k for k in keys if k >= after[0]]
        if not keys:
            return []
        size, parameters = self._sql.value_list(keys)
        parameters["limit"] = limit
        if after is not None:
            parameters["after_key"], parameters["after_position"] = after
        rows = self._fetch(_history_page(size, after is not None), parameters)
        return [HistoryChunk(row.instance_key, row.position, row.at, row.events) for row in rows]
