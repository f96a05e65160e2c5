"""A process's dashboard: throughput, cycle time, error rate and bottlenecks per version,
read from the analytics facts' rollups (:mod:`legato.store.analytics`).

```python
from legato.analytics.dashboard import process_report, compare_versions

report = process_report(engine, "onboarding", versions=[2])
report.cycle_time.p95_ms, report.elements[0].element_id  # the largest share of cycle time
compare_versions(engine, "onboarding", 1, 2).cycle_time_change  # -0.25: 25 % faster
```

Windows: ``until`` defaults to now, ``since`` to 30 days before ``until``; the throughput
bucket to one hour, made coarser (:data:`BUCKETS`) when the window would have more than
:data:`MAX_BUCKETS` of them. Counts are read by whole UTC hours, percentiles by whole UTC
days (see :mod:`legato.store.analytics`); durations are those of completed instances and
element instances.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from legato.analytics.eventlog import Source, store_of
from legato.bpmn import read_bpmn
from legato.errors import InvalidCommandError, LegatoError, NotFoundError
from legato.store.analytics import DurationSummary, ErrorRate, ThroughputBucket
from legato.store.ports import Transaction

DEFAULT_WINDOW = timedelta(days=30)
"""How far back a report looks when no ``since`` is given."""

MAX_BUCKETS = 1000
"""The most throughput buckets a report has; a finer bucket is made coarser."""

BUCKETS = tuple(
    timedelta(hours=hours) for hours in (1, 2, 3, 6, 12, 24, 48, 24 * 7, 24 * 14, 24 * 30)
)
"""The bucket sizes a too-fine bucket is replaced by, smallest first (beyond the last:
multiples of 30 days)."""


@dataclass(frozen=True, slots=True)
class ElementReport:
    """An element's share of the cycle time: its completed element instances' count and
    durations (mean, median, 95th percentile, total, in milliseconds), those running now,
    the incidents raised there, and ``share``: its total over the completed instances'."""

    element_id: str
    element_type: str
    count: int
    active: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    total_ms: float
    share: float
    incidents: int


@dataclass(frozen=True, slots=True)
class ProcessReport:
    """A process's (or some of its versions') dashboard over a window."""

    process_id: str
    versions: tuple[int, ...]
    """The versions reported on (every deployed one when none was asked for)."""
    since: datetime
    until: datetime
    bucket: timedelta
    throughput: list[ThroughputBucket]
    cycle_time: DurationSummary
    error_rate: ErrorRate
    elements: list[ElementReport]
    """By share of the cycle time, largest first."""


@dataclass(frozen=True, slots=True)
class VersionReport:
    """One version's headline figures in a comparison."""

    version: int
    cycle_time: DurationSummary
    error_rate: ErrorRate
    throughput_total: int
    """Instances completed in the window."""


@dataclass(frozen=True, slots=True)
class VersionComparison:
    """Two versions of a process over one window; ``cycle_time_change`` is b's mean cycle
    time relative to a's (``-0.25``: 25 % shorter; None when a has none)."""

    process_id: str
    since: datetime
    until: datetime
    a: VersionReport
    b: VersionReport
    cycle_time_change: float | None


def window(
    since: datetime | None, until: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The window a report covers (defaults filled in).

    Raises:
        InvalidCommandError: a naive time, or ``until`` not after ``since``.
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidCommandError(f"{name} has no offset (a naive time is a guess)")
    end = until or now or datetime.now(UTC)
    start = since or end - DEFAULT_WINDOW
    if end <= start:
        raise InvalidCommandError("until must be after since")
    return start, end


def coarse_bucket(bucket: timedelta, since: datetime, until: datetime) -> timedelta:
    """``bucket``, or the smallest of :data:`BUCKETS` (or multiple of 30 days) at least as
    large that gives the window no more than :data:`MAX_BUCKETS` buckets.

    Raises:
        InvalidCommandError: a bucket that is not a whole number of hours.
    """
    if bucket < BUCKETS[0] or bucket % BUCKETS[0]:
        raise InvalidCommandError("bucket must be a whole number of hours (PT1H, P1D, ...)")
    span = until - since + BUCKETS[0]  # the first hour is counted whole
    if span / bucket <= MAX_BUCKETS:
        return bucket
    for size in BUCKETS:
        if size >= bucket and span / size <= MAX_BUCKETS:
            return size
    month = BUCKETS[-1]
    return month * -(-span // (month * MAX_BUCKETS))


def process_report(
    source: Source,
    process_id: str,
    *,
    versions: Sequence[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: timedelta = BUCKETS[0],
    now: datetime | None = None,
) -> ProcessReport:
    """The dashboard of a process (all versions, or ``versions``) over a window.

    Raises:
        NotFoundError: the process, or one of ``versions``, was never deployed.
        InvalidCommandError: a bad window or bucket (see :func:`window`,
            :func:`coarse_bucket`).
    """
    start, end = window(since, until, now)
    size = coarse_bucket(bucket, start, end)
    with store_of(source).transaction() as tx:
        chosen = _versions(tx, process_id, versions)
        throughput = tx.throughput(process_id, chosen, start, end, size)
        cycle_time = tx.cycle_times(process_id, chosen, start, end)
        errors = tx.error_rate(process_id, chosen, start, end)
        stats = tx.element_stats(process_id, chosen, start, end)
        kinds = _element_kinds(tx, process_id, chosen)
    elements = [
        ElementReport(
            element_id=s.element_id,
            element_type=kinds.get(s.element_id, ""),
            count=s.completed,
            active=s.active,
            mean_ms=s.mean_ms,
            p50_ms=s.p50_ms,
            p95_ms=s.p95_ms,
            total_ms=s.total_ms,
            share=round(s.total_ms / cycle_time.total_ms, 4) if cycle_time.total_ms else 0.0,
            incidents=s.incidents,
        )
        for s in stats
    ]
    elements.sort(key=lambda e: (-e.share, e.element_id))
    return ProcessReport(
        process_id, tuple(chosen), start, end, size, throughput, cycle_time, errors, elements
    )


def compare_versions(
    source: Source,
    process_id: str,
    a: int,
    b: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> VersionComparison:
    """Versions ``a`` and ``b`` of a process side by side over one window.

    Raises:
        NotFoundError: the process or a version was never deployed.
        InvalidCommandError: a bad window.
    """
    start, end = window(since, until, now)
    reports = []
    with store_of(source).transaction() as tx:
        _versions(tx, process_id, [a, b])
        for version in (a, b):
            cycle_time = tx.cycle_times(process_id, [version], start, end)
            errors = tx.error_rate(process_id, [version], start, end)
            reports.append(VersionReport(version, cycle_time, errors, cycle_time.count))
    first, second = reports
    change = None
    if first.cycle_time.mean_ms:
        change = round(second.cycle_time.mean_ms / first.cycle_time.mean_ms - 1, 4)
    return VersionComparison(process_id, start, end, first, second, change)


def _versions(tx: Transaction, process_id: str, versions: Sequence[int] | None) -> list[int]:
    deployed = sorted(d.version for d in tx.list_definitions() if d.process_id == process_id)
    if not deployed:
        raise NotFoundError(f"no process '{process_id}' is deployed")
    missing = sorted(set(versions or ()) - set(deployed))
    if missing:
        raise NotFoundError(f"process '{process_id}' has no version {missing[0]}")
    return sorted(set(versions)) if versions else deployed


def _element_kinds(tx: Transaction, process_id: str, versions: Sequence[int]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for record in tx.list_definitions():
        if record.process_id == process_id and record.version in versions:
            kinds.update(_kinds_of(record.definition_key, record.source, process_id))
    return kinds


@functools.lru_cache(maxsize=64)
def _kinds_of(definition_key: int, source: str, process_id: str) -> dict[str, str]:
    """The kind of each element of a deployed process (cached per version: a deployed
    version never changes)."""
    try:
        definitions = read_bpmn(source)
    except LegatoError:
        return {}
    return {
        element_id: str(element.kind)
        for process in definitions.processes
        if process.process_id == process_id
        for element_id, element in process.elements.items()
    }
