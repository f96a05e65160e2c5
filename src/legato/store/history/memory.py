"""The in-memory adapter of :class:`~legato.store.history.History` and
:class:`~legato.store.history.EventLogReads`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC

from legato.errors import StoreError
from legato.store._memory_base import MemoryTransactionBase, _json_copy
from legato.store._rules import dump_json, utc
from legato.store.history import EventLogQuery
from legato.store.records import HistoryChunk, HistoryRecord, InstanceRecord


class MemoryHistory(MemoryTransactionBase):
    """The history part of an in-memory transaction."""

    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""
        self._check_open()
        staged: dict[tuple[int, int], tuple[HistoryRecord, str]] = {}
        for record in records:
            ident = (record.instance_key, record.position)
            if ident in staged or self._history.get(ident) is not None:
                raise StoreError(
                    f"instance {record.instance_key} already has an event at {record.position}"
                )
            self._require_instance(record.instance_key)
            # Only the JSON text is read back, so the record itself needs no copy.
            if record.at.tzinfo is not UTC:
                record = replace(record, at=utc(record.at))
            staged[ident] = (record, dump_json(record.payload))
        # All checks passed: a failing batch leaves nothing behind, like one SQL statement.
        for ident, stored in staged.items():
            self._history.put(ident, stored)
            self._new_positions.setdefault(ident[0], []).append(ident[1])

    def append_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        """Append events grouped into chunks (kept here as the records they hold)."""
        self.append_history([record for chunk in chunks for record in chunk.records()])

    def rewrite_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        """Replace the events of stored chunks (same instance, position and count)."""
        self._check_open()
        for chunk in chunks:
            for record in chunk.records():
                ident = (record.instance_key, record.position)
                stored = self._history.get(ident)
                if stored is None:
                    raise StoreError(
                        f"instance {record.instance_key} has no event at {record.position}"
                    )
                self._history.put(ident, (stored[0], dump_json(record.payload)))

    def _positions(self, instance_key: int) -> list[int]:
        return sorted(
            [
                *self._tables.history_positions.get(instance_key, ()),
                *self._new_positions.get(instance_key, ()),
            ]
        )

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""
        self._check_open()
        events = []
        for position in self._positions(instance_key):
            stored = self._history.get((instance_key, position))
            if stored is not None:
                events.append(replace(stored[0], payload=_json_copy(stored[1])))
        return events


def _selected(record: InstanceRecord, query: EventLogQuery) -> bool:
    """Whether ``query`` selects the instance (mirrors the SQL conditions)."""
    for value, wanted in (
        (record.process_id, None if query.process_id is None else (query.process_id,)),
        (record.version, query.versions),
        (record.status, query.statuses),
        (record.instance_key, query.instance_keys),
    ):
        if wanted is not None and value not in wanted:
            return False
    for at, low, high in (
        (record.started_at, query.started_from, query.started_before),
        (record.ended_at, query.ended_from, query.ended_before),
    ):
        if (low is not None or high is not None) and at is None:
            return False
        if low is not None and at is not None and at < low:
            return False
        if high is not None and at is not None and at >= high:
            return False
    return True


class MemoryEventLogReads(MemoryHistory):
    """The event log part of an in-memory transaction."""

    def event_log_instances(
        self, query: EventLogQuery, *, after: int | None, limit: int
    ) -> list[InstanceRecord]:
        """Up to ``limit`` selected instances by key ascending, keys above ``after``."""
        self._check_open()
        found = [
            record
            for record, _ in self._instances.values()
            if (after is None or record.instance_key > after) and _selected(record, query)
        ]
        found.sort(key=lambda record: record.instance_key)
        return found[:limit]

    def history_chunks(
        self, instance_keys: Sequence[int], *, after: tuple[int, int] | None, limit: int
    ) -> list[HistoryChunk]:
        """Up to ``limit`` events of these instances after (key, position) ``after``, each
        as a chunk of its own (as this store keeps them)."""
        self._check_open()
        chunks: list[HistoryChunk] = []
        for key in sorted(set(instance_keys)):
            if after is not None and key < after[0]:
                continue
            for position in self._positions(key):
                if after is not None and key == after[0] and position <= after[1]:
                    continue
                stored = self._history.get((key, position))
                if stored is None:
                    continue
                record = stored[0]
                event = [record.event_type, record.element_id, _json_copy(stored[1])]
                chunks.append(HistoryChunk(key, position, record.at, [event]))
                if len(chunks) >= limit:
                    return chunks
        return chunks
