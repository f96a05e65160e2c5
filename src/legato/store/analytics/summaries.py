"""The dashboard's summaries, computed alike by both adapters from the rollups' rows.

An adapter provides four primitive reads (:class:`AnalyticsQueries`' abstract methods): the
definition keys of a process's versions, the hourly rollup rows and the histogram counts of
those versions summed over shards and versions, and the element counters (active element
instances and open incidents now); this mixin turns them into the port's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from legato.errors import InvalidCommandError
from legato.store.analytics import DurationSummary, ElementStats, ErrorRate, ThroughputBucket
from legato.store.facts import (
    COMPLETED,
    DURATION,
    FAILED,
    INCIDENTS,
    INSTANCE,
    STARTED,
    TERMINATED,
    day_of,
    hour_of,
)
from legato.store.histogram import bucket_value, percentile

HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

HourRow = tuple[str, datetime, tuple[int, int, int, int, int, int]]
"""(element id, hour, [started, completed, terminated, incidents, failed, duration_us])."""

BucketRow = tuple[str, int, int]
"""(element id, bucket, count) of the duration histograms."""


def _ms(micros: float) -> float:
    return round(micros / 1000.0, 3)


def summary(
    counts: Sequence[tuple[int, int]], duration_sum: int, completed: int
) -> DurationSummary:
    """A duration summary from (bucket, count) pairs sorted by bucket, the exact summed
    duration and count of the completed ones (the mean)."""
    total = sum(count for _, count in counts)
    if total == 0 and completed == 0:
        return DurationSummary(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    p = [_ms(percentile(counts, total, q)) for q in (0.5, 0.9, 0.95, 0.99)]
    highest = max((index for index, count in counts if count > 0), default=None)
    longest = 0.0 if highest is None else _ms(bucket_value(highest))
    mean = _ms(duration_sum / completed) if completed else 0.0
    return DurationSummary(
        completed or total, mean, p[0], p[1], p[2], p[3], longest, _ms(duration_sum)
    )


class AnalyticsQueries:
    """The dashboard reads of :class:`~legato.store.analytics.AnalyticsReads`, over the
    adapter's primitive reads."""

    def _definition_keys(self, process_id: str, versions: Sequence[int]) -> list[int]:
        raise NotImplementedError

    def _hour_rows(
        self, keys: Sequence[int], since: datetime, until: datetime, instances: bool = False
    ) -> list[HourRow]:
        """Rows of hours in [since, until), summed over shards and versions (only the
        instances' own rows with ``instances``)."""
        raise NotImplementedError

    def _bucket_rows(
        self, keys: Sequence[int], since: datetime, until: datetime, instances: bool = False
    ) -> list[BucketRow]:
        """Histogram counts of days in [since, until), summed over shards, versions, days
        (only the instances' own with ``instances``)."""
        raise NotImplementedError

    def _element_activity(self, keys: Sequence[int]) -> dict[str, tuple[int, int]]:
        """Per element id: (active element instances, open incidents) now."""
        raise NotImplementedError

    def _window(
        self, process_id: str, versions: Sequence[int], since: datetime, until: datetime
    ) -> tuple[list[int], datetime, datetime]:
        if until <= since:
            raise InvalidCommandError("the window ends before it starts (until <= since)")
        return self._definition_keys(process_id, versions), hour_of(since), until

    def throughput(
        self,
        process_id: str,
        versions: Sequence[int],
        since: datetime,
        until: datetime,
        bucket: timedelta,
    ) -> list[ThroughputBucket]:
        """Per bucket of whole hours: instances started, completed, terminated, incidents."""
        if bucket < HOUR or bucket % HOUR:
            raise InvalidCommandError("the bucket must be a whole number of hours")
        keys, start, until = self._window(process_id, versions, since, until)
        count = -(-(until - start) // bucket)
        sums = [[0, 0, 0, 0] for _ in range(count)]
        for _, hour, row in self._hour_rows(keys, start, until, True) if keys else ():
            each = sums[(hour - start) // bucket]
            for slot, column in enumerate((STARTED, COMPLETED, TERMINATED, INCIDENTS)):
                each[slot] += row[column]
        return [ThroughputBucket(start + i * bucket, *sums[i]) for i in range(count)]

    def cycle_times(
        self, process_id: str, versions: Sequence[int], since: datetime, until: datetime
    ) -> DurationSummary:
        """The durations of the instances completed in the window."""
        keys, start, until = self._window(process_id, versions, since, until)
        if not keys:
            return summary([], 0, 0)
        hours = [row for _, _, row in self._hour_rows(keys, start, until, True)]
        buckets = self._buckets(keys, since, until, True).get(INSTANCE, {})
        return summary(
            sorted(buckets.items()),
            sum(row[DURATION] for row in hours),
            sum(row[COMPLETED] for row in hours),
        )

    def _buckets(
        self, keys: Sequence[int], since: datetime, until: datetime, instances: bool = False
    ) -> dict[str, dict[int, int]]:
        found: dict[str, dict[int, int]] = {}
        end = day_of(until) + (_DAY if until != day_of(until) else timedelta(0))
        for element_id, index, count in self._bucket_rows(keys, day_of(since), end, instances):
            counts = found.setdefault(element_id, {})
            counts[index] = counts.get(index, 0) + count
        return found

    def element_stats(
        self, process_id: str, versions: Sequence[int], since: datetime, until: datetime
    ) -> list[ElementStats]:
        """Per element: completed count, running now, mean, p50, p95, total, incidents."""
        keys, start, until = self._window(process_id, versions, since, until)
        if not keys:
            return []
        sums: dict[str, list[int]] = {}
        for element_id, _, hour in self._hour_rows(keys, start, until):
            if element_id == INSTANCE:
                continue
            summed = sums.setdefault(element_id, [0, 0, 0, 0, 0, 0])
            for slot, value in enumerate(hour):
                summed[slot] += value
        activity = self._element_activity(keys)
        buckets = self._buckets(keys, since, until)
        stats = []
        for element_id in sorted({*sums, *(e for e, (a, _) in activity.items() if a)}):
            row = sums.get(element_id, [0, 0, 0, 0, 0, 0])
            counts = sorted(buckets.get(element_id, {}).items())
            total = sum(count for _, count in counts)
            completed = row[COMPLETED]
            stats.append(
                ElementStats(
                    element_id=element_id,
                    completed=completed,
                    active=activity.get(element_id, (0, 0))[0],
                    mean_ms=_ms(row[DURATION] / completed) if completed else 0.0,
                    p50_ms=_ms(percentile(counts, total, 0.5)),
                    p95_ms=_ms(percentile(counts, total, 0.95)),
                    total_ms=_ms(row[DURATION]),
                    incidents=row[INCIDENTS],
                )
            )
        return stats

    def error_rate(
        self, process_id: str, versions: Sequence[int], since: datetime, until: datetime
    ) -> ErrorRate:
        """Instances ended in the window, those that raised an incident, open incidents."""
        keys, start, until = self._window(process_id, versions, since, until)
        if not keys:
            return ErrorRate(0, 0, 0.0, 0)
        ended = failed = 0
        for _, _, row in self._hour_rows(keys, start, until, True):
            ended += row[COMPLETED] + row[TERMINATED]
            failed += row[FAILED]
        incidents_open = sum(found[1] for found in self._element_activity(keys).values())
        rate = failed / ended if ended else 0.0
        return ErrorRate(ended, failed, rate, incidents_open)
