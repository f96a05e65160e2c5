"""The in-memory adapter of :class:`~legato.store.timers.Timers`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from legato.errors import StoreError
from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import timer_available_at, utc, utc_or_none
from legato.store.records import TimerRecord


class MemoryTimers(MemoryTransactionBase):
    """The timers part of an in-memory transaction."""

    def insert_timers(self, records: Sequence[TimerRecord]) -> None:
        """Store new timers."""
        self._check_open()
        staged: dict[int, TimerRecord] = {}
        for record in records:
            if record.timer_key in staged or self._timers.get(record.timer_key) is not None:
                raise StoreError(f"timer {record.timer_key} already exists")
            self._require_owner(record.definition_key, record.instance_key)
            staged[record.timer_key] = replace(
                record, due_at=utc(record.due_at), lease_until=utc_or_none(record.lease_until)
            )
        for timer_key, timer in staged.items():
            self._put_timer(timer_key, timer)

    def _put_timer(self, timer_key: int, timer: TimerRecord) -> None:
        self._timers.put(timer_key, timer)
        available = timer_available_at(timer)
        if available is not None:
            self._timer_agenda.push(available, timer_key)

    def _timer_is_current(self, entry: tuple[datetime, int]) -> bool:
        timer = self._timers.get(entry[1])
        return timer is not None and timer_available_at(timer) == entry[0]

    def delete_timers(self, timer_keys: Sequence[int]) -> None:
        """Remove fired or cancelled timers (unknown keys are ignored)."""
        self._check_open()
        for timer_key in timer_keys:
            if self._timers.get(timer_key) is not None:
                self._timers.delete(timer_key)

    def claim_due_timers(
        self, now: datetime, max_timers: int, lease_until: datetime
    ) -> list[TimerRecord]:
        """Claim up to ``max_timers`` due timers (or expired claims) until ``lease_until``.

        Earliest available first, ties by key.
        """
        self._check_open()
        now, lease_until = utc(now), utc(lease_until)
        if max_timers < 1:
            return []
        claimed = []
        for timer_key in self._timer_agenda.pop_due(now, max_timers, self._timer_is_current):
            timer = self._timers.get(timer_key)
            assert timer is not None  # the agenda only yields current timers
            timer = replace(timer, state="claimed", lease_until=lease_until)
            self._put_timer(timer_key, timer)
            claimed.append(timer)
        return claimed

    def next_timer_due_at(self) -> datetime | None:
        """When the next timer becomes due (counting expiring claims)."""
        self._check_open()
        return self._timer_agenda.first(self._timer_is_current)

    def list_timers(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[TimerRecord]:
        """Timers by due time, then key.

        With ``instance_key``, that instance's timers (of ``definition_key`` if also given);
        with only ``definition_key``, the timer start events of that definition; with
        neither, every timer.
        """
        self._check_open()
        found: Iterable[TimerRecord]
        if instance_key is not None:
            found = [
                timer
                for timer in self._timers.lookup(("instance", instance_key))
                if definition_key is None or timer.definition_key == definition_key
            ]
        elif definition_key is not None:
            found = self._timers.lookup(("start", definition_key))
        else:
            found = self._timers.values()
        return _ordered(found, lambda t: (t.due_at, t.timer_key))
