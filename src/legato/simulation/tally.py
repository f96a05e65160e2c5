"""What the driver counts while it runs: the work in progress, each pool's queue and busy
time, each element's waits; and the parts of the report made of them."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from legato.simulation.report import ElementReport, PoolReport
from legato.simulation.scenario import PoolSpec, TaskSpec


@dataclass(slots=True)
class PoolTally:
    """A pool while the simulation runs: its free members, its queue, its busy time."""

    spec: PoolSpec
    free: int
    queue: deque[Work] = field(default_factory=deque)
    busy_seconds: float = 0.0
    queue_area: float = 0.0
    queue_since: float = 0.0
    queue_max: int = 0
    opening_scheduled: bool = False

    def queue_changed(self, now: float) -> None:
        """Account for the queue's length up to ``now`` (before it changes)."""
        self.queue_area += len(self.queue) * (now - self.queue_since)
        self.queue_since = now

    def report(self, start: datetime, end: float) -> PoolReport:
        """The pool's figures for a simulation from ``start`` to ``end`` seconds later."""
        self.queue_changed(end)
        spec = self.spec
        if spec.calendar is None:
            open_seconds = end
        else:
            open_seconds = spec.calendar.open_seconds(start, start + timedelta(seconds=end))
        capacity = open_seconds * spec.size
        return PoolReport(
            name=spec.name,
            size=spec.size,
            utilisation=min(self.busy_seconds / capacity, 1.0) if capacity else 0.0,
            busy_hours=self.busy_seconds / 3600,
            queue_mean=self.queue_area / end if end else 0.0,
            queue_max=self.queue_max,
        )


JOB, USER_TASK, MESSAGE = 0, 1, 2


@dataclass(slots=True)
class Work:
    """A job or user task to complete, or a message to deliver, when its time is up."""

    instance_key: int
    element_id: str
    key: int
    """The job, user task or subscription key."""
    kind: int
    created: float
    spec: TaskSpec
    started: float = 0.0
    cancelled: bool = False
    message: tuple[str, str | None] = ("", None)
    """A message's name and correlation key."""


@dataclass(slots=True)
class ElementTally:
    """An element's work done so far: how often, how long it waited, how long it took."""

    count: int = 0
    waiting_sum: float = 0.0
    waiting_max: float = 0.0
    processing_sum: float = 0.0
    processing_max: float = 0.0

    def add(self, waiting: float, processing: float) -> None:
        """One more piece of work done."""
        self.count += 1
        self.waiting_sum += waiting
        self.processing_sum += processing
        self.waiting_max = max(self.waiting_max, waiting)
        self.processing_max = max(self.processing_max, processing)

    def report(self, element_id: str) -> ElementReport:
        """The element's figures."""
        return ElementReport(
            element_id=element_id,
            count=self.count,
            waiting_mean=self.waiting_sum / self.count,
            waiting_max=self.waiting_max,
            processing_mean=self.processing_sum / self.count,
            processing_max=self.processing_max,
        )
