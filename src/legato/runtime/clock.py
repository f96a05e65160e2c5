"""Clocks: the system clock for production, a virtual clock for tests and simulation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the engine gets the time from."""

    def now(self) -> datetime:
        """The current time, aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait (a virtual clock moves forward instead)."""


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Time that moves only when told to: a three-day timer is tested in milliseconds.

    Args:
        start: the initial time (default: 2025-01-01 00:00 UTC).
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2025, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("the virtual clock needs an aware datetime")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta``; return the new time."""
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        with self._lock:
            self._now += delta
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(timedelta(seconds=seconds))


class DatabaseClock:
    """The database server's time, for engine nodes on several machines.

    Leases and due times written by one node are compared with another node's "now"; if
    their clocks disagree, a node whose clock runs ahead takes over live leases and fires
    timers early. So every node reads the time as its local clock plus the offset to the
    database server's clock, measured by :meth:`sync` (at start and with every heartbeat),
    half a round trip precise. Reading the time never touches the database.

    Args:
        read: returns the database server's time (None: the database has no shared clock,
            and the local clock is used as it is).
        base: the local clock (the system clock by default).
    """

    def __init__(self, read: Callable[[], datetime | None], base: Clock | None = None) -> None:
        self._read = read
        self._base: Clock = base or SystemClock()
        self.offset = timedelta(0)
        """Database time minus local time, as last measured."""

    def sync(self) -> timedelta | None:
        """Measure the offset to the database clock again; returns it, or None if the
        database has no clock of its own (the offset stays as it was)."""
        before = self._base.now()
        server = self._read()
        after = self._base.now()
        if server is None:
            return None
        self.offset = server - (before + (after - before) / 2)
        return self.offset

    def now(self) -> datetime:
        return self._base.now() + self.offset

    def sleep(self, seconds: float) -> None:
        self._base.sleep(seconds)
