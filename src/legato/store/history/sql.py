"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.history.History`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._rules import dump_json
from legato.store._sql_base import SqlTransactionBase, _bp, _insert
from legato.store.records import HistoryChunk, HistoryRecord
from legato.store.schema import history

_INSERT_HISTORY = _insert(history)

_HISTORY_ORDER = ("instance_key", "position", "event_count", "at", "events")
"""The column order of the history chunk rows that ``append_history`` builds itself (SQLite's
positional ``_INSERT_HISTORY`` and PostgreSQL's ``COPY``)."""

_HISTORY = _insert(history)

_HISTORY_ORDER = ("instance_key", "position", "event_count", "at", "events")
"""The column order of the history chunk rows that ``append_history`` builds itself (SQLite's
positional ``_INSERT_HISTORY`` and PostgreSQL's ``COPY``)."""

_COPY_HISTORY = f"COPY history ({', '.join(_HISTORY_ORDER)}) FROM STDIN"

_HISTORY = Prepared(
    sa.select(history).where(history.c.instance_key == _bp("key")).order_by(history.c.position)
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

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order (its chunks expanded into events)."""
        return [
            record
            for row in self._fetch(_HISTORY, {"key": instance_key})
            for record in rows.history_records(row)
        ]
