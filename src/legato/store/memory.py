"""An in-memory :class:`~legato.store.ports.Store` for unit tests and the testing kit.

It is an honest fake: it keeps the same rules as the SQL adapter (foreign keys, unique keys,
revision checks, JSON round trips, aware UTC datetimes, all-or-nothing transactions), so a
test that passes here passes on SQLite.

A transaction writes into an overlay over the committed tables; the overlay is merged into
them when the block ends normally and dropped when it raises. One transaction runs at a time
(a lock serialises them, as SQLite's write lock does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from legato.errors import NotFoundError, StoreError
from legato.store._rules import (
    FIRST_KEY,
    dump_json,
    job_available_at,
    load_json,
    utc,
    utc_or_none,
)
from legato.store.ports import Store
from legato.store.records import (
    DefinitionRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceRecord,
    JobRecord,
    UserTaskRecord,
)

_K = TypeVar("_K")
_V = TypeVar("_V")


class _Overlay(Generic[_K, _V]):
    """Uncommitted changes over a committed dict; None marks a deleted key."""

    __slots__ = ("base", "changes")

    def __init__(self, base: dict[_K, _V]) -> None:
        self.base = base
        self.changes: dict[_K, _V | None] = {}

    def get(self, key: _K) -> _V | None:
        if key in self.changes:
            return self.changes[key]
        return self.base.get(key)

    def put(self, key: _K, value: _V) -> None:
        self.changes[key] = value

    def delete(self, key: _K) -> None:
        self.changes[key] = None

    def values(self) -> Iterator[_V]:
        changes = self.changes
        for key, value in self.base.items():
            if key not in changes:
                yield value
        for changed in changes.values():
            if changed is not None:
                yield changed

    def apply(self) -> None:
        for key, value in self.changes.items():
            if value is None:
                self.base.pop(key, None)
            else:
                self.base[key] = value


@dataclass(slots=True)
class _Tables:
    """The committed data. Instances and events keep their JSON as text, like the database."""

    next_key: int = FIRST_KEY
    definitions: dict[int, DefinitionRecord] = field(default_factory=dict)
    instances: dict[int, tuple[InstanceRecord, str]] = field(default_factory=dict)
    start_requests: dict[str, int] = field(default_factory=dict)
    history: dict[tuple[int, int], tuple[HistoryRecord, str]] = field(default_factory=dict)
    history_positions: dict[int, list[int]] = field(default_factory=dict)
    jobs: dict[int, JobRecord] = field(default_factory=dict)
    user_tasks: dict[int, UserTaskRecord] = field(default_factory=dict)
    incidents: dict[int, IncidentRecord] = field(default_factory=dict)


class MemoryStore:
    """A store that keeps everything in dictionaries (lost when the process ends)."""

    def __init__(self) -> None:
        self._tables = _Tables()
        # Serialises transactions like SQLite's write lock; a reentrant lock so that a nested
        # transaction() in the same thread fails with a clear error instead of deadlocking.
        self._lock = threading.RLock()
        self._active = False

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        """A transaction: commits when the block ends normally, rolls back on an exception.

        Raises:
            StoreError: if a transaction of this store is already open in this thread.
        """
        with self._lock:
            if self._active:
                raise StoreError("a transaction is already open; transactions do not nest")
            self._active = True
            tx = MemoryTransaction(self._tables)
            try:
                yield tx
                tx.commit()
            finally:
                tx.close()
                self._active = False

    def close(self) -> None:
        """Nothing to release; the data stays readable until the store is dropped."""


def _json_copy(text: str) -> Any:
    return load_json(text)


def _ordered(items: Iterable[_V], key: Callable[[_V], Any]) -> list[_V]:
    return sorted(items, key=key)


class MemoryTransaction:
    """Reads and writes of one in-memory transaction (the port: ``ports.Transaction``)."""

    def __init__(self, tables: _Tables) -> None:
        self._tables = tables
        self._open = True
        self._next_key = tables.next_key
        self._definitions = _Overlay(tables.definitions)
        self._instances = _Overlay(tables.instances)
        self._start_requests = _Overlay(tables.start_requests)
        self._history = _Overlay(tables.history)
        self._new_positions: dict[int, list[int]] = {}
        self._jobs = _Overlay(tables.jobs)
        self._user_tasks = _Overlay(tables.user_tasks)
        self._incidents = _Overlay(tables.incidents)

    # -- lifecycle ----------------------------------------------------------------------------
    def commit(self) -> None:
        """Merge the overlay into the committed tables."""
        self._check_open()
        tables = self._tables
        tables.next_key = self._next_key
        for overlay in self._overlays():
            overlay.apply()
        for instance_key, positions in self._new_positions.items():
            tables.history_positions.setdefault(instance_key, []).extend(positions)

    def close(self) -> None:
        """Refuse any further use (the overlay is simply dropped if not committed)."""
        self._open = False

    def _overlays(self) -> tuple[_Overlay[Any, Any], ...]:
        return (
            self._definitions,
            self._instances,
            self._start_requests,
            self._history,
            self._jobs,
            self._user_tasks,
            self._incidents,
        )

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("the transaction has ended")

    def _require_instance(self, instance_key: int) -> None:
        # Mirrors the SQL foreign keys, which SQLite checks statement by statement.
        if self._instances.get(instance_key) is None:
            raise StoreError(f"instance {instance_key} does not exist (foreign key)")

    # -- keys ---------------------------------------------------------------------------------
    def reserve_keys(self, count: int) -> range:
        """Reserve ``count`` fresh keys (returned to the pool if the transaction rolls back)."""
        self._check_open()
        if count < 1:
            raise StoreError(f"cannot reserve {count} keys")
        start = self._next_key
        self._next_key = start + count
        return range(start, start + count)

    # -- definitions --------------------------------------------------------------------------
    def insert_definition(self, record: DefinitionRecord) -> None:
        """Store a new process version."""
        self._check_open()
        if self._definitions.get(record.definition_key) is not None:
            raise StoreError(f"definition {record.definition_key} already exists")
        if self.find_definition(record.process_id, record.version) is not None:
            raise StoreError(f"process {record.process_id!r} already has version {record.version}")
        self._definitions.put(
            record.definition_key, replace(record, deployed_at=utc(record.deployed_at))
        )

    def get_definition(self, definition_key: int) -> DefinitionRecord | None:
        """One version by key."""
        self._check_open()
        return self._definitions.get(definition_key)

    def find_definition(
        self, process_id: str, version: int | None = None
    ) -> DefinitionRecord | None:
        """A process by id: the given version, or the latest when ``version`` is None."""
        self._check_open()
        found = [d for d in self._definitions.values() if d.process_id == process_id]
        if version is not None:
            return next((d for d in found if d.version == version), None)
        return max(found, key=lambda d: d.version, default=None)

    def list_definitions(self) -> list[DefinitionRecord]:
        """Every version of every process, by process id then version."""
        self._check_open()
        return _ordered(self._definitions.values(), lambda d: (d.process_id, d.version))

    # -- instances ----------------------------------------------------------------------------
    def insert_instance(self, record: InstanceRecord) -> None:
        """Store a new instance."""
        self._check_open()
        if self._instances.get(record.instance_key) is not None:
            raise StoreError(f"instance {record.instance_key} already exists")
        if self._definitions.get(record.definition_key) is None:
            raise StoreError(f"definition {record.definition_key} does not exist (foreign key)")
        self._put_instance(record)

    def update_instance(self, record: InstanceRecord) -> None:
        """Save an instance whose ``revision`` was incremented by the caller.

        Raises:
            StoreError: if the stored revision is not ``record.revision - 1``.
        """
        self._check_open()
        stored = self._instances.get(record.instance_key)
        if stored is None or stored[0].revision != record.revision - 1:
            raise StoreError(
                f"instance {record.instance_key} was changed concurrently "
                f"(expected revision {record.revision - 1})"
            )
        if self._definitions.get(record.definition_key) is None:
            raise StoreError(f"definition {record.definition_key} does not exist (foreign key)")
        self._put_instance(record)

    def insert_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Store several new instances."""
        for record in records:
            self.insert_instance(record)

    def update_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Save several instances, each with its revision check."""
        for record in records:
            self.update_instance(record)

    def _put_instance(self, record: InstanceRecord) -> None:
        # The state is kept as JSON text so that later changes to the caller's dict do not
        # leak in, and values that SQL could not store fail here too.
        text = dump_json(record.state)
        summary = replace(
            record,
            state={},
            started_at=utc(record.started_at),
            ended_at=utc_or_none(record.ended_at),
        )
        self._instances.put(record.instance_key, (summary, text))

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        """One instance by key (with its state)."""
        self._check_open()
        stored = self._instances.get(instance_key)
        if stored is None:
            return None
        return replace(stored[0], state=_json_copy(stored[1]))

    def list_instances(
        self,
        *,
        status: str | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InstanceRecord]:
        """Instances, newest first, with an empty ``state`` (as the SQL adapter returns them)."""
        self._check_open()
        found = [
            summary
            for summary, _ in self._instances.values()
            if (status is None or summary.status == status)
            and (process_id is None or summary.process_id == process_id)
            and (business_key is None or summary.business_key == business_key)
        ]
        found.sort(key=lambda i: (i.started_at, i.instance_key), reverse=True)
        return found[offset : offset + limit]

    def count_instances(self, *, status: str | None = None) -> int:
        """How many instances there are (with that status)."""
        self._check_open()
        return sum(1 for i, _ in self._instances.values() if status is None or i.status == status)

    # -- idempotent starts --------------------------------------------------------------------
    def find_start_request(self, request_id: str) -> int | None:
        """The instance key a start request id produced, if it was seen before."""
        self._check_open()
        return self._start_requests.get(request_id)

    def insert_start_request(self, request_id: str, instance_key: int, at: datetime) -> None:
        """Remember which instance a start request id produced (unique per request id)."""
        self._check_open()
        utc(at)
        if self._start_requests.get(request_id) is not None:
            raise StoreError(f"start request {request_id!r} was already recorded")
        self._require_instance(instance_key)
        self._start_requests.put(request_id, instance_key)

    # -- history ------------------------------------------------------------------------------
    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""
        self._check_open()
        staged: dict[tuple[int, int], tuple[HistoryRecord, str]] = {}
        for record in records:
            ident = (record.instance_key, record.position)
            if ident in staged or self._history.get(ident) is not None:
                raise StoreError(
                    f"instance {record.instance_key} already has an event at {record.position}"
                )
            self._require_instance(record.instance_key)
            # Only the JSON text is read back, so the record itself needs no copy.
            if record.at.tzinfo is not UTC:
                record = replace(record, at=utc(record.at))
            staged[ident] = (record, dump_json(record.payload))
        # All checks passed: a failing batch leaves nothing behind, like one SQL statement.
        for ident, stored in staged.items():
            self._history.put(ident, stored)
            self._new_positions.setdefault(ident[0], []).append(ident[1])

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""
        self._check_open()
        positions = [
            *self._tables.history_positions.get(instance_key, ()),
            *self._new_positions.get(instance_key, ()),
        ]
        events = []
        for position in sorted(positions):
            stored = self._history.get((instance_key, position))
            if stored is not None:
                events.append(replace(stored[0], payload=_json_copy(stored[1])))
        return events

    # -- jobs ---------------------------------------------------------------------------------
    def insert_jobs(self, records: Sequence[JobRecord]) -> None:
        """Store new jobs."""
        self._check_open()
        staged: dict[int, JobRecord] = {}
        for record in records:
            if record.job_key in staged or self._jobs.get(record.job_key) is not None:
                raise StoreError(f"job {record.job_key} already exists")
            self._require_instance(record.instance_key)
            staged[record.job_key] = _normal_job(record)
        for job_key, job in staged.items():
            self._jobs.put(job_key, job)

    def update_job(self, record: JobRecord) -> None:
        """Replace a job's row.

        Raises:
            NotFoundError: if the job does not exist.
        """
        self._check_open()
        if self._jobs.get(record.job_key) is None:
            raise NotFoundError(f"job {record.job_key} does not exist")
        self._require_instance(record.instance_key)
        self._jobs.put(record.job_key, _normal_job(record))

    def delete_jobs(self, job_keys: Sequence[int]) -> None:
        """Remove finished or cancelled jobs (unknown keys are ignored)."""
        self._check_open()
        for job_key in job_keys:
            if self._jobs.get(job_key) is not None:
                self._jobs.delete(job_key)

    def get_job(self, job_key: int) -> JobRecord | None:
        """One job by key."""
        self._check_open()
        job = self._jobs.get(job_key)
        return None if job is None else _copied_job(job)

    def activate_jobs(
        self,
        job_types: Sequence[str] | None,
        worker: str,
        max_jobs: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[JobRecord]:
        """Hand out up to ``max_jobs`` due jobs, oldest due first, leased to ``worker``."""
        self._check_open()
        now, lease_until = utc(now), utc(lease_until)
        if max_jobs < 1:
            return []
        due = [
            (available, job)
            for job, available in self._available_jobs(job_types)
            if available <= now
        ]
        due.sort(key=lambda pair: (pair[0], pair[1].job_key))
        activated = []
        for _, job in due[:max_jobs]:
            leased = replace(job, state="activated", worker=worker, lease_until=lease_until)
            self._jobs.put(job.job_key, leased)
            activated.append(_copied_job(leased))
        return activated

    def next_job_due_at(self, job_types: Sequence[str] | None) -> datetime | None:
        """When the next job (of these types) becomes due, counting expiring leases."""
        self._check_open()
        return min((available for _, available in self._available_jobs(job_types)), default=None)

    def _available_jobs(
        self, job_types: Sequence[str] | None
    ) -> Iterator[tuple[JobRecord, datetime]]:
        types = None if job_types is None else frozenset(job_types)
        for job in self._jobs.values():
            available = job_available_at(job)
            if available is not None and (types is None or job.job_type in types):
                yield job, available

    def list_jobs(
        self, *, instance_key: int | None = None, state: str | None = None
    ) -> list[JobRecord]:
        """Jobs, oldest first (by key)."""
        self._check_open()
        found = [
            _copied_job(job)
            for job in self._jobs.values()
            if (instance_key is None or job.instance_key == instance_key)
            and (state is None or job.state == state)
        ]
        return _ordered(found, lambda j: j.job_key)

    # -- user tasks ---------------------------------------------------------------------------
    def upsert_user_task(self, record: UserTaskRecord) -> None:
        """Insert or replace a user task."""
        self._check_open()
        self._require_instance(record.instance_key)
        normal = replace(
            record,
            candidate_groups=tuple(record.candidate_groups),
            candidate_users=tuple(record.candidate_users),
            created_at=utc(record.created_at),
            due_at=utc_or_none(record.due_at),
            follow_up_at=utc_or_none(record.follow_up_at),
            completed_at=utc_or_none(record.completed_at),
        )
        self._user_tasks.put(record.user_task_key, normal)

    def get_user_task(self, user_task_key: int) -> UserTaskRecord | None:
        """One user task by key."""
        self._check_open()
        return self._user_tasks.get(user_task_key)

    def list_user_tasks(
        self,
        *,
        state: str | None = "created",
        assignee: str | None = None,
        candidate_group: str | None = None,
        instance_key: int | None = None,
    ) -> list[UserTaskRecord]:
        """User tasks, oldest first."""
        self._check_open()
        found = [
            task
            for task in self._user_tasks.values()
            if (state is None or task.state == state)
            and (assignee is None or task.assignee == assignee)
            and (candidate_group is None or candidate_group in task.candidate_groups)
            and (instance_key is None or task.instance_key == instance_key)
        ]
        return _ordered(found, lambda t: (t.created_at, t.user_task_key))

    # -- incidents ----------------------------------------------------------------------------
    def upsert_incident(self, record: IncidentRecord) -> None:
        """Insert or replace an incident."""
        self._check_open()
        self._require_instance(record.instance_key)
        normal = replace(
            record,
            created_at=utc(record.created_at),
            resolved_at=utc_or_none(record.resolved_at),
        )
        self._incidents.put(record.incident_key, normal)

    def get_incident(self, incident_key: int) -> IncidentRecord | None:
        """One incident by key."""
        self._check_open()
        return self._incidents.get(incident_key)

    def list_incidents(
        self, *, state: str | None = "open", instance_key: int | None = None
    ) -> list[IncidentRecord]:
        """Incidents, oldest first."""
        self._check_open()
        found = [
            incident
            for incident in self._incidents.values()
            if (state is None or incident.state == state)
            and (instance_key is None or incident.instance_key == instance_key)
        ]
        return _ordered(found, lambda i: (i.created_at, i.incident_key))


def _normal_job(record: JobRecord) -> JobRecord:
    return replace(
        record,
        headers=dict(record.headers),
        due_at=utc(record.due_at),
        lease_until=utc_or_none(record.lease_until),
        created_at=utc_or_none(record.created_at),
    )


def _copied_job(job: JobRecord) -> JobRecord:
    # Headers are the one mutable field of a job; hand out a copy like a fresh SQL read.
    return replace(job, headers=dict(job.headers))


if TYPE_CHECKING:

    def _satisfies_port(store: MemoryStore) -> Store:
        # mypy proves here that the adapter implements the port.
        return store
