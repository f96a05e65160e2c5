"""Each instance's history of events.

The port (:class:`History`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from legato.store.records import HistoryRecord


class History(Protocol):
    """Each instance's history of events."""

    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""
