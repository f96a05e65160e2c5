"""Timers, claimed by a node when due.

The port (:class:`Timers`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from legato.store.records import TimerRecord


class Timers(Protocol):
    """Timers, claimed by a node when due."""

    def insert_timers(self, records: Sequence[TimerRecord]) -> None:
        """Store new timers."""

    def delete_timers(self, timer_keys: Sequence[int]) -> None:
        """Remove fired or cancelled timers (unknown keys are ignored)."""

    def claim_due_timers(
        self, now: datetime, max_timers: int, lease_until: datetime
    ) -> list[TimerRecord]:
        """Hand out up to ``max_timers`` timers due by ``now``, earliest first.

        Due: ``scheduled`` with ``due_at <= now``, or ``claimed`` with a lease that ran out
        (its node is presumed dead). They are marked ``claimed`` until ``lease_until``.
        """

    def next_timer_due_at(self) -> datetime | None:
        """When the next timer becomes due (counting expiring claims)."""

    def list_timers(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[TimerRecord]:
        """Timers by due time (those of an instance, or of a process definition's starts)."""
