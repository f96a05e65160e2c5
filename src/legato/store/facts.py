"""The analytics facts, derived from history events (one derivation, live and rebuilt).

Five tables are kept from the history alone (:class:`DerivedFacts`), by the command's own
transaction (:class:`legato.runtime.projection.BatchWrites`) and by the rebuild
(:func:`legato.store.rebuild.rebuild_facts`):

* ``instance_facts``: one row per instance: its version, start, end, duration, outcome
  (``active``, ``completed`` or ``terminated``) and how many incidents it raised;
* ``element_facts``: one row per element instance: its element, start, end, duration,
  outcome, failed job attempts (``retries``) and who completed it (user tasks);
* ``incident_facts``: one row per incident: where, why, when opened and resolved;
* ``fact_hours``: per process version, element (``""``: the instance itself) and hour
  (UTC): started, completed, terminated, incidents raised, instances ended having raised
  one (``failed``, instance rows only) and the summed durations of the completed ones
  (bucketed by the hour of the start for ``started``, of the event otherwise);
* ``fact_durations``: per process version, element and day (UTC), the completed durations
  counted in log-scale buckets (:mod:`legato.store.histogram`: percentiles within 4.9 %).

An element instance that completes in the instant it starts (events, gateways: nothing to
wait for; a job completed at once on a virtual clock) is counted in the rollups but has no
``element_facts`` row: such rows were half of the rows written, and no query needs them (it
is never running, and its duration is 0). When its end comes in a later batch than its
start, the row that batch wrote is deleted (:attr:`DerivedFacts.dropped`), so the live
facts equal a rebuild, which sees both together.

Only *completed* instances and element instances have their durations summed and counted in
the histograms (a terminated one's duration says how long it ran before someone stopped
it). A multi-instance body has no facts of its own (its inner instances have). The two
rollups are sharded like ``element_counts``: a batch adds to the rows of its random shard.

An end whose start the batch did not see (an element instance started in an earlier batch)
needs the start time and incident count stored with its fact: :meth:`DerivedFacts.unknown`
names them, the transaction reads them (``fact_starts``) and :meth:`DerivedFacts.settle`
finishes the rows. An end whose fact is missing (it started while facts were off) is left
out, and so is an event without the keys it should carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from legato.store.histogram import bucket_of
from legato.store.records import HistoryChunk, HistoryRecord

INSTANCE = ""
"""The element id under which the rollups count the instances themselves."""

STARTED, COMPLETED, TERMINATED, INCIDENTS, FAILED, DURATION = range(6)
"""Positions in an hourly rollup delta (:attr:`DerivedFacts.hours`)."""


class FactInstance(NamedTuple):
    """What the derivation needs to know of an instance it sees events of."""

    definition_key: int
    started_at: datetime
    process_id: str
    version: int


@dataclass(frozen=True, slots=True)
class InstanceFact:
    """A row of ``instance_facts``."""

    instance_key: int
    definition_key: int
    process_id: str
    version: int
    business_key: str | None
    parent_instance_key: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_us: int | None
    outcome: str
    incidents: int


@dataclass(frozen=True, slots=True)
class ElementFact:
    """A row of ``element_facts``."""

    element_instance_key: int
    instance_key: int
    definition_key: int
    process_id: str
    version: int
    element_id: str
    element_type: str
    started_at: datetime
    ended_at: datetime | None
    duration_us: int | None
    outcome: str
    retries: int
    completed_by: str | None


@dataclass(frozen=True, slots=True)
class IncidentFact:
    """A row of ``incident_facts``."""

    incident_key: int
    instance_key: int
    process_id: str
    version: int
    element_id: str
    cause: str
    message: str
    opened_at: datetime
    resolved_at: datetime | None


def micros_between(start: datetime, end: datetime) -> int:
    """Whole microseconds from ``start`` to ``end``."""
    since = end - start
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def hour_of(at: datetime) -> datetime:
    """The UTC hour that ``at`` falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    """The UTC day that ``at`` falls in."""
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_ONE_HOUR = timedelta(hours=1)
_NO_HOUR = (datetime.min.replace(tzinfo=UTC),) * 3
"""An hour span no instant falls in (before the first one is found)."""

FactOf = Callable[[int], FactInstance | None]
"""An instance's version and start, by instance key (None if unknown)."""

ElementOf = Callable[[str, int], int | None]
"""The element instance of a ``"job"`` or ``"task"`` (a user task), by its key, that this
derivation did not see created; None if unknown."""


@dataclass(slots=True)
class _End:
    key: int
    instance: FactInstance
    element_id: str
    at: datetime
    outcome: str


@dataclass(slots=True)
class DerivedFacts:
    """Changes to the fact tables that a run of history events makes.

    New rows are kept whole (``instances``, ``elements``, ``incidents``); changes to rows of
    earlier batches as column updates (``instance_changes``, ``element_changes``: ended_at,
    duration_us, outcome, incidents or retries added, completed_by; ``resolved``). The
    rollups as deltas: ``hours`` by (definition key, element id, hour), ``durations`` by
    (definition key, element id, day, bucket).
    """

    instances: dict[int, dict[str, Any]] = field(default_factory=dict)
    elements: dict[int, dict[str, Any]] = field(default_factory=dict)
    incidents: dict[int, dict[str, Any]] = field(default_factory=dict)
    instance_changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    element_changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    resolved: dict[int, datetime] = field(default_factory=dict)
    hours: dict[tuple[int, str, datetime], list[int]] = field(default_factory=dict)
    durations: dict[tuple[int, str, datetime, int], int] = field(default_factory=dict)
    moved_instances: dict[int, FactInstance] = field(default_factory=dict)
    """Instances of earlier batches migrated to another version: their new version."""
    moved_elements: dict[int, tuple[FactInstance, str]] = field(default_factory=dict)
    """Running element instances of earlier batches moved by a migration: their new version
    and element id."""
    dropped: list[int] = field(default_factory=list)
    """Element instances of earlier batches that completed in the instant they began: their
    rows go (as if start and end had been seen together, as a rebuild sees them)."""
    _versions: dict[int, FactInstance] = field(default_factory=dict)
    """The version each instance's events so far happened in (set by its creation and its
    migrations): a rebuild sees the events before a migration under the version they ran in."""
    _jobs: dict[int, int] = field(default_factory=dict)
    _tasks: dict[int, int] = field(default_factory=dict)
    _ends: list[_End] = field(default_factory=list)
    _instance_ends: list[_End] = field(default_factory=list)
    _hour_span: tuple[datetime, ...] = _NO_HOUR
    """The last hour an instant fell in, the next hour and the day: the events of a batch
    mostly fall in one hour, and two comparisons cost less than finding the hour anew."""

    def __bool__(self) -> bool:
        return bool(
            self.instances
            or self.elements
            or self.incidents
            or self.instance_changes
            or self.element_changes
            or self.resolved
            or self.hours
            or self.durations
            or self.moved_instances
            or self.moved_elements
            or self.dropped
        )

    def add(self, records: Iterable[HistoryRecord], fact_of: FactOf, element_of: ElementOf) -> None:
        """Derive the changes of ``records`` (in history order); call :meth:`settle` after."""
        self.add_chunks(
            (
                HistoryChunk(r.instance_key, r.position, r.at, [[r.event_type, None, r.payload]])
                for r in records
            ),
            fact_of,
            element_of,
        )

    def add_chunks(
        self,
        chunks: Iterable[HistoryChunk],
        fact_of: FactOf,
        element_of: ElementOf,
        starts: Mapping[int, datetime] | None = None,
    ) -> None:
        """:meth:`add` for events grouped into chunks (as the executor records them).

        The live path of every batch: element starts and ends (most of the events that
        count) are handled in the loop itself, an end whose start this derivation saw or
        ``starts`` gives (running element instances of earlier batches, by key: see
        :class:`KnownStarts`) is finished at once (only the other ends wait for
        :meth:`settle`), and the hour of a chunk is found once for all its events."""
        kinds = _KINDS
        versions = self._versions
        elements = self.elements
        changes = self.element_changes
        hours = self.hours
        durations = self.durations
        known = starts if starts is not None else {}
        for chunk in chunks:
            key, at = chunk.instance_key, chunk.at
            hour = self._hour_of(at)
            day = self._hour_span[2]
            found = versions.get(key) or fact_of(key)
            for event_type, _element_id, payload in chunk.events:
                kind = kinds.get(event_type)
                if kind is None:
                    continue  # most events: variables, flows, jobs done
                if not isinstance(kind, str):
                    kind(self, key, at, payload, fact_of, element_of)
                    if event_type in _VERSIONING:
                        found = versions.get(key) or fact_of(key)
                elif kind is _ACTIVE:
                    element_key = payload.get("key")
                    if found is None or element_key is None or payload.get("is_mi_body"):
                        continue
                    element_id = payload["element_id"]
                    elements[element_key] = {
                        "element_instance_key": element_key,
                        "instance_key": key,
                        "definition_key": found.definition_key,
                        "process_id": found.process_id,
                        "version": found.version,
                        "element_id": element_id,
                        "element_type": payload["element_kind"],
                        "started_at": at,
                        "ended_at": None,
                        "duration_us": None,
                        "outcome": "active",
                        "retries": 0,
                        "completed_by": None,
                    }
                    place = (found.definition_key, element_id, hour)
                    delta = hours.get(place)
                    if delta is None:
                        delta = hours[place] = [0, 0, 0, 0, 0, 0]
                    delta[STARTED] += 1
                else:  # an element's end, ``kind`` its outcome
                    element_key = payload.get("key")
                    if found is None or element_key is None:
                        continue
                    element_id = payload["element_id"]
                    # :meth:`_element_ended` inline (most ends), for an element instance that
                    # started in this batch (its new ``row``) or in an earlier one whose start
                    # this process wrote (``known``: its stored row gets the end as a change).
                    row = elements.get(element_key)
                    if row is not None:
                        started = row["started_at"]
                    else:
                        started = known.get(element_key)
                        if started is None:  # its start is stored: see settle
                            self._ends.append(_End(element_key, found, element_id, at, kind))
                            continue
                    place = (found.definition_key, element_id, hour)
                    delta = hours.get(place)
                    if delta is None:
                        delta = hours[place] = [0, 0, 0, 0, 0, 0]
                    if kind == "completed" and started == at:
                        # Done in the instant it began: no row (see _element_ended).
                        if row is not None:
                            del elements[element_key]
                        else:
                            changes.pop(element_key, None)
                            self.dropped.append(element_key)
                        duration = 0
                    else:
                        duration = micros_between(started, at)
                        if row is None:
                            row = changes.get(element_key)
                            if row is None:
                                row = changes[element_key] = {}
                        row["ended_at"], row["duration_us"], row["outcome"] = at, duration, kind
                        if kind != "completed":
                            delta[TERMINATED] += 1
                            continue
                    delta[COMPLETED] += 1
                    delta[DURATION] += duration
                    bucket = (found.definition_key, element_id, day, bucket_of(duration))
                    durations[bucket] = durations.get(bucket, 0) + 1

    def unknown(self) -> tuple[list[int], list[int]]:
        """The instances and element instances that ended in these events but started
        before them: their stored facts are needed by :meth:`settle`."""
        return (
            sorted({e.key for e in self._instance_ends if e.key not in self.instances}),
            sorted({e.key for e in self._ends if e.key not in self.elements}),
        )

    def settle(
        self,
        instance_incidents: Mapping[int, int] | None = None,
        element_starts: Mapping[int, datetime] | None = None,
    ) -> None:
        """Finish the ended rows and the rollups, given the stored incident counts and start
        times of what :meth:`unknown` named."""
        for end in self._instance_ends:
            row = self.instances.get(end.key)
            if row is not None:
                started, incidents = row["started_at"], row["incidents"]
            else:
                found = (instance_incidents or {}).get(end.key)
                if found is None:
                    continue
                change = self.instance_changes.get(end.key) or {}
                started, incidents = end.instance.started_at, found + change.get("incidents", 0)
            self._ended(self.instances, self.instance_changes, end, started, failed=incidents > 0)
        starts = element_starts or {}
        for end in self._ends:
            start = starts.get(end.key)
            if start is not None:
                self._element_ended(end, start)
        self._ends, self._instance_ends = [], []

    def clear(self) -> None:
        """Forget the changes (after they were written)."""
        self.instances, self.elements, self.incidents = {}, {}, {}
        self.instance_changes, self.element_changes, self.resolved = {}, {}, {}
        self.hours, self.durations = {}, {}
        self.moved_instances, self.moved_elements, self._versions = {}, {}, {}
        self.dropped = []
        self._jobs, self._tasks, self._ends, self._instance_ends = {}, {}, [], []
        self._hour_span = _NO_HOUR

    def _element_ended(self, end: _End, started: datetime) -> None:
        if started == end.at and end.outcome == "completed":
            # Done in the instant it began (an event, a gateway; a job completed at once on
            # the virtual clock): counted in the rollups, no row of its own (it never runs,
            # and such rows were half of them); a row an earlier batch wrote goes.
            if self.elements.pop(end.key, None) is None:
                self.element_changes.pop(end.key, None)
                self.dropped.append(end.key)
            self._rollup(end, 0, failed=False)
        else:
            self._ended(self.elements, self.element_changes, end, started, failed=False)

    def _ended(
        self,
        rows: dict[int, dict[str, Any]],
        changes: dict[int, dict[str, Any]],
        end: _End,
        started: datetime,
        *,
        failed: bool,
    ) -> None:
        at = end.at
        duration = micros_between(started, at)
        row = rows.get(end.key)
        if row is None:
            row = changes.get(end.key)
            if row is None:
                row = changes[end.key] = {}
        row["ended_at"], row["duration_us"], row["outcome"] = at, duration, end.outcome
        self._rollup(end, duration, failed=failed)

    def _rollup(self, end: _End, duration: int, *, failed: bool) -> None:
        definition_key = end.instance.definition_key
        place = (definition_key, end.element_id, self._hour_of(end.at))
        delta = self.hours.get(place)
        if delta is None:
            delta = self.hours[place] = [0, 0, 0, 0, 0, 0]
        if end.outcome == "completed":
            delta[COMPLETED] += 1
            delta[DURATION] += duration
            day = self._hour_span[2]  # the day of the hour just found
            bucket = (definition_key, end.element_id, day, bucket_of(duration))
            self.durations[bucket] = self.durations.get(bucket, 0) + 1
        else:
            delta[TERMINATED] += 1
        if failed:
            delta[FAILED] += 1

    def _hour_of(self, at: datetime) -> datetime:
        """The UTC hour of ``at`` (and :attr:`_hour_span` set to it)."""
        span = self._hour_span
        if span[0] <= at < span[1]:
            return span[0]
        hour = hour_of(at)
        self._hour_span = (hour, hour + _ONE_HOUR, hour.replace(hour=0))
        return hour

    def _hour(self, definition_key: int, element_id: str, at: datetime) -> list[int]:
        return self._delta(definition_key, element_id, self._hour_of(at))

    def _delta(self, definition_key: int, element_id: str, hour: datetime) -> list[int]:
        place = (definition_key, element_id, hour)
        delta = self.hours.get(place)
        if delta is None:
            delta = self.hours[place] = [0, 0, 0, 0, 0, 0]
        return delta

    def _bump(self, key: int, column: str, rows: dict[int, dict[str, Any]], changes: Any) -> None:
        row = rows.get(key)
        if row is not None:
            row[column] += 1
        else:
            change = changes.setdefault(key, {})
            change[column] = change.get(column, 0) + 1


_Handler = Callable[[DerivedFacts, int, datetime, dict[str, Any], FactOf, ElementOf], None]


def _fact(facts: DerivedFacts, fact_of: FactOf, key: int) -> FactInstance | None:
    """The version of an instance's event: as its history says so far, else as it is now."""
    return facts._versions.get(key) or fact_of(key)


def _instance_created(
    facts: DerivedFacts, key: int, at: datetime, payload: dict[str, Any], fact_of: FactOf, _: Any
) -> None:
    found = fact_of(key)
    if found is None:
        return
    if "definition_key" in payload and payload["definition_key"] != found.definition_key:
        found = FactInstance(
            payload["definition_key"], found.started_at, payload["process_id"], payload["version"]
        )  # migrated since: its first events ran in the version it started on
        facts._versions[key] = found
    facts.instances[key] = {
        "instance_key": key,
        "definition_key": found.definition_key,
        "process_id": found.process_id,
        "version": found.version,
        "business_key": payload.get("business_key"),
        "parent_instance_key": payload.get("parent_instance_key"),
        "started_at": at,
        "ended_at": None,
        "duration_us": None,
        "outcome": "active",
        "incidents": 0,
    }
    facts._hour(found.definition_key, INSTANCE, at)[STARTED] += 1


def _instance_ended(outcome: str) -> _Handler:
    def handle(
        facts: DerivedFacts, key: int, at: datetime, _p: Any, fact_of: FactOf, _: Any
    ) -> None:
        found = _fact(facts, fact_of, key)
        if found is not None:
            facts._instance_ends.append(_End(key, found, INSTANCE, at, outcome))

    return handle


def _job_created(
    facts: DerivedFacts, key: int, at: datetime, payload: dict[str, Any], _f: Any, _: Any
) -> None:
    if "job_key" in payload:
        facts._jobs[payload["job_key"]] = payload["element_instance_key"]


def _job_failed(
    facts: DerivedFacts,
    key: int,
    at: datetime,
    payload: dict[str, Any],
    _f: Any,
    element_of: ElementOf,
) -> None:
    job_key = payload.get("job_key")
    if job_key is None:
        return
    element_key = facts._jobs.get(job_key) or element_of("job", job_key)
    if element_key is not None:
        facts._bump(element_key, "retries", facts.elements, facts.element_changes)


def _user_task_created(
    facts: DerivedFacts, key: int, at: datetime, payload: dict[str, Any], _f: Any, _: Any
) -> None:
    if "user_task_key" in payload:
        facts._tasks[payload["user_task_key"]] = payload["element_instance_key"]


def _user_task_completed(
    facts: DerivedFacts,
    key: int,
    at: datetime,
    payload: dict[str, Any],
    _f: Any,
    element_of: ElementOf,
) -> None:
    task_key = payload.get("user_task_key")
    if task_key is None:
        return
    element_key = facts._tasks.get(task_key) or element_of("task", task_key)
    if element_key is None:
        return
    row = facts.elements.get(element_key)
    target = row if row is not None else facts.element_changes.setdefault(element_key, {})
    target["completed_by"] = payload.get("completed_by")


def _incident_raised(
    facts: DerivedFacts, key: int, at: datetime, payload: dict[str, Any], fact_of: FactOf, _: Any
) -> None:
    found = _fact(facts, fact_of, key)
    if found is None or payload.get("incident_key") is None:
        return
    facts.incidents[payload["incident_key"]] = {
        "incident_key": payload["incident_key"],
        "instance_key": key,
        "process_id": found.process_id,
        "version": found.version,
        "element_id": payload["element_id"],
        "cause": payload["error_type"],
        "message": payload["message"],
        "opened_at": at,
        "resolved_at": None,
    }
    facts._bump(key, "incidents", facts.instances, facts.instance_changes)
    facts._hour(found.definition_key, payload["element_id"], at)[INCIDENTS] += 1
    facts._hour(found.definition_key, INSTANCE, at)[INCIDENTS] += 1


def _incident_resolved(
    facts: DerivedFacts, key: int, at: datetime, payload: dict[str, Any], _f: Any, _: Any
) -> None:
    if payload.get("incident_key") is None:
        return
    row = facts.incidents.get(payload["incident_key"])
    if row is not None:
        row["resolved_at"] = at
    else:
        facts.resolved[payload["incident_key"]] = at


def _instance_migrated(
    facts: DerivedFacts, key: int, at: datetime, payload: dict[str, Any], fact_of: FactOf, _: Any
) -> None:
    found = _fact(facts, fact_of, key)
    if found is None:
        return
    moved = FactInstance(
        payload["definition_key"], found.started_at, payload["process_id"], payload["version"]
    )
    facts._versions[key] = moved
    version = {
        "definition_key": moved.definition_key,
        "process_id": moved.process_id,
        "version": moved.version,
    }
    row = facts.instances.get(key)
    if row is not None:
        row.update(version)
    else:
        facts.moved_instances[key] = moved
    for element_key, _before, after in payload["elements"]:
        if element_key == key:
            continue
        element = facts.elements.get(element_key)
        if element is not None:
            element.update(version, element_id=after)
        else:
            facts.moved_elements[element_key] = (moved, after)


_ACTIVE = "active"

_VERSIONING = frozenset({"InstanceCreated", "InstanceMigrated"})
"""The events after which an instance's version, as its events so far say, may differ."""

_HANDLERS: dict[str, _Handler] = {
    "InstanceCreated": _instance_created,
    "InstanceCompleted": _instance_ended("completed"),
    "InstanceTerminated": _instance_ended("terminated"),
    "JobCreated": _job_created,
    "JobFailed": _job_failed,
    "UserTaskCreated": _user_task_created,
    "UserTaskCompleted": _user_task_completed,
    "IncidentRaised": _incident_raised,
    "IncidentResolved": _incident_resolved,
    "InstanceMigrated": _instance_migrated,
}

_KINDS: dict[str, _Handler | str] = {
    **_HANDLERS,
    "ElementActivated": _ACTIVE,
    "ElementCompleted": "completed",
    "ElementTerminated": "terminated",
}
"""What :meth:`DerivedFacts.add_chunks` does with each event it reads: a handler, or for an
element's start and end (most of them) the outcome it gives, handled in the loop itself."""


class KnownStarts:
    """The start times of the running element instances whose facts this process wrote, so
    that their ends need not read them back (a start never changes: any node may end them;
    a miss reads the stored fact; see :meth:`DerivedFacts.add_chunks`). Holds at most
    ``limit`` (then starts over)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._starts: dict[int, datetime] = {}

    @property
    def known(self) -> Mapping[int, datetime]:
        """The start times held, by element instance key (read-only use)."""
        return self._starts

    @staticmethod
    def changes(facts: DerivedFacts) -> tuple[dict[int, datetime], list[int]]:
        """What a settled batch of facts adds (running element instances) and removes (ended
        ones): applied with :meth:`apply` once the batch has committed."""
        opened = {
            key: row["started_at"] for key, row in facts.elements.items() if row["ended_at"] is None
        }
        ended = [key for key, change in facts.element_changes.items() if "ended_at" in change]
        ended += facts.dropped
        return opened, ended

    def apply(self, changes: tuple[dict[int, datetime], list[int]]) -> None:
        """Remember a committed batch's running element instances, forget its ended ones."""
        opened, ended = changes
        starts = self._starts
        for key in ended:
            starts.pop(key, None)
        if len(starts) + len(opened) > self.limit:
            starts.clear()
        starts.update(opened)
