"""An in-memory :class:`~legato.store.ports.Store` for unit tests and the testing kit.

It is an honest fake: it keeps the same rules as the SQL adapter (foreign keys, unique keys,
revision checks, JSON round trips, aware UTC datetimes, all-or-nothing transactions), so a
test that passes here passes on SQLite.

A transaction writes into an overlay over the committed tables; the overlay is merged into
them when the block ends normally and dropped when it raises. One transaction runs at a time
(a lock serialises them, as SQLite's write lock does).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from legato.errors import ConflictError, NotFoundError, StoreError
from legato.store._rules import (
    FIRST_KEY,
    dump_json,
    has_status,
    job_available_at,
    load_json,
    message_is_stale,
    timer_available_at,
    utc,
    utc_or_none,
)
from legato.store.derived import (
    ACTIVE,
    COMPLETED,
    INCIDENTS,
    INSTANCE,
    TERMINATED,
    DerivedRows,
)
from legato.store.ports import ENDED_STATUSES, Store
from legato.store.records import (
    ApiKeyRecord,
    DecisionEvaluationRecord,
    DefinitionRecord,
    ElementCountsRecord,
    FormRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceQuery,
    InstanceRecord,
    JobRecord,
    MessageRecord,
    NodeRecord,
    SubscriptionRecord,
    TimerRecord,
    UserRecord,
    UserTaskQuery,
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


_IndexKeys = Callable[[_V], Iterable[Hashable]]
"""The secondary-index entries a stored value is found under."""


class _IndexedOverlay(_Overlay[int, _V]):
    """An overlay with secondary indexes, so that lookups by value cost what they find.

    The committed index (``index``, shared by all transactions) is only changed on
    :meth:`apply`; entries added by this transaction are kept aside until then. A lookup
    checks every candidate against the overlay's current value, so deleted rows and values
    that no longer match drop out without the index being touched.
    """

    __slots__ = ("added", "index", "index_keys")

    def __init__(
        self, base: dict[int, _V], index: dict[Hashable, set[int]], index_keys: _IndexKeys[_V]
    ) -> None:
        super().__init__(base)
        self.index = index
        self.index_keys = index_keys
        self.added: dict[Hashable, set[int]] = {}

    def put(self, key: int, value: _V) -> None:
        super().put(key, value)
        for entry in self.index_keys(value):
            self.added.setdefault(entry, set()).add(key)

    def lookup(self, entry: Hashable) -> list[_V]:
        """The current values indexed under ``entry`` (in no particular order)."""
        candidates = self.index.get(entry, set()) | self.added.get(entry, set())
        found = []
        for key in candidates:
            value = self.get(key)
            if value is not None and entry in self.index_keys(value):
                found.append(value)
        return found

    def apply(self) -> None:
        index = self.index
        for key, value in self.changes.items():
            old = self.base.get(key)
            if old is not None:
                for entry in self.index_keys(old):
                    keys = index.get(entry)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del index[entry]
            if value is None:
                self.base.pop(key, None)
            else:
                self.base[key] = value
                for entry in self.index_keys(value):
                    index.setdefault(entry, set()).add(key)


class _Agenda:
    """A min-heap of ``(when, key)`` shared by transactions: what becomes due next.

    Entries are never updated in place: a changed or deleted row simply leaves its old entry
    behind, and readers skip entries that no longer match the row (``is_current``). A
    transaction pops from the shared heap directly (transactions run one at a time) and logs
    what it popped, so that a rollback can push it all back: an entry that was stale in the
    rolled-back transaction's view may be current again in the committed one.
    """

    __slots__ = ("heap", "popped")

    def __init__(self, heap: list[tuple[datetime, int]]) -> None:
        self.heap = heap
        self.popped: list[tuple[datetime, int]] = []

    def push(self, when: datetime, key: int) -> None:
        heapq.heappush(self.heap, (when, key))

    def pop_due(
        self, now: datetime, limit: int, is_current: Callable[[tuple[datetime, int]], bool]
    ) -> list[int]:
        """Up to ``limit`` keys whose current entries are due by ``now``, earliest first."""
        heap = self.heap
        found: list[int] = []
        seen: set[int] = set()
        while heap and len(found) < limit and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            self.popped.append(entry)
            if entry[1] not in seen and is_current(entry):
                seen.add(entry[1])
                found.append(entry[1])
        return found

    def first(self, is_current: Callable[[tuple[datetime, int]], bool]) -> datetime | None:
        """The earliest current entry's time (stale entries on top are dropped)."""
        heap = self.heap
        while heap:
            if is_current(heap[0]):
                return heap[0][0]
            self.popped.append(heapq.heappop(heap))
        return None

    def rollback(self) -> None:
        for entry in self.popped:
            heapq.heappush(self.heap, entry)
        self.popped.clear()

    def compact(self, rows: int, live: Callable[[], Iterable[tuple[datetime, int]]]) -> None:
        """Rebuild from the live entries once stale ones outnumber the ``rows`` stored.

        Cancelled timers and correlated messages would otherwise stay until their time
        comes; rebuilding only at twice the size keeps the cost amortised per change.
        """
        if len(self.heap) > 2 * rows + 64:
            entries = list(live())
            heapq.heapify(entries)
            self.heap[:] = entries


def _timer_index(timer: TimerRecord) -> tuple[Hashable, ...]:
    if timer.instance_key is None:
        return (("start", timer.definition_key),)
    return (("instance", timer.instance_key),)


def _subscription_index(subscription: SubscriptionRecord) -> tuple[Hashable, ...]:
    # Mirrors the SQL indexes: every subscription by name (signals), start events by name,
    # instance subscriptions by name and correlation key, and the listings.
    kind, name = subscription.kind, subscription.name
    if subscription.instance_key is None:
        return (
            ("name", kind, name),
            ("start", kind, name),
            ("definition", subscription.definition_key),
        )
    return (
        ("name", kind, name),
        ("correlation", kind, name, subscription.correlation_key),
        ("instance", subscription.instance_key),
    )


def _message_index(stored: tuple[MessageRecord, str]) -> tuple[Hashable, ...]:
    message = stored[0]
    lookup = ("lookup", message.name, message.correlation_key)
    if message.message_id is None:
        return (lookup,)
    return (lookup, ("id", message.message_id))


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
    forms: dict[int, FormRecord] = field(default_factory=dict)
    incidents: dict[int, IncidentRecord] = field(default_factory=dict)
    timers: dict[int, TimerRecord] = field(default_factory=dict)
    timer_index: dict[Hashable, set[int]] = field(default_factory=dict)
    timer_agenda: list[tuple[datetime, int]] = field(default_factory=list)
    """(available at, key) of every claimable timer, plus stale entries (see _Agenda)."""
    subscriptions: dict[int, SubscriptionRecord] = field(default_factory=dict)
    subscription_index: dict[Hashable, set[int]] = field(default_factory=dict)
    messages: dict[int, tuple[MessageRecord, str]] = field(default_factory=dict)
    message_index: dict[Hashable, set[int]] = field(default_factory=dict)
    message_agenda: list[tuple[datetime, int]] = field(default_factory=list)
    """(expires at, key) of every buffered message, plus stale entries."""
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    api_keys: dict[str, ApiKeyRecord] = field(default_factory=dict)
    server_secrets: dict[str, str] = field(default_factory=dict)
    instance_variables: dict[tuple[int, str], str] = field(default_factory=dict)
    element_counts: dict[tuple[int, str, int], tuple[int, int, int, int]] = field(
        default_factory=dict
    )
    decision_evaluations: dict[tuple[int, int], DecisionEvaluationRecord] = field(
        default_factory=dict
    )


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

    def listen(self, wake: Callable[[], None]) -> None:
        """None: a memory store has one process, which knows its own work."""
        return None

    def close(self) -> None:
        """Nothing to release; the data stays readable until the store is dropped."""


def _json_copy(text: str) -> Any:
    return load_json(text)


def _task_matches(task: UserTaskRecord, query: UserTaskQuery) -> bool:
    for value, wanted in (
        (task.state, query.state),
        (task.assignee, query.assignee),
        (task.instance_key, query.instance_key),
        (task.process_id, query.process_id),
        (task.definition_key, query.definition_key),
        (task.element_id, query.element_id),
        (task.user_task_key, query.user_task_key),
    ):
        if wanted is not None and value != wanted:
            return False
    if query.candidate_user is not None and query.candidate_user not in task.candidate_users:
        return False
    if query.candidate_groups is not None and not set(query.candidate_groups).intersection(
        task.candidate_groups
    ):
        return False
    if query.candidate_group is not None and query.candidate_group not in task.candidate_groups:
        return False
    if query.unassigned_only and task.assignee is not None:
        return False
    if query.name_contains and query.name_contains.lower() not in (task.name or "").lower():
        return False
    if query.visible_to is not None:
        user, groups = query.visible_to
        return (
            task.assignee == user
            or user in task.candidate_users
            or bool(set(groups).intersection(task.candidate_groups))
            or (task.assignee is None and not task.candidate_users and not task.candidate_groups)
        )
    return True


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
        self._forms = _Overlay(tables.forms)
        self._incidents = _Overlay(tables.incidents)
        self._timers = _IndexedOverlay(tables.timers, tables.timer_index, _timer_index)
        self._timer_agenda = _Agenda(tables.timer_agenda)
        self._subscriptions = _IndexedOverlay(
            tables.subscriptions, tables.subscription_index, _subscription_index
        )
        self._messages = _IndexedOverlay(tables.messages, tables.message_index, _message_index)
        self._message_agenda = _Agenda(tables.message_agenda)
        self._nodes = _Overlay(tables.nodes)
        self._users = _Overlay(tables.users)
        self._api_keys = _Overlay(tables.api_keys)
        self._server_secrets = _Overlay(tables.server_secrets)
        self._instance_variables = _Overlay(tables.instance_variables)
        self._element_counts = _Overlay(tables.element_counts)
        self._decision_evaluations = _Overlay(tables.decision_evaluations)
        self._purged_instances: list[int] = []
        self._committed = False

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
        for instance_key in self._purged_instances:
            tables.history_positions.pop(instance_key, None)
        self._timer_agenda.compact(
            len(tables.timers),
            lambda: (
                (available, key)
                for key, timer in tables.timers.items()
                if (available := timer_available_at(timer)) is not None
            ),
        )
        self._message_agenda.compact(
            len(tables.messages),
            lambda: ((message.expires_at, key) for key, (message, _) in tables.messages.items()),
        )
        self._committed = True

    def close(self) -> None:
        """Refuse any further use (the overlay is simply dropped if not committed)."""
        if self._open and not self._committed:
            # The agendas are shared heaps, not overlays: put back what this one took.
            self._timer_agenda.rollback()
            self._message_agenda.rollback()
        self._open = False

    def _overlays(self) -> tuple[_Overlay[Any, Any], ...]:
        return (
            self._definitions,
            self._instances,
            self._start_requests,
            self._history,
            self._jobs,
            self._user_tasks,
            self._forms,
            self._incidents,
            self._timers,
            self._subscriptions,
            self._messages,
            self._nodes,
            self._users,
            self._api_keys,
            self._server_secrets,
            self._instance_variables,
            self._element_counts,
            self._decision_evaluations,
        )

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("the transaction has ended")

    def _require_instance(self, instance_key: int) -> None:
        # Mirrors the SQL foreign keys, which SQLite checks statement by statement.
        if self._instances.get(instance_key) is None:
            raise StoreError(f"instance {instance_key} does not exist (foreign key)")

    def _require_owner(self, definition_key: int, instance_key: int | None) -> None:
        if self._definitions.get(definition_key) is None:
            raise StoreError(f"definition {definition_key} does not exist (foreign key)")
        if instance_key is not None:
            self._require_instance(instance_key)

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
            raise ConflictError(
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

    def get_revision(self, instance_key: int) -> int | None:
        """The stored revision of an instance."""
        self._check_open()
        stored = self._instances.get(instance_key)
        return None if stored is None else stored[0].revision

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        """One instance by key (with its state)."""
        self._check_open()
        stored = self._instances.get(instance_key)
        if stored is None:
            return None
        return replace(stored[0], state=_json_copy(stored[1]))

    def get_instances(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys (with their states); unknown keys are left out."""
        found = (self.get_instance(key) for key in dict.fromkeys(instance_keys))
        return [record for record in found if record is not None]

    def get_revisions(self, instance_keys: Sequence[int]) -> dict[int, int]:
        """The stored revision of each of these instances (unknown keys are left out)."""
        found = ((key, self.get_revision(key)) for key in instance_keys)
        return {key: revision for key, revision in found if revision is not None}

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
            if has_status(summary, status)
            and (process_id is None or summary.process_id == process_id)
            and (business_key is None or summary.business_key == business_key)
        ]
        found.sort(key=lambda i: (i.started_at, i.instance_key), reverse=True)
        return found[offset : offset + limit]

    def count_instances(self, *, status: str | None = None) -> int:
        """How many instances there are (with that status)."""
        self._check_open()
        return sum(1 for i, _ in self._instances.values() if has_status(i, status))

    def select_instance_keys(
        self,
        *,
        process_id: str | None = None,
        version: int | None = None,
        status: str | None = None,
        business_key: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        limit: int,
    ) -> list[int]:
        """The keys of up to ``limit`` matching instances, oldest first."""
        self._check_open()
        after = None if started_after is None else utc(started_after)
        before = None if started_before is None else utc(started_before)
        found = [
            i
            for i, _ in self._instances.values()
            if has_status(i, status)
            and process_id in (None, i.process_id)
            and version in (None, i.version)
            and business_key in (None, i.business_key)
            and (after is None or i.started_at >= after)
            and (before is None or i.started_at < before)
        ]
        found.sort(key=lambda i: (i.started_at, i.instance_key))
        return [i.instance_key for i in found[:limit]]

    # -- cockpit queries and the tables derived from history ---------------------------------
    def _matches(self, summary: InstanceRecord, query: InstanceQuery) -> bool:
        for value, wanted in (
            (summary.process_id, query.process_id),
            (summary.version, query.version),
            (summary.business_key, query.business_key),
            (summary.parent_instance_key, query.parent_instance_key),
        ):
            if wanted is not None and value != wanted:
                return False
        if query.status == "incident":
            if summary.status != "active" or summary.incident_count <= 0:
                return False
        elif query.status == "suspended":
            if summary.status != "active" or not summary.suspended:
                return False
        elif query.status is not None and summary.status != query.status:
            return False
        if query.variable is not None:
            name, value = query.variable
            if self._instance_variables.get((summary.instance_key, name)) != value:
                return False
        for at, low, high in (
            (summary.started_at, query.started_from, query.started_before),
            (summary.ended_at, query.ended_from, query.ended_before),
        ):
            if (low is not None or high is not None) and at is None:
                return False
            if low is not None and at is not None and at < low:
                return False
            if high is not None and at is not None and at >= high:
                return False
        return query.after is None or (summary.started_at, summary.instance_key) < query.after

    def _search(self, query: InstanceQuery) -> list[InstanceRecord]:
        self._check_open()
        found = [s for s, _ in self._instances.values() if self._matches(s, query)]
        found.sort(key=lambda i: (i.started_at, i.instance_key), reverse=True)
        return found

    def search_instances(self, query: InstanceQuery) -> list[InstanceRecord]:
        """The page of instances ``query`` asks for, newest first (empty states)."""
        return self._search(query)[: query.limit]

    def count_instances_upto(self, query: InstanceQuery, cap: int) -> int:
        """How many instances ``query`` finds, up to ``cap``."""
        return min(len(self._search(query)), cap)

    def instance_summaries(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys with empty states."""
        self._check_open()
        found = (self._instances.get(key) for key in dict.fromkeys(instance_keys))
        return [stored[0] for stored in found if stored is not None]

    def write_derived(self, rows: DerivedRows, shard: int) -> None:
        """Apply derived-table changes (counter deltas added to ``shard``)."""
        self._check_open()
        for (instance_key, name), value in rows.variables.items():
            self._require_instance(instance_key)
            if value is None:
                self._instance_variables.delete((instance_key, name))
            else:
                self._instance_variables.put((instance_key, name), value)
        for (definition_key, element_id), delta in rows.counts.items():
            key = (definition_key, element_id, shard)
            old = self._element_counts.get(key) or (0, 0, 0, 0)
            new = (old[0] + delta[0], old[1] + delta[1], old[2] + delta[2], old[3] + delta[3])
            self._element_counts.put(key, new)
        for evaluation in rows.evaluations:
            self._require_instance(evaluation.instance_key)
            ident = (evaluation.instance_key, evaluation.position)
            if self._decision_evaluations.get(ident) is not None:
                raise StoreError(f"evaluation {ident} was already recorded")
            self._decision_evaluations.put(
                ident, replace(evaluation, evaluated_at=utc(evaluation.evaluated_at))
            )

    def clear_derived(self) -> None:
        """Empty the derived tables."""
        self._check_open()
        for overlay in (
            self._instance_variables,
            self._element_counts,
            self._decision_evaluations,
        ):
            for key in [*overlay.base, *overlay.changes]:
                overlay.delete(key)

    def element_counts(self, definition_keys: Sequence[int]) -> list[ElementCountsRecord]:
        """Per element, the counters of these versions summed over shards and versions."""
        self._check_open()
        wanted = set(definition_keys)
        sums: dict[str, list[int]] = {}
        for key in [*self._element_counts.base, *self._element_counts.changes]:
            counts = self._element_counts.get(key)
            if counts is None or key[0] not in wanted or key[1] == INSTANCE:
                continue
            total = sums.setdefault(key[1], [0, 0, 0, 0])
            for slot, value in enumerate(counts):
                total[slot] += value
        return [ElementCountsRecord(element_id, *sums[element_id]) for element_id in sorted(sums)]

    def counts_by_definition(self) -> dict[int, tuple[int, int, int, int]]:
        """Per definition key: instances active, completed, terminated; open incidents."""
        self._check_open()
        sums: dict[int, list[int]] = {}
        for key in {*self._element_counts.base, *self._element_counts.changes}:
            counts = self._element_counts.get(key)
            if counts is None:
                continue
            total = sums.setdefault(key[0], [0, 0, 0, 0])
            if key[1] == INSTANCE:
                for slot in (ACTIVE, COMPLETED, TERMINATED):
                    total[slot] += counts[slot]
            total[INCIDENTS] += counts[INCIDENTS]
        return {key: (t[0], t[1], t[2], t[3]) for key, t in sums.items()}

    def open_incident_causes(
        self, limit: int
    ) -> list[tuple[str, str, str, str, int, datetime, datetime]]:
        """Open incidents counted by exact cause."""
        causes: dict[tuple[str, str, str, str], list[Any]] = {}
        for process_id, incident in self.open_incidents_with_process(1 << 62):
            cause = (process_id, incident.element_id, incident.error_type, incident.message)
            found = causes.get(cause)
            if found is None:
                causes[cause] = [1, incident.created_at, incident.created_at]
            else:
                found[0] += 1
                found[1] = min(found[1], incident.created_at)
                found[2] = max(found[2], incident.created_at)
        return [(*cause, *found) for cause, found in list(causes.items())[:limit]]

    def open_incidents_with_process(self, limit: int) -> list[tuple[str, IncidentRecord]]:
        """Open incidents, oldest first, with their instances' process ids."""
        found = []
        for incident in self.list_incidents(state="open")[:limit]:
            stored = self._instances.get(incident.instance_key)
            if stored is not None:
                found.append((stored[0].process_id, incident))
        return found

    def list_decision_evaluations(
        self, decision_id: str, *, after: tuple[datetime, int, int] | None, limit: int
    ) -> list[DecisionEvaluationRecord]:
        """A decision's evaluations, newest first."""
        self._check_open()
        found = [
            e
            for e in self._decision_evaluations.values()
            if e.decision_id == decision_id
            and (after is None or (e.evaluated_at, e.instance_key, e.position) < after)
        ]
        found.sort(key=lambda e: (e.evaluated_at, e.instance_key, e.position), reverse=True)
        return found[:limit]

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

    def get_job(self, job_key: int, *, for_update: bool = False) -> JobRecord | None:
        """One job by key (one writer at a time: ``for_update`` needs no lock here)."""
        self._check_open()
        job = self._jobs.get(job_key)
        return None if job is None else _copied_job(job)

    def find_fetchable_jobs(
        self,
        job_types: Sequence[str],
        now: datetime,
        limit: int,
        *,
        business_key: str | None = None,
        process_ids: Sequence[str] | None = None,
        definition_keys: Sequence[int] | None = None,
        after: tuple[datetime, int] | None = None,
        by_priority: bool = False,
    ) -> list[JobRecord]:
        """Jobs that may be handed out now, oldest due first (highest priority first with
        ``by_priority``), of instances that match."""
        self._check_open()
        now = utc(now)
        if limit < 1 or not job_types:
            return []
        start = None if after is None or by_priority else (utc(after[0]), after[1])
        due = sorted(
            ((available, job.job_key), job)
            for job, available in self._available_jobs(job_types)
            if available <= now
        )
        if by_priority:
            due.sort(key=lambda pair: -pair[1].priority)  # stable: oldest first within one
        found: list[JobRecord] = []
        for position, job in due:
            if start is not None and position <= start:
                continue
            stored = self._instances.get(job.instance_key)
            if stored is None:
                continue
            instance = stored[0]
            if (
                (business_key is not None and instance.business_key != business_key)
                or (process_ids is not None and instance.process_id not in process_ids)
                or (definition_keys is not None and instance.definition_key not in definition_keys)
            ):
                continue
            found.append(_copied_job(job))
            if len(found) >= limit:
                break
        return found

    def lease_jobs(
        self, job_keys: Sequence[int], worker: str, now: datetime, lease_until: datetime
    ) -> list[JobRecord]:
        """Lease those of these jobs that may still be handed out at ``now``."""
        self._check_open()
        now, lease_until = utc(now), utc(lease_until)
        leased = []
        for key in job_keys:
            job = self._jobs.get(key)
            available = None if job is None else job_available_at(job)
            if job is None or available is None or available > now:
                continue
            job = replace(job, state="activated", worker=worker, lease_until=lease_until)
            self._jobs.put(key, job)
            leased.append(_copied_job(job))
        return leased

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

    def extend_leases(
        self, job_keys: Sequence[int], worker: str, lease_until: datetime
    ) -> list[int]:
        """Extend ``worker``'s leases of these jobs; the keys it still held."""
        self._check_open()
        held = []
        for key in sorted(set(job_keys)):
            job = self._jobs.get(key)
            if job is not None and job.state == "activated" and job.worker == worker:
                self._jobs.put(key, replace(job, lease_until=utc(lease_until)))
                held.append(key)
        return held

    def release_jobs(self, job_keys: Sequence[int], worker: str) -> int:
        """Give back ``worker``'s jobs: activatable again from their due time."""
        self._check_open()
        released = 0
        for key in set(job_keys):
            job = self._jobs.get(key)
            if job is not None and job.state == "activated" and job.worker == worker:
                self._jobs.put(
                    key, replace(job, state="activatable", worker=None, lease_until=None)
                )
                released += 1
        return released

    def next_job_due_at(
        self,
        job_types: Sequence[str] | None,
        *,
        held: bool = True,
        after: datetime | None = None,
    ) -> datetime | None:
        """When the next job (of these types) becomes due, counting expiring leases unless
        ``held`` is False; the first such time later than ``after`` when given."""
        self._check_open()
        later = None if after is None else utc(after)
        return min(
            (
                available
                for job, available in self._available_jobs(job_types)
                if (held or job.state == "activatable") and (later is None or available > later)
            ),
            default=None,
        )

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

    # -- timers -------------------------------------------------------------------------------
    def insert_timers(self, records: Sequence[TimerRecord]) -> None:
        """Store new timers."""
        self._check_open()
        staged: dict[int, TimerRecord] = {}
        for record in records:
            if record.timer_key in staged or self._timers.get(record.timer_key) is not None:
                raise StoreError(f"timer {record.timer_key} already exists")
            self._require_owner(record.definition_key, record.instance_key)
            staged[record.timer_key] = replace(
                record, due_at=utc(record.due_at), lease_until=utc_or_none(record.lease_until)
            )
        for timer_key, timer in staged.items():
            self._put_timer(timer_key, timer)

    def _put_timer(self, timer_key: int, timer: TimerRecord) -> None:
        self._timers.put(timer_key, timer)
        available = timer_available_at(timer)
        if available is not None:
            self._timer_agenda.push(available, timer_key)

    def _timer_is_current(self, entry: tuple[datetime, int]) -> bool:
        timer = self._timers.get(entry[1])
        return timer is not None and timer_available_at(timer) == entry[0]

    def delete_timers(self, timer_keys: Sequence[int]) -> None:
        """Remove fired or cancelled timers (unknown keys are ignored)."""
        self._check_open()
        for timer_key in timer_keys:
            if self._timers.get(timer_key) is not None:
                self._timers.delete(timer_key)

    def claim_due_timers(
        self, now: datetime, max_timers: int, lease_until: datetime
    ) -> list[TimerRecord]:
        """Claim up to ``max_timers`` due timers (or expired claims) until ``lease_until``.

        Earliest available first, ties by key.
        """
        self._check_open()
        now, lease_until = utc(now), utc(lease_until)
        if max_timers < 1:
            return []
        claimed = []
        for timer_key in self._timer_agenda.pop_due(now, max_timers, self._timer_is_current):
            timer = self._timers.get(timer_key)
            assert timer is not None  # the agenda only yields current timers
            timer = replace(timer, state="claimed", lease_until=lease_until)
            self._put_timer(timer_key, timer)
            claimed.append(timer)
        return claimed

    def next_timer_due_at(self) -> datetime | None:
        """When the next timer becomes due (counting expiring claims)."""
        self._check_open()
        return self._timer_agenda.first(self._timer_is_current)

    def list_timers(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[TimerRecord]:
        """Timers by due time, then key.

        With ``instance_key``, that instance's timers (of ``definition_key`` if also given);
        with only ``definition_key``, the timer start events of that definition; with
        neither, every timer.
        """
        self._check_open()
        found: Iterable[TimerRecord]
        if instance_key is not None:
            found = [
                timer
                for timer in self._timers.lookup(("instance", instance_key))
                if definition_key is None or timer.definition_key == definition_key
            ]
        elif definition_key is not None:
            found = self._timers.lookup(("start", definition_key))
        else:
            found = self._timers.values()
        return _ordered(found, lambda t: (t.due_at, t.timer_key))

    # -- message and signal subscriptions ----------------------------------------------------
    def insert_subscriptions(self, records: Sequence[SubscriptionRecord]) -> None:
        """Store new subscriptions."""
        self._check_open()
        staged: dict[int, SubscriptionRecord] = {}
        for record in records:
            key = record.subscription_key
            if key in staged or self._subscriptions.get(key) is not None:
                raise StoreError(f"subscription {key} already exists")
            self._require_owner(record.definition_key, record.instance_key)
            staged[key] = record
        for key, subscription in staged.items():
            self._subscriptions.put(key, subscription)

    def delete_subscriptions(self, subscription_keys: Sequence[int]) -> None:
        """Remove closed subscriptions (unknown keys are ignored)."""
        self._check_open()
        for key in subscription_keys:
            if self._subscriptions.get(key) is not None:
                self._subscriptions.delete(key)

    def find_subscriptions(
        self, kind: str, name: str, correlation_key: str | None = None
    ) -> list[SubscriptionRecord]:
        """Open subscriptions of ``kind`` for ``name``, oldest (by key) first.

        For messages an instance subscription matches when its correlation key equals
        ``correlation_key`` (None equals None); start events always match. Signals ignore
        correlation keys.
        """
        self._check_open()
        lookup = self._subscriptions.lookup
        if kind == "message":
            found = [
                *lookup(("correlation", kind, name, correlation_key)),
                *lookup(("start", kind, name)),
            ]
        else:
            found = lookup(("name", kind, name))
        return _ordered(found, lambda s: s.subscription_key)

    def find_message_subscriptions(
        self, name: str, correlation_keys: Sequence[str | None]
    ) -> list[SubscriptionRecord]:
        """Open message subscriptions of ``name`` for any of ``correlation_keys`` and the
        start-event ones of the name, each once, oldest (by key) first."""
        self._check_open()
        lookup = self._subscriptions.lookup
        found = [lookup(("correlation", "message", name, key)) for key in set(correlation_keys)]
        found.append(lookup(("start", "message", name)))
        return _ordered(chain.from_iterable(found), lambda s: s.subscription_key)

    def list_subscriptions(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[SubscriptionRecord]:
        """Subscriptions by key.

        With ``instance_key``, that instance's (of ``definition_key`` if also given); with
        only ``definition_key``, the start-event ones of that definition; with neither, all.
        """
        self._check_open()
        found: Iterable[SubscriptionRecord]
        if instance_key is not None:
            found = [
                subscription
                for subscription in self._subscriptions.lookup(("instance", instance_key))
                if definition_key is None or subscription.definition_key == definition_key
            ]
        elif definition_key is not None:
            found = self._subscriptions.lookup(("definition", definition_key))
        else:
            found = self._subscriptions.values()
        return _ordered(found, lambda s: s.subscription_key)

    # -- buffered messages --------------------------------------------------------------------
    def insert_message(self, record: MessageRecord) -> MessageRecord:
        """Buffer a message; with a ``message_id`` already buffered, return that one instead.

        A buffered message with the id that had expired by ``record.published_at`` (its row
        not swept yet) is replaced.
        """
        self._check_open()
        message = replace(
            record,
            published_at=utc(record.published_at),
            expires_at=utc(record.expires_at),
            variables={},
        )
        # Encoded first: a message the database could not store fails before any check.
        text = dump_json(record.variables)
        if message.message_id is not None:
            for stored, stored_text in self._messages.lookup(("id", message.message_id)):
                if not message_is_stale(stored, message):
                    return replace(stored, variables=_json_copy(stored_text))
                self._messages.delete(stored.message_key)
        if self._messages.get(message.message_key) is not None:
            raise StoreError(f"message {message.message_key} already exists")
        self._messages.put(message.message_key, (message, text))
        self._message_agenda.push(message.expires_at, message.message_key)
        return replace(message, variables=_json_copy(text))

    def find_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[MessageRecord]:
        """Buffered messages of this name and correlation key (None equals None) that expire
        after ``now``, oldest (by key) first."""
        self._check_open()
        now = utc(now)
        found = [
            replace(message, variables=_json_copy(text))
            for message, text in self._messages.lookup(("lookup", name, correlation_key))
            if message.expires_at > now
        ]
        return _ordered(found, lambda m: m.message_key)

    def delete_messages(self, message_keys: Sequence[int]) -> None:
        """Remove correlated messages (unknown keys are ignored)."""
        self._check_open()
        for key in message_keys:
            if self._messages.get(key) is not None:
                self._messages.delete(key)

    def expire_messages(self, now: datetime) -> list[MessageRecord]:
        """Remove and return the messages with ``expires_at <= now``, oldest (by key) first."""
        self._check_open()
        now = utc(now)
        expired = []
        agenda = self._message_agenda
        for key in agenda.pop_due(now, len(agenda.heap), self._message_is_current):
            stored = self._messages.get(key)
            assert stored is not None  # the agenda only yields current messages
            self._messages.delete(key)
            expired.append(replace(stored[0], variables=_json_copy(stored[1])))
        return _ordered(expired, lambda m: m.message_key)

    def _message_is_current(self, entry: tuple[datetime, int]) -> bool:
        stored = self._messages.get(entry[1])
        return stored is not None and stored[0].expires_at == entry[0]

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
            updated_at=utc_or_none(record.updated_at),
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
        return self.find_user_tasks(
            UserTaskQuery(
                state=state,
                assignee=assignee,
                candidate_group=candidate_group,
                instance_key=instance_key,
            )
        )

    def find_user_tasks(self, query: UserTaskQuery) -> list[UserTaskRecord]:
        """The page of user tasks ``query`` asks for, in its order."""
        self._check_open()
        found = [t for t in self._user_tasks.values() if _task_matches(t, query)]
        found.sort(key=lambda t: t.user_task_key)
        for name, direction in reversed(query.sort):  # stable sorts, last key first
            present = [t for t in found if getattr(t, name) is not None]
            absent = [t for t in found if getattr(t, name) is None]
            present.sort(key=lambda t: getattr(t, name), reverse=direction == "desc")
            found = present + absent
        end = None if query.limit is None else query.offset + query.limit
        return found[query.offset : end]

    def count_user_tasks(self, query: UserTaskQuery) -> int:
        """How many user tasks ``query``'s filters find (its page ignored)."""
        self._check_open()
        return sum(1 for t in self._user_tasks.values() if _task_matches(t, query))

    # -- forms --------------------------------------------------------------------------------
    def insert_form(self, record: FormRecord) -> None:
        """Store a new version of a form."""
        self._check_open()
        if self._forms.get(record.form_key) is not None:
            raise StoreError(f"form {record.form_key} already exists")
        if self.find_form(record.form_id, version=record.version) is not None:
            raise StoreError(f"form {record.form_id!r} already has version {record.version}")
        self._forms.put(record.form_key, replace(record, deployed_at=utc(record.deployed_at)))

    def find_form(
        self,
        form_id: str | None = None,
        *,
        form_key: int | None = None,
        version: int | None = None,
        version_tag: str | None = None,
    ) -> FormRecord | None:
        """A form version by key, or by id (the latest, or the given version, or the latest
        with the given version tag)."""
        self._check_open()
        found = [
            f
            for f in self._forms.values()
            if (form_key is None or f.form_key == form_key)
            and (form_id is None or f.form_id == form_id)
            and (version is None or f.version == version)
            and (version_tag is None or f.version_tag == version_tag)
        ]
        return max(found, key=lambda f: f.version, default=None)

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

    # -- nodes and coordination ---------------------------------------------------------------
    def save_node(self, record: NodeRecord) -> None:
        """Insert or replace a node's row."""
        self._check_open()
        self._nodes.put(
            record.node_id,
            replace(
                record, started_at=utc(record.started_at), heartbeat_at=utc(record.heartbeat_at)
            ),
        )

    def list_nodes(self) -> list[NodeRecord]:
        """Every node, by id."""
        self._check_open()
        return _ordered(self._nodes.values(), lambda n: n.node_id)

    def release_dead_nodes(self, now: datetime, timeout: timedelta) -> list[str]:
        """Mark silent nodes dead and end the leases of their jobs."""
        self._check_open()
        limit = utc(now) - timeout
        dead = [
            node
            for node in self._nodes.values()
            if node.status == "running" and node.heartbeat_at < limit
        ]
        names = {node.node_id for node in dead}
        for node in dead:
            self._nodes.put(node.node_id, replace(node, status="dead"))
        held = [
            job for job in self._jobs.values() if job.state == "activated" and job.worker in names
        ]
        for job in held:
            self._jobs.put(job.job_key, replace(job, lease_until=utc(now)))
        return sorted(names)

    def try_lock(self, name: str) -> bool:
        """Always granted: transactions of a memory store run one at a time."""
        self._check_open()
        return True

    def database_now(self) -> datetime | None:
        """None: a memory store lives in one process, on its clock."""
        return None

    # -- retention ----------------------------------------------------------------------------
    def find_expired_instances(self, ended_before: datetime, limit: int) -> list[int]:
        """Keys of up to ``limit`` removable instances (see the port), ascending."""
        self._check_open()
        cutoff = utc(ended_before)
        found = sorted(
            summary.instance_key
            for summary, _ in self._instances.values()
            if self._is_expired(summary, cutoff)
        )
        return found[: max(limit, 0)]

    def _is_expired(self, summary: InstanceRecord, cutoff: datetime) -> bool:
        if summary.status not in ENDED_STATUSES or summary.ended_at is None:
            return False
        if summary.ended_at >= cutoff:
            return False
        parent_key = summary.parent_instance_key
        parent = None if parent_key is None else self._instances.get(parent_key)
        return parent is None or parent[0].status in ENDED_STATUSES

    def delete_instances(self, instance_keys: Sequence[int]) -> int:
        """Delete these ended instances and their rows; others are skipped."""
        self._check_open()
        ended = set()
        for key in instance_keys:
            stored = self._instances.get(key)
            if stored is not None and stored[0].status in ENDED_STATUSES:
                ended.add(key)
        for key in ended:
            self._delete_history(key)
            for timer in self._timers.lookup(("instance", key)):
                self._timers.delete(timer.timer_key)
            for subscription in self._subscriptions.lookup(("instance", key)):
                self._subscriptions.delete(subscription.subscription_key)
            self._instances.delete(key)
        # One pass over each unindexed table for the whole batch.
        for job in list(self._jobs.values()):
            if job.instance_key in ended:
                self._jobs.delete(job.job_key)
        for task in list(self._user_tasks.values()):
            if task.instance_key in ended:
                self._user_tasks.delete(task.user_task_key)
        for incident in list(self._incidents.values()):
            if incident.instance_key in ended:
                self._incidents.delete(incident.incident_key)
        for overlay in (self._instance_variables, self._decision_evaluations):
            for ident in [*overlay.base, *overlay.changes]:
                if ident[0] in ended:
                    overlay.delete(ident)
        requests = self._start_requests
        for request_id, owner in [*requests.base.items(), *requests.changes.items()]:
            if owner in ended and requests.get(request_id) == owner:
                requests.delete(request_id)
        return len(ended)

    def _delete_history(self, instance_key: int) -> None:
        committed = self._tables.history_positions.get(instance_key, ())
        for position in [*committed, *self._new_positions.pop(instance_key, ())]:
            self._history.delete((instance_key, position))
        # The committed position list goes at commit (it is shared, not an overlay).
        self._purged_instances.append(instance_key)

    # -- accounts -----------------------------------------------------------------------------
    def insert_user(self, record: UserRecord) -> bool:
        """Store a new user unless the name is taken (False then)."""
        self._check_open()
        if self._users.get(record.name) is not None:
            return False
        self._users.put(record.name, replace(record, created_at=utc(record.created_at)))
        return True

    def update_user(self, record: UserRecord) -> bool:
        """Replace a user's row; False if there is no such user."""
        self._check_open()
        if self._users.get(record.name) is None:
            return False
        self._users.put(record.name, replace(record, created_at=utc(record.created_at)))
        return True

    def delete_user(self, name: str) -> bool:
        """Remove a user; False if there was none."""
        self._check_open()
        if self._users.get(name) is None:
            return False
        self._users.delete(name)
        return True

    def get_user(self, name: str) -> UserRecord | None:
        """One user by name."""
        self._check_open()
        return self._users.get(name)

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""
        self._check_open()
        return _ordered(self._users.values(), lambda u: u.name)

    def count_users(self) -> int:
        """How many users there are."""
        self._check_open()
        return sum(1 for _ in self._users.values())

    def insert_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new API key (a taken key id is a :class:`ConflictError`, as in SQL)."""
        self._check_open()
        if self._api_keys.get(record.key_id) is not None:
            raise ConflictError(f"concurrent change: API key {record.key_id} exists")
        self._api_keys.put(record.key_id, _normal_api_key(record))

    def update_api_key(self, record: ApiKeyRecord) -> bool:
        """Replace an API key's row; False if there is no such key."""
        self._check_open()
        if self._api_keys.get(record.key_id) is None:
            return False
        self._api_keys.put(record.key_id, _normal_api_key(record))
        return True

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """One API key by id."""
        self._check_open()
        return self._api_keys.get(key_id)

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key, oldest first."""
        self._check_open()
        return _ordered(self._api_keys.values(), lambda k: (k.created_at, k.key_id))

    def ensure_server_secret(self, name: str, value: str, at: datetime) -> str:
        """The stored secret ``name``, stored with ``value`` first if there was none."""
        self._check_open()
        utc(at)  # the same check of the instant as the SQL column
        stored = self._server_secrets.get(name)
        if stored is None:
            self._server_secrets.put(name, value)
            stored = value
        return stored


def _normal_api_key(record: ApiKeyRecord) -> ApiKeyRecord:
    return replace(
        record,
        created_at=utc(record.created_at),
        last_used_at=utc_or_none(record.last_used_at),
        revoked_at=utc_or_none(record.revoked_at),
    )


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
