"""Each instance's history of events, and the event log read from it.

The ports (:class:`History` and :class:`EventLogReads`, both part of
:class:`~legato.store.ports.Transaction`) and their two adapters side by side: :mod:`.sql`
and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from legato.store.records import HistoryChunk, HistoryRecord, InstanceRecord


class History(Protocol):
    """Each instance's history of events."""

    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""

    def append_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        """Append events, already grouped into the chunks they are stored as (one row each),
        as the executor records them."""

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""

    def rewrite_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        """Replace the events of stored chunks (as :meth:`~EventLogReads.history_chunks`
        read them: same instance, first position and count) with new payloads: only the key
        rotation does, to encrypt them again with a new key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventLogQuery:
    """Which instances an event log takes (every filter given must hold).

    Time bounds are inclusive below, exclusive above; an end bound leaves out the instances
    that have not ended.
    """

    process_id: str | None = None
    versions: tuple[int, ...] | None = None
    """Versions of the process (any of them)."""
    statuses: tuple[str, ...] | None = None
    """Stored statuses (any of them): ``active`` (suspended ones too), ``completed``,
    ``terminated``."""
    instance_keys: tuple[int, ...] | None = None
    """Only these instances."""
    started_from: datetime | None = None
    started_before: datetime | None = None
    ended_from: datetime | None = None
    ended_before: datetime | None = None


class EventLogReads(Protocol):
    """Reads of whole histories in key order, a page at a time, for event logs (process
    mining exports): no call holds more than a page, however large the log."""

    def event_log_instances(
        self, query: EventLogQuery, *, after: int | None, limit: int
    ) -> list[InstanceRecord]:
        """Up to ``limit`` instances that ``query`` selects, by key ascending, with keys
        above ``after`` (from the first when None); the records carry an empty ``state``."""

    def history_chunks(
        self, instance_keys: Sequence[int], *, after: tuple[int, int] | None, limit: int
    ) -> list[HistoryChunk]:
        """The stored history of these instances (at most a few hundred keys) in (instance
        key, position) order: up to ``limit`` chunks, starting after the event at (instance
        key, position) ``after`` (the last event of the previous page), or at the first.

        A chunk is what the store keeps as one row: a command's events for one instance
        (the in-memory store keeps each event on its own).
        """
