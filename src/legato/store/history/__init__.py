"""Each instance's history of events.

The port (:class:`History`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from legato.store.records import HistoryChunk, HistoryRecord


class History(Protocol):
    """Each instance's history of events."""

    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""

    def append_history_chunks(self, chunks: Sequence[HistoryChunk]) -> None:
        """Append events, already grouped into the chunks they are stored as (one row each),
        as the executor records them."""

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""
