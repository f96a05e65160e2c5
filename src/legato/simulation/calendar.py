"""Working calendars: the days and hours a resource pool works (or arrivals come), in a time
zone, e.g. Monday to Friday, 09:00 to 17:00, Europe/Berlin.

Work that does not fit before closing time goes on at the next opening: a task of two hours
started at 16:00 on a Friday ends at 10:00 on Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Open on ``days`` (0 = Monday) from ``opens`` to ``closes`` local time in ``zone``."""

    days: frozenset[int]
    opens: time
    closes: time
    zone: ZoneInfo

    def _window(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The open window of the local day of ``moment``, if that day is a working day."""
        local = moment.astimezone(self.zone)
        if local.weekday() not in self.days:
            return None
        day = local.date()
        start = datetime.combine(day, self.opens, self.zone)
        end = datetime.combine(day, self.closes, self.zone)
        return start, end

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if the calendar is open then, else the next opening."""
        probe = moment
        for _ in range(15):
            window = self._window(probe)
            if window is not None:
                start, end = window
                if moment < end:
                    return max(moment, start)
            local = probe.astimezone(self.zone)
            probe = datetime.combine(local.date() + timedelta(days=1), time(0), self.zone)
        raise ValueError("the calendar is never open")

    def add_work(self, start: datetime, seconds: float) -> datetime:
        """When ``seconds`` of work started at ``start`` end (work pauses while closed)."""
        moment = self.next_open(start)
        left = seconds
        while True:
            window = self._window(moment)
            assert window is not None
            room = (window[1] - moment).total_seconds()
            if left <= room:
                return moment + timedelta(seconds=left)
            left -= room
            moment = self.next_open(window[1])

    def open_seconds(self, start: datetime, end: datetime) -> float:
        """How many seconds between ``start`` and ``end`` the calendar is open."""
        total = 0.0
        moment = start
        while moment < end:
            moment = self.next_open(moment)
            if moment >= end:
                break
            window = self._window(moment)
            assert window is not None
            stop = min(window[1], end)
            total += (stop - moment).total_seconds()
            moment = window[1]
        return total

    def is_open(self, moment: datetime) -> bool:
        """Whether the calendar is open at ``moment``."""
        return self.next_open(moment) == moment
