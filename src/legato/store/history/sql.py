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
from legato.store.records import HistoryRecord
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


def _history_chunks(records: Sequence[HistoryRecord]) -> Iterator[tuple[HistoryRecord, list[Any]]]:
    """The history chunks of ``records``: each chunk's first record and its events.

    Consecutive events of one instance at one instant, with consecutive positions, make one
    chunk (a command's events for one instance); anything else starts a new chunk, so any
    sequence of records is stored faithfully. An event is ``[event_type, element_id,
    payload]``.
    """
    events: list[Any] = []
    first: HistoryRecord | None = None
    following = 0
    for record in records:
        if (
            first is None
            or record.position != following
            or record.instance_key != first.instance_key
            or record.at != first.at
        ):
            if first is not None:
                yield first, events
            first, events = record, []
        events.append([record.event_type, record.element_id, record.payload])
        following = record.position + 1
    if first is not None:
        yield first, events


def _history_rows(
    records: Sequence[HistoryRecord], at: Callable[[datetime], Any]
) -> Iterator[tuple[Any, ...]]:
    """History chunk rows in :data:`_HISTORY_ORDER`, the instant converted by ``at``."""
    for first, events in _history_chunks(records):
        yield first.instance_key, first.position, len(events), at(first.at), dump_json(events)


def _same(value: datetime) -> datetime:
    return value


class SqlHistory(SqlTransactionBase):
    """The history part of a SQL transaction."""

    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance): one
        row per chunk (see :meth:`~legato.store.dialects.SqlDialect.append_history`)."""
        if not records:
            return
        self._check_open()
        self._sql.append_history(self, records, self._append_history_each)

    def _append_history_each(self, records: Sequence[HistoryRecord]) -> None:
        """executemany: one prepared statement stepped once per chunk."""
        chunks = [rows.history_params(first, events) for first, events in _history_chunks(records)]
        self._run_many(_INSERT_HISTORY, chunks)

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order (its chunks expanded into events)."""
        return [
            record
            for row in self._fetch(_HISTORY, {"key": instance_key})
            for record in rows.history_records(row)
        ]
