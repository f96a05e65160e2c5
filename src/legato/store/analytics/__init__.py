"""The analytics facts and the dashboard's queries over them.

The port (:class:`AnalyticsReads`, part of :class:`~legato.store.ports.Transaction`) and its
two adapters side by side: :mod:`.sql` and :mod:`.memory`; the summaries both compute from
the rollups' rows are :mod:`.summaries`. The facts themselves are derived from history by
:mod:`legato.store.facts`.

Windows: the hourly rollup is read by whole UTC hours (an hour counts if it starts in
``[since, until)``), the duration histograms by whole UTC days (a day counts if any of it
is in the window). Durations are those of *completed* instances and element instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from legato.store.facts import DerivedFacts, ElementFact, IncidentFact, InstanceFact


@dataclass(frozen=True, slots=True)
class ThroughputBucket:
    """Instances started, completed and terminated, and incidents raised, in the bucket of
    time starting at ``start``."""

    start: datetime
    started: int
    completed: int
    terminated: int
    incidents: int


@dataclass(frozen=True, slots=True)
class DurationSummary:
    """Completed durations in milliseconds: their count, mean (exact) and percentiles and
    maximum (read from log-scale buckets: within 4.9 %, see :mod:`legato.store.histogram`),
    and their exact sum; all 0 when none completed."""

    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    total_ms: float


@dataclass(frozen=True, slots=True)
class ElementStats:
    """An element's completed element instances in the window (their count, mean, median,
    95th percentile and summed duration in milliseconds), how many are running now and the
    incidents raised there in the window."""

    element_id: str
    completed: int
    active: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    total_ms: float
    incidents: int


@dataclass(frozen=True, slots=True)
class ErrorRate:
    """Instances that ended in the window, those of them that raised an incident, their
    ratio (0 when none ended), and the incidents open now."""

    instances: int
    with_incidents: int
    rate: float
    incidents_open: int


class AnalyticsReads(Protocol):
    """The analytics facts: their writes (live and rebuilt) and the dashboard's reads.

    ``versions`` empty means every version of the process.
    """

    def write_facts(self, facts: DerivedFacts, shard: int) -> None:
        """Insert the new fact rows, apply the changes to earlier ones and add the rollup
        deltas to the rows of ``shard`` (0 to 15). ``facts`` must be settled."""

    def fact_starts(
        self, instance_keys: Sequence[int], element_keys: Sequence[int]
    ) -> tuple[dict[int, int], dict[int, datetime]]:
        """The stored incident counts of these instances' facts and start times of these
        element instances' facts (keys without a fact left out)."""

    def clear_facts(self) -> None:
        """Empty the fact tables and rollups (before they are rebuilt from the history)."""

    def facts_of(
        self, instance_keys: Sequence[int]
    ) -> tuple[list[InstanceFact], list[ElementFact], list[IncidentFact]]:
        """The facts of these instances, each list in key order."""

    def open_instance_facts(
        self,
        process_id: str,
        version: int,
        started_before: datetime,
        limit: int,
        after_key: tuple[datetime, int] | None = None,
    ) -> list[InstanceFact]:
        """Up to ``limit`` running instances of a version started before ``started_before``,
        oldest first (start time, key); ``after_key`` is the (start time, instance key) of
        the last one of the previous page. Reads the partial index of running instances."""

    def open_element_facts(
        self,
        process_id: str,
        version: int,
        element_id: str,
        started_before: datetime,
        limit: int,
        after_key: tuple[datetime, int] | None = None,
    ) -> list[ElementFact]:
        """Up to ``limit`` running element instances of an element, like
        :meth:`open_instance_facts` (``after_key``: start time, element instance key)."""

    def throughput(
        self,
        process_id: str,
        versions: Sequence[int],
        since: datetime,
        until: datetime,
        bucket: timedelta,
    ) -> list[ThroughputBucket]:
        """Instances started, completed, terminated and incidents raised per bucket of
        ``bucket`` (whole hours) from ``since`` (rounded down to the hour); every bucket of
        the window is listed, empty ones too."""

    def cycle_times(
        self, process_id: str, versions: Sequence[int], since: datetime, until: datetime
    ) -> DurationSummary:
        """The durations of the instances that completed in the window."""

    def element_stats(
        self, process_id: str, versions: Sequence[int], since: datetime, until: datetime
    ) -> list[ElementStats]:
        """Per element that ran in the window or runs now, by element id."""

    def error_rate(
        self, process_id: str, versions: Sequence[int], since: datetime, until: datetime
    ) -> ErrorRate:
        """The share of the instances ended in the window that raised an incident."""
