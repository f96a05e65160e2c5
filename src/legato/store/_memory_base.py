"""What every part of the in-memory transaction shares: the committed tables, the overlays a
transaction writes into, commit and rollback, key reservation and the foreign-key checks."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from legato.errors import StoreError
from legato.store._rules import FIRST_KEY, load_json, timer_available_at
from legato.store.facts import ElementFact, IncidentFact, InstanceFact
from legato.store.records import (
    AlertRecord,
    ApiKeyRecord,
    AuditCheckpoint,
    AuditRecord,
    BatchOperationRecord,
    DecisionEvaluationRecord,
    DefinitionRecord,
    DeliveryRecord,
    FormRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceRecord,
    JobRecord,
    MessageRecord,
    NodeRecord,
    RolloutRecord,
    ServiceLevelRecord,
    SignInFailureRecord,
    SubscriptionRecord,
    TimerRecord,
    UserRecord,
    UserTaskRecord,
    WebhookRecord,
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
    rollouts: dict[str, RolloutRecord] = field(default_factory=dict)
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
    sign_in_failures: dict[str, SignInFailureRecord] = field(default_factory=dict)
    instance_variables: dict[tuple[int, str], str] = field(default_factory=dict)
    element_counts: dict[tuple[int, str, int], tuple[int, int, int, int]] = field(
        default_factory=dict
    )
    decision_evaluations: dict[tuple[int, int], DecisionEvaluationRecord] = field(
        default_factory=dict
    )
    batch_operations: dict[int, BatchOperationRecord] = field(default_factory=dict)
    batch_items: dict[tuple[int, int], tuple[int, int, str, str | None]] = field(
        default_factory=dict
    )
    """(batch key, instance key) -> (batch key, instance key, state, reason)."""
    audit_log: dict[int, AuditRecord] = field(default_factory=dict)
    audit_checkpoints: dict[int, AuditCheckpoint] = field(default_factory=dict)
    instance_facts: dict[int, InstanceFact] = field(default_factory=dict)
    element_facts: dict[int, ElementFact] = field(default_factory=dict)
    incident_facts: dict[int, IncidentFact] = field(default_factory=dict)
    fact_hours: dict[tuple[int, str, datetime, int], tuple[int, ...]] = field(default_factory=dict)
    fact_durations: dict[tuple[int, str, datetime, int, int], int] = field(default_factory=dict)
    alerts: dict[int, AlertRecord] = field(default_factory=dict)
    alert_dedupe_keys: dict[str, int] = field(default_factory=dict)
    service_levels: dict[tuple[str, int, str], ServiceLevelRecord] = field(default_factory=dict)
    webhooks: dict[int, WebhookRecord] = field(default_factory=dict)
    deliveries: dict[int, DeliveryRecord] = field(default_factory=dict)
    delivery_events: dict[tuple[int, int, str], int] = field(default_factory=dict)


def _json_copy(text: str) -> Any:
    return load_json(text)


def _ordered(items: Iterable[_V], key: Callable[[_V], Any]) -> list[_V]:
    return sorted(items, key=key)


class MemoryTransactionBase:
    """The state and helpers of one in-memory transaction that the per-area adapters build on."""

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
        self._rollouts = _Overlay(tables.rollouts)
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
        self._sign_in_failures = _Overlay(tables.sign_in_failures)
        self._instance_variables = _Overlay(tables.instance_variables)
        self._element_counts = _Overlay(tables.element_counts)
        self._decision_evaluations = _Overlay(tables.decision_evaluations)
        self._batch_operations = _Overlay(tables.batch_operations)
        self._batch_items = _Overlay(tables.batch_items)
        self._audit_log = _Overlay(tables.audit_log)
        self._audit_checkpoints = _Overlay(tables.audit_checkpoints)
        self._instance_facts = _Overlay(tables.instance_facts)
        self._element_facts = _Overlay(tables.element_facts)
        self._incident_facts = _Overlay(tables.incident_facts)
        self._fact_hours = _Overlay(tables.fact_hours)
        self._fact_durations = _Overlay(tables.fact_durations)
        self._alerts = _Overlay(tables.alerts)
        self._alert_dedupe_keys = _Overlay(tables.alert_dedupe_keys)
        self._service_levels = _Overlay(tables.service_levels)
        self._webhooks = _Overlay(tables.webhooks)
        self._deliveries = _Overlay(tables.deliveries)
        self._delivery_events = _Overlay(tables.delivery_events)
        self._purged_instances: list[int] = []
        self._committed = False

    def commit(self) -> None:
        """Merge the overlay into the committed tables."""
        self._check_open()
        tables = self._tables
        tables.next_key = self._next_key
        for overlay in self._overlays():
            if overlay.changes:  # most transactions write a few of the tables
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
            self._rollouts,
            self._incidents,
            self._timers,
            self._subscriptions,
            self._messages,
            self._nodes,
            self._users,
            self._api_keys,
            self._server_secrets,
            self._sign_in_failures,
            self._instance_variables,
            self._element_counts,
            self._decision_evaluations,
            self._batch_operations,
            self._batch_items,
            self._audit_log,
            self._audit_checkpoints,
            self._instance_facts,
            self._element_facts,
            self._incident_facts,
            self._fact_hours,
            self._fact_durations,
            self._alerts,
            self._alert_dedupe_keys,
            self._service_levels,
            self._webhooks,
            self._deliveries,
            self._delivery_events,
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

    def reserve_keys(self, count: int) -> range:
        """Reserve ``count`` fresh keys (returned to the pool if the transaction rolls back)."""
        self._check_open()
        if count < 1:
            raise StoreError(f"cannot reserve {count} keys")
        start = self._next_key
        self._next_key = start + count
        return range(start, start + count)
