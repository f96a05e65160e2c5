"""A process's dashboard (``GET /legato/v1/analytics/processes/{processId}``) and two of its
versions compared (``.../compare?a=1&b=2``), from :mod:`legato.analytics.dashboard`.

Query parameters: ``versions`` (comma-separated numbers; every version when omitted),
``since`` and ``until`` (ISO 8601 with an offset; until defaults to now, since to 30 days
before), ``bucket`` (an ISO 8601 duration of whole hours, ``PT1H`` by default, made coarser
when the window would have more than 1000 buckets). Bad parameters are a 400 naming the
parameter; an unknown process or version a 404. Durations are in milliseconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from legato.analytics.dashboard import (
    ProcessReport,
    VersionReport,
    compare_versions,
    process_report,
)
from legato.api.deps import EngineDep, require
from legato.api.native.eventlog import _instant
from legato.api.problems import BadRequest
from legato.api.v2.common import Out, iso
from legato.errors import InvalidCommandError
from legato.feel.temporal import format_duration, parse_duration
from legato.security import INSTANCES_READ
from legato.store.analytics import DurationSummary, ErrorRate

router = APIRouter(tags=["legato"])


class ThroughputResult(Out):
    start: str | None
    started: int
    completed: int
    terminated: int
    incidents: int


class CycleTimeResult(Out):
    count: int
    meanMs: float
    p50Ms: float
    p90Ms: float
    p95Ms: float
    p99Ms: float
    maxMs: float


class ErrorRateResult(Out):
    instances: int
    withIncidents: int
    rate: float
    incidentsOpen: int


class ElementResult(Out):
    elementId: str
    elementType: str
    count: int
    active: int
    meanMs: float
    p50Ms: float
    p95Ms: float
    totalMs: float
    share: float
    incidents: int


class ProcessAnalyticsResult(Out):
    processId: str
    versions: list[int]
    since: str | None
    until: str | None
    bucket: str
    throughput: list[ThroughputResult]
    cycleTime: CycleTimeResult
    errorRate: ErrorRateResult
    elements: list[ElementResult]
    """By share of the cycle time, largest first."""


class VersionResult(Out):
    version: int
    cycleTime: CycleTimeResult
    errorRate: ErrorRateResult
    throughputTotal: int


class VersionComparisonResult(Out):
    processId: str
    since: str | None
    until: str | None
    a: VersionResult
    b: VersionResult
    cycleTimeChange: float | None
    """b's mean cycle time relative to a's (-0.25: 25 % shorter); null when a has none."""


@router.get(
    "/analytics/processes/{processId}",
    response_model=ProcessAnalyticsResult,
    dependencies=[Depends(require(INSTANCES_READ))],
)
def process_analytics(
    processId: Annotated[str, Path()],
    engine: EngineDep,
    versions: str | None = None,
    since: str | None = None,
    until: str | None = None,
    bucket: str = "PT1H",
) -> ProcessAnalyticsResult:
    """Throughput, cycle time, error rate and the elements' shares of the cycle time."""
    start, end = _window(since, until)
    size = _bucket(bucket)
    try:
        report = process_report(
            engine,
            processId,
            versions=_versions(versions),
            since=start,
            until=end,
            bucket=size,
            now=engine.clock.now(),
        )
    except InvalidCommandError as exc:
        raise BadRequest(str(exc)) from None
    return _process_result(report)


@router.get(
    "/analytics/processes/{processId}/compare",
    response_model=VersionComparisonResult,
    dependencies=[Depends(require(INSTANCES_READ))],
)
def compare_process_versions(
    processId: Annotated[str, Path()],
    engine: EngineDep,
    a: str,
    b: str,
    since: str | None = None,
    until: str | None = None,
) -> VersionComparisonResult:
    """Two versions' cycle time, error rate and completed count over one window."""
    first, second = _version(a, "a"), _version(b, "b")
    start, end = _window(since, until)
    try:
        found = compare_versions(
            engine, processId, first, second, since=start, until=end, now=engine.clock.now()
        )
    except InvalidCommandError as exc:
        raise BadRequest(str(exc)) from None
    return VersionComparisonResult(
        processId=found.process_id,
        since=iso(found.since),
        until=iso(found.until),
        a=_version_result(found.a),
        b=_version_result(found.b),
        cycleTimeChange=found.cycle_time_change,
    )


def _window(since: str | None, until: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    start, end = _instant(since, "since"), _instant(until, "until")
    if start is not None and end is not None and end <= start:
        raise BadRequest("until: must be after since")
    return start, end


def _bucket(text: str) -> dt.timedelta:
    value = parse_duration(text)
    if not isinstance(value, dt.timedelta):
        raise BadRequest(f"bucket: '{text}' is not an ISO 8601 duration in days or hours")
    if value < dt.timedelta(hours=1) or value % dt.timedelta(hours=1):
        raise BadRequest(f"bucket: '{text}' is not a whole number of hours")
    return value


def _version(text: str, name: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise BadRequest(f"{name}: '{text}' is not a version number")
    return number


def _versions(text: str | None) -> list[int] | None:
    if text is None or not text.strip():
        return None
    return [_version(part.strip(), "versions") for part in text.split(",")]


def _cycle_time(summary: DurationSummary) -> CycleTimeResult:
    return CycleTimeResult(
        count=summary.count,
        meanMs=summary.mean_ms,
        p50Ms=summary.p50_ms,
        p90Ms=summary.p90_ms,
        p95Ms=summary.p95_ms,
        p99Ms=summary.p99_ms,
        maxMs=summary.max_ms,
    )


def _error_rate(rate: ErrorRate) -> ErrorRateResult:
    return ErrorRateResult(
        instances=rate.instances,
        withIncidents=rate.with_incidents,
        rate=round(rate.rate, 4),
        incidentsOpen=rate.incidents_open,
    )


def _version_result(report: VersionReport) -> VersionResult:
    return VersionResult(
        version=report.version,
        cycleTime=_cycle_time(report.cycle_time),
        errorRate=_error_rate(report.error_rate),
        throughputTotal=report.throughput_total,
    )


def _process_result(report: ProcessReport) -> ProcessAnalyticsResult:
    return ProcessAnalyticsResult(
        processId=report.process_id,
        versions=list(report.versions),
        since=iso(report.since),
        until=iso(report.until),
        bucket=format_duration(report.bucket),
        throughput=[
            ThroughputResult(
                start=iso(b.start),
                started=b.started,
                completed=b.completed,
                terminated=b.terminated,
                incidents=b.incidents,
            )
            for b in report.throughput
        ],
        cycleTime=_cycle_time(report.cycle_time),
        errorRate=_error_rate(report.error_rate),
        elements=[
            ElementResult(
                elementId=e.element_id,
                elementType=e.element_type,
                count=e.count,
                active=e.active,
                meanMs=e.mean_ms,
                p50Ms=e.p50_ms,
                p95Ms=e.p95_ms,
                totalMs=e.total_ms,
                share=e.share,
                incidents=e.incidents,
            )
            for e in report.elements
        ],
    )
