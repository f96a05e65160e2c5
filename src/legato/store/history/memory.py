"""The in-memory adapter of :class:`~legato.store.history.History`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC

from legato.errors import StoreError
from legato.store._memory_base import MemoryTransactionBase, _json_copy
from legato.store._rules import dump_json, utc
from legato.store.records import HistoryRecord


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

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""
        self._check_open()
        positions = [
            *self._tables.history_positions.get(instance_key, ()),
            *self._new_positions.get(instance_key, ()),
        ]
        events = []
        for position in sorted(positions):
            stored = self._history.get((instance_key, position))
            if stored is not None:
                events.append(replace(stored[0], payload=_json_copy(stored[1])))
        return events
