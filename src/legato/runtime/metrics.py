"""Prometheus metrics of an engine: what this process did, counted from committed batches.

Each engine keeps its own :class:`prometheus_client.CollectorRegistry` (never the global
one, so two engines in one process, as in tests, do not mix their counts);
:meth:`Engine.metrics_text <legato.runtime.engine.Engine.metrics_text>` renders it and the
server's ``/metrics`` serves it.

Counters and histograms are fed by :meth:`EngineMetrics.committed` after a batch's
transaction committed (a batch that rolled back counts nothing): one pass over the events of
the batch, a dictionary lookup per event and, for the few that count, the increment of a
labelled child cached per process version (no label tuple is built per event). Durations are
measured from the activation time kept with each element instance
(:attr:`~legato.engine.state.ElementInstance.activated_at`), so an element that started on
another node, or before a restart, is measured when it ends here.

The database-wide gauges (active instances, open incidents, job queues, nodes alive) are
:mod:`legato.runtime.gauges`'.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from legato.engine import events as ev
from legato.engine.state import InstanceState

DURATION_BUCKETS = (
    0.005,
    0.025,
    0.1,
    0.5,
    1.0,
    5.0,
    15.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    86400.0,
    7 * 86400.0,
)
"""Seconds: from an automated step's milliseconds to a week-long human task."""

BATCH_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
"""Commands per committed batch."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds a commit took."""

LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0)
"""Seconds a timer fired after it was due."""

MAX_TRACKED = 500_000
"""Element instances (and jobs) whose start is remembered until they end; beyond this the
oldest are forgotten (their duration is then not measured: they most likely ended on
another node)."""


Describe = Callable[[int], tuple[str, int, Callable[[str], str]]]
"""For a definition key: its process id, its version, and the kind of each element id."""


class _JobStart(Protocol):
    @property
    def job_type(self) -> str: ...

    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class _LoadedJob:
    """A job of an instance read from the store (created when its element was activated)."""

    job_type: str
    at: datetime


class Histogram:
    """A histogram kept as plain numbers: an observation is a bisection and two additions
    (no lock: the executor's lock serialises the batches that feed it)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative counts by upper bound, as Prometheus writes them."""
        running = 0
        cumulative: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            cumulative.append((_bound_text(bound), running))
        return cumulative


class _Version:
    """The counts of one process version (plain numbers, made once)."""

    __slots__ = (
        "completed",
        "element_kind",
        "elements",
        "incidents",
        "instance_duration",
        "job_durations",
        "job_failures",
        "process_id",
        "started",
        "terminated",
        "version",
    )

    def __init__(self, process_id: str, version: int, kind: Callable[[str], str]) -> None:
        self.process_id = process_id
        self.version = str(version)
        self.element_kind = kind
        self.started = 0
        self.completed = 0
        self.terminated = 0
        self.incidents = 0
        self.instance_duration = Histogram(DURATION_BUCKETS)
        self.elements: dict[str, Histogram] = {}
        """By element id (the element type is its label; several ids add up)."""
        self.job_durations: dict[str, Histogram] = {}
        self.job_failures: dict[str, int] = {}

    def element(self, element_id: str) -> Histogram:
        histogram = self.elements.get(element_id)
        if histogram is None:
            histogram = self.elements[element_id] = Histogram(DURATION_BUCKETS)
        return histogram

    def job_duration(self, job_type: str) -> Histogram:
        histogram = self.job_durations.get(job_type)
        if histogram is None:
            histogram = self.job_durations[job_type] = Histogram(DURATION_BUCKETS)
        return histogram


class EngineMetrics(Collector):
    """The metrics of one engine and the code that keeps them (see the module docstring).

    Args:
        describe: names a definition key's process, version and element kinds.
    """

    def __init__(self, describe: Describe) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._describe = describe
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.commit_latency = Histogram(LATENCY_BUCKETS)
        self.timer_lag = Histogram(LAG_BUCKETS)
        self._versions: dict[int, _Version] = {}
        self._jobs: dict[int, _JobStart] = {}
        self._observe: dict[type[ev.Event], Callable[[_Version, InstanceState, Any], None]] = {
            ev.InstanceCreated: self._instance_created,
            ev.InstanceCompleted: self._instance_completed,
            ev.InstanceTerminated: self._instance_terminated,
            ev.IncidentRaised: self._incident_raised,
            ev.JobCanceled: self._job_canceled,
            ev.JobFailed: self._job_failed,
        }
        self._activated: dict[int, datetime] = {}
        """Activation times of the element instances still active, as far as this process
        saw them activated or read their instance from the store."""
        self.registry.register(self)

    def text(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    # -- feeding ---------------------------------------------------------------------------------

    def committed(
        self, steps: Sequence[tuple[InstanceState, list[ev.Event]]], commit_seconds: float
    ) -> None:
        """Count what a committed batch did: each step's state (as the batch left it) with
        its events, and the time its commit took."""
        self.batch_size.observe(len(steps))
        self.commit_latency.observe(commit_seconds)
        observe = self._observe
        versions = self._versions
        activated = self._activated
        jobs = self._jobs
        if len(activated) >= MAX_TRACKED:
            _forget_oldest(activated)
        if len(jobs) >= MAX_TRACKED:
            _forget_oldest(jobs)
        for state, events in steps:
            version = versions.get(state.definition_key)
            if version is None:
                version = self._version(state.definition_key)
            for event in events:
                kind = type(event)
                # Elements and jobs are most of the events that count: handled here, without
                # a call each.
                if kind is _ACTIVATED:
                    activated[event.key] = event.at  # type: ignore[attr-defined]
                elif kind is _COMPLETED or kind is _TERMINATED:
                    at = activated.pop(event.key, None)  # type: ignore[attr-defined]
                    if at is not None:
                        element_id: str = event.element_id  # type: ignore[attr-defined]
                        histogram = version.elements.get(element_id) or version.element(element_id)
                        seconds = (event.at - at).total_seconds()
                        histogram.counts[bisect_left(histogram.bounds, seconds)] += 1
                        histogram.total += seconds
                # Then jobs: each service task's job is created and completed once.
                elif kind is _JOB_CREATED:
                    jobs[event.job_key] = event  # type: ignore[attr-defined,assignment]
                elif kind is _JOB_COMPLETED:
                    begun = jobs.pop(event.job_key, None)  # type: ignore[attr-defined]
                    if begun is not None:
                        job_type = begun.job_type
                        histogram = version.job_durations.get(job_type) or version.job_duration(
                            job_type
                        )
                        seconds = (event.at - begun.at).total_seconds()
                        histogram.counts[bisect_left(histogram.bounds, seconds)] += 1
                        histogram.total += seconds
                else:
                    handler = observe.get(kind)
                    if handler is not None:
                        handler(version, state, event)

    def loaded(self, state: InstanceState) -> None:
        """An instance's state was read from the store: remember when its element instances
        were activated and its jobs created, so that their ends are measured here."""
        activated = self._activated
        for element in state.elements.values():
            if element.activated_at is not None:
                activated.setdefault(element.key, element.activated_at)
        for job in state.jobs.values():
            if job.job_key not in self._jobs:
                owner = state.elements.get(job.element_instance_key)
                at = owner.activated_at if owner is not None else None
                if at is not None:
                    self._jobs[job.job_key] = _LoadedJob(job.job_type, at)

    def describe(self) -> list[Metric]:
        """Nothing up front (the registry must not collect when this registers)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The metrics as they are now."""
        versions = list(self._versions.values())
        by_version = ["process", "version"]
        counters = (
            ("legato_instances_started", "Instances started", "started"),
            ("legato_instances_completed", "Instances that reached their end", "completed"),
            (
                "legato_instances_terminated",
                "Instances cancelled or terminated (by an operator, a terminate end event, an "
                "error nothing caught)",
                "terminated",
            ),
            (
                "legato_incidents_raised",
                "Incidents raised in instances (failures that wait for an operator)",
                "incidents",
            ),
        )
        for name, documentation, attribute in counters:
            family = CounterMetricFamily(name, documentation, labels=by_version)
            for v in versions:
                family.add_metric([v.process_id, v.version], getattr(v, attribute))
            yield family
        instances = HistogramMetricFamily(
            "legato_instance_duration_seconds",
            "Cycle time of completed instances",
            labels=by_version,
        )
        for v in versions:
            _add(instances, [v.process_id, v.version], v.instance_duration)
        yield instances
        yield from self._durations(versions)
        for name, documentation, histogram in (
            (
                "legato_batch_commands",
                "Commands per committed batch (the follow-ups and deliveries they caused too)",
                self.batch_size,
            ),
            ("legato_commit_duration_seconds", "How long commits took", self.commit_latency),
            ("legato_timer_lag_seconds", "How late timers fired after due", self.timer_lag),
        ):
            engine_histogram = HistogramMetricFamily(name, documentation)
            _add(engine_histogram, [], histogram)
            yield engine_histogram

    def _durations(self, versions: list[_Version]) -> Iterator[Metric]:
        elements = HistogramMetricFamily(
            "legato_element_duration_seconds",
            "Time from an element's activation to its completion or termination",
            labels=["process", "element_type"],
        )
        jobs = HistogramMetricFamily(
            "legato_job_duration_seconds",
            "Time from a job's creation to its completion (waiting, retries and work)",
            labels=["process", "job_type"],
        )
        failures = CounterMetricFamily(
            "legato_job_failures",
            "Failed job attempts (each failure, retried or not)",
            labels=["process", "job_type"],
        )
        by_type: dict[tuple[str, str], Histogram] = {}
        for v in versions:
            for element_id, histogram in list(v.elements.items()):
                key = (v.process_id, v.element_kind(element_id))
                by_type[key] = _merged(by_type.get(key), histogram)
        for key, histogram in sorted(by_type.items()):
            _add(elements, list(key), histogram)
        job_types: dict[tuple[str, str], Histogram] = {}
        failed: dict[tuple[str, str], int] = {}
        for v in versions:
            for job_type, histogram in list(v.job_durations.items()):
                key = (v.process_id, job_type)
                job_types[key] = _merged(job_types.get(key), histogram)
            for job_type, count in list(v.job_failures.items()):
                failed[(v.process_id, job_type)] = failed.get((v.process_id, job_type), 0) + count
        for key, histogram in sorted(job_types.items()):
            _add(jobs, list(key), histogram)
        for key, count in sorted(failed.items()):
            failures.add_metric(list(key), count)
        yield from (elements, jobs, failures)

    def timers_fired(self, now: datetime, due: Sequence[datetime]) -> None:
        """Timers due at ``due`` fired (committed) at ``now``."""
        for at in due:
            self.timer_lag.observe(max((now - at).total_seconds(), 0.0))

    def _version(self, definition_key: int) -> _Version:
        process_id, version, kind = self._describe(definition_key)
        made = self._versions[definition_key] = _Version(process_id, version, kind)
        return made

    # -- per event -------------------------------------------------------------------------------

    @staticmethod
    def _instance_created(v: _Version, state: InstanceState, event: ev.InstanceCreated) -> None:
        v.started += 1

    @staticmethod
    def _instance_completed(v: _Version, state: InstanceState, event: ev.InstanceCompleted) -> None:
        v.completed += 1
        if state.started_at is not None:
            v.instance_duration.observe((event.at - state.started_at).total_seconds())

    @staticmethod
    def _instance_terminated(
        v: _Version, state: InstanceState, event: ev.InstanceTerminated
    ) -> None:
        v.terminated += 1

    @staticmethod
    def _incident_raised(v: _Version, state: InstanceState, event: ev.IncidentRaised) -> None:
        v.incidents += 1

    def _job_canceled(self, v: _Version, state: InstanceState, event: ev.JobCanceled) -> None:
        self._jobs.pop(event.job_key, None)

    def _job_failed(self, v: _Version, state: InstanceState, event: ev.JobFailed) -> None:
        started = self._jobs.get(event.job_key)
        if started is not None:
            failures = v.job_failures
            failures[started.job_type] = failures.get(started.job_type, 0) + 1


_ACTIVATED = ev.ElementActivated
_COMPLETED = ev.ElementCompleted
_TERMINATED = ev.ElementTerminated
_JOB_CREATED = ev.JobCreated
_JOB_COMPLETED = ev.JobCompleted


def _bound_text(bound: float) -> str:
    """An upper bound as Prometheus clients write ``le`` (``+Inf``, ``0.5``, ``60.0``)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _merged(into: Histogram | None, histogram: Histogram) -> Histogram:
    """``histogram`` added to ``into`` (a new one when None)."""
    if into is None:
        into = Histogram(histogram.bounds)
    into.counts = [a + b for a, b in zip(into.counts, histogram.counts, strict=True)]
    into.total += histogram.total
    return into


def _add(family: HistogramMetricFamily, labels: list[str], histogram: Histogram) -> None:
    family.add_metric(labels, histogram.buckets(), histogram.total)


def _forget_oldest(entries: dict[int, Any]) -> None:
    """Drop the oldest tenth (entries of instances that ended elsewhere pile up there)."""
    for key in list(entries)[: MAX_TRACKED // 10]:
        del entries[key]
