"""Keeps the query tables (jobs, user tasks, incidents, instance summary) in step with events.

Runs inside the command's transaction, so the rows and the history never disagree. The
cockpit's tables (root variables, element counts, decision evaluations) are derived from
the batch's history chunks by :class:`legato.store.derived.DerivedRows`, the same code
that rebuilds them from the stored history; so are the analytics facts, by
:class:`legato.store.facts.DerivedFacts` (unless the engine was made with
``analytics=False``).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from legato.engine import events as ev
from legato.engine.commands import BroadcastSignal, PublishMessage
from legato.engine.state import InstanceState, SubscriptionState, TimerState
from legato.store.derived import DerivedRows
from legato.store.facts import DerivedFacts, FactInstance, KnownStarts
from legato.store.ports import Transaction
from legato.store.records import (
    HistoryChunk,
    IncidentRecord,
    JobRecord,
    SubscriptionRecord,
    TimerRecord,
    UserTaskMove,
    UserTaskRecord,
)

COUNTER_SHARDS = 16
"""How many rows each element's counters are spread over (``element_counts.shard``)."""


@dataclass(slots=True)
class JobHold:
    """New jobs that this process's own handlers run: stored as activated by ``worker``.

    Jobs of ``inline_types`` (quick handlers the node runs on its own thread) are all held;
    of the other ``job_types``, as many as ``room`` (the handler slots free for them). The
    rest wait for any worker."""

    job_types: frozenset[str]
    worker: str
    lease_until: datetime
    inline_types: frozenset[str] = frozenset()
    room: int = 1 << 62


@dataclass(frozen=True, slots=True)
class Noted:
    """An event an operator hears of as it happens: a failed job attempt, a new incident."""

    instance_key: int
    process_id: str
    event: ev.JobFailed | ev.IncidentRaised
    job_type: str | None = None
    variables: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    """The instance's variables by scope (as stored) when it happened: what the log line
    masks in the error text (see :func:`legato.runtime.jobs.report_noted`)."""


class BatchWrites:
    """Row changes of a batch of commands, written together when the batch ends.

    Jobs and history rows are the bulk of the writes; collecting them turns hundreds of
    statements into a few ``executemany`` calls. A job created and finished within the same
    batch never reaches the table. User tasks and incidents are rare and written at once.
    """

    def __init__(
        self,
        tx: Transaction,
        hold: JobHold | None = None,
        *,
        analytics: bool = True,
        starts: KnownStarts | None = None,
    ) -> None:
        self.tx = tx
        self.hold = hold
        """New jobs of these types are stored as already handed to this process (job push)."""
        self.history: list[HistoryChunk] = []
        """The batch's history, in the chunks it is stored as."""
        self.new_jobs: dict[int, JobRecord] = {}
        self.finished_jobs: list[int] = []
        self.user_tasks: dict[int, UserTaskRecord] = {}
        self.moved_tasks: list[UserTaskMove] = []
        """Open user tasks of instances migrated in this batch (stored rows, not read)."""
        self.incidents: dict[int, IncidentRecord] = {}
        self.new_timers: dict[int, TimerRecord] = {}
        self.ended_timers: list[int] = []
        self.new_subscriptions: dict[int, SubscriptionRecord] = {}
        self.closed_subscriptions: list[int] = []
        self.opened_message_subscriptions: list[SubscriptionRecord] = []
        """Message subscriptions opened in this batch: a buffered message may be waiting."""
        self.messages: list[PublishMessage] = []
        """Messages thrown by instances in this batch, to correlate after it is written."""
        self.signals: list[BroadcastSignal] = []
        """Signals thrown by instances in this batch, to broadcast after it is written."""
        self.noted: list[Noted] = []
        """Failed attempts and new incidents of this batch, reported once it commits."""
        self.available_types: set[str] = set()
        """The types of the jobs this batch made available to any worker (created without
        a hold, or due again after a failure or new retries): parked fetches are woken."""
        self.instances: dict[int, tuple[int, datetime]] = {}
        """The process version and start time of each instance this batch touched."""
        self.derived = DerivedRows()
        self.facts = DerivedFacts() if analytics else None
        """The analytics facts of the batch (None: not kept)."""
        self.starts = starts or KnownStarts()
        """Start times of running element instances this process knows (see KnownStarts)."""
        self.started_changes: tuple[dict[int, datetime], list[int]] | None = None
        """What to tell :attr:`starts` once the batch has committed."""
        self.fact_instances: dict[int, FactInstance] = {}
        """What the analytics facts need of each instance this batch touched."""
        # A random counter shard per transaction: two nodes committing at once rarely add to
        # the same rows, so neither waits on the other's row locks (PostgreSQL).
        self.shard = random.randrange(COUNTER_SHARDS)

    def user_task(self, key: int) -> UserTaskRecord | None:
        """A user task as it will be after this batch."""
        return self.user_tasks.get(key) or self.tx.get_user_task(key)

    def incident(self, key: int) -> IncidentRecord | None:
        """An incident as it will be after this batch."""
        return self.incidents.get(key) or self.tx.get_incident(key)

    def _incident_place(self, incident_key: int) -> tuple[int, str] | None:
        incident = self.incident(incident_key)
        if incident is None:
            return None
        found = self.instances.get(incident.instance_key)
        return None if found is None else (found[0], incident.element_id)

    def _element_of(self, kind: str, key: int) -> int | None:
        if kind == "task":
            task = self.user_task(key)
            return None if task is None else task.element_instance_key
        job = self.new_jobs.get(key) or self.tx.get_job(key)
        return None if job is None else job.element_instance_key

    def _write_facts(self, facts: DerivedFacts) -> None:
        facts.add_chunks(self.history, self.fact_instances.get, self._element_of, self.starts.known)
        # Ends whose start this process knows were finished by add_chunks: what is left
        # needs the stored facts.
        instance_keys, element_keys = facts.unknown()
        if instance_keys or element_keys:
            facts.settle(*self.tx.fact_starts(instance_keys, element_keys))
        else:
            facts.settle()
        self.started_changes = KnownStarts.changes(facts)
        if facts:
            self.tx.write_facts(facts, self.shard)
            facts.clear()

    def flush(self) -> None:
        """Write what was collected (after the instance rows the others refer to)."""
        self.tx.append_history_chunks(self.history)
        derived = self.derived
        derived.add_chunks(self.history, self.instances.get, self._incident_place)
        if derived:
            self.tx.write_derived(derived, self.shard)
            derived.clear()
        if self.facts is not None and self.history:
            self._write_facts(self.facts)
        self.tx.insert_jobs(list(self.new_jobs.values()))
        self.tx.delete_jobs(self.finished_jobs)
        for task in self.user_tasks.values():
            self.tx.upsert_user_task(task)
        self.tx.move_user_tasks(self.moved_tasks)
        for incident in self.incidents.values():
            self.tx.upsert_incident(incident)
        self.tx.insert_timers(list(self.new_timers.values()))
        self.tx.delete_timers(self.ended_timers)
        self.tx.insert_subscriptions(list(self.new_subscriptions.values()))
        self.tx.delete_subscriptions(self.closed_subscriptions)
        self.history, self.new_jobs, self.finished_jobs = [], {}, []
        self.user_tasks, self.incidents, self.moved_tasks = {}, {}, []
        self.new_timers, self.ended_timers = {}, []
        self.new_subscriptions, self.closed_subscriptions = {}, []


def project(writes: BatchWrites, state: InstanceState, events: Sequence[ev.Event]) -> None:
    """Queue or write the row changes that ``events`` imply."""
    if state.started_at is not None:
        writes.instances[state.instance_key] = (state.definition_key, state.started_at)
        if writes.facts is not None and state.instance_key not in writes.fact_instances:
            writes.fact_instances[state.instance_key] = FactInstance(
                state.definition_key, state.started_at, state.process_id, state.version
            )
    projectors = _PROJECTORS
    for event in events:
        # Most events (elements, variables, joins) change no query table: one dict lookup
        # per event instead of a chain of isinstance tests.
        projector = projectors.get(type(event))
        if projector is not None:
            projector(writes, state, event)


def _job_created(writes: BatchWrites, state: InstanceState, event: ev.JobCreated) -> None:
    hold = writes.hold
    if hold is not None and event.job_type in hold.job_types and _room_for(hold, event.job_type):
        state_name, worker, lease_until = "activated", hold.worker, hold.lease_until
    else:
        state_name, worker, lease_until = "activatable", None, None
        writes.available_types.add(event.job_type)
    writes.new_jobs[event.job_key] = JobRecord(
        job_key=event.job_key,
        instance_key=state.instance_key,
        element_instance_key=event.element_instance_key,
        element_id=event.element_id,
        job_type=event.job_type,
        retries=event.retries,
        due_at=event.at,
        state=state_name,
        worker=worker,
        lease_until=lease_until,
        headers=dict(event.headers),
        created_at=event.at,
        priority=event.priority,
    )


def _room_for(hold: JobHold, job_type: str) -> bool:
    if job_type in hold.inline_types:
        return True
    if hold.room <= 0:
        return False
    hold.room -= 1
    return True


def _job_ended(
    writes: BatchWrites, state: InstanceState, event: ev.JobCompleted | ev.JobCanceled
) -> None:
    if writes.new_jobs.pop(event.job_key, None) is None:
        writes.finished_jobs.append(event.job_key)


def _timer_scheduled(
    writes: BatchWrites, state: InstanceState, event: ev.TimerScheduled | TimerState
) -> None:
    writes.new_timers[event.timer_key] = TimerRecord(
        timer_key=event.timer_key,
        definition_key=state.definition_key,
        element_id=event.element_id,
        due_at=event.due_at,
        instance_key=state.instance_key,
        element_instance_key=event.element_instance_key,
        repetitions=event.repetitions,
    )


def _timer_ended(
    writes: BatchWrites, state: InstanceState, event: ev.TimerTriggered | ev.TimerCanceled
) -> None:
    _end_timer(writes, event.timer_key)


def _end_timer(writes: BatchWrites, timer_key: int) -> None:
    if writes.new_timers.pop(timer_key, None) is None:
        writes.ended_timers.append(timer_key)


def _subscription_closed(
    writes: BatchWrites, state: InstanceState, event: ev.SubscriptionClosed
) -> None:
    _close_subscription(writes, event.subscription_key)


def _close_subscription(writes: BatchWrites, subscription_key: int) -> None:
    if writes.new_subscriptions.pop(subscription_key, None) is None:
        writes.closed_subscriptions.append(subscription_key)
    writes.opened_message_subscriptions = [
        s for s in writes.opened_message_subscriptions if s.subscription_key != subscription_key
    ]


def _subscription_opened(
    writes: BatchWrites, state: InstanceState, event: ev.SubscriptionOpened | SubscriptionState
) -> None:
    if event.kind not in _LOOKED_UP:
        return  # conditions are evaluated by the engine itself; nothing to look up
    record = SubscriptionRecord(
        subscription_key=event.subscription_key,
        kind=event.kind,
        name=event.name,
        definition_key=state.definition_key,
        element_id=event.element_id,
        correlation_key=event.correlation_key,
        instance_key=state.instance_key,
        element_instance_key=event.element_instance_key,
        interrupting=event.interrupting,
    )
    writes.new_subscriptions[event.subscription_key] = record
    if event.kind == "message":
        writes.opened_message_subscriptions.append(record)


def _job_changed(
    writes: BatchWrites, state: InstanceState, event: ev.JobFailed | ev.JobRetriesUpdated
) -> None:
    job = writes.new_jobs.get(event.job_key) or writes.tx.get_job(event.job_key)
    if job is None:
        return
    if isinstance(event, ev.JobFailed):
        writes.noted.append(
            Noted(state.instance_key, state.process_id, event, job.job_type, dict(state.variables))
        )
        job = dataclasses.replace(
            job,
            retries=event.retries,
            state="activatable" if event.retries > 0 else "failed",
            due_at=event.retry_at or event.at,
            worker=None,
            lease_until=None,
            error_message=event.error_message,
            error_details=event.error_details,
        )
    elif event.retries <= 0:
        job = dataclasses.replace(job, retries=0, state="failed", worker=None, lease_until=None)
    elif job.state == "failed":
        # New attempts for a job that waited in an incident: due again at once.
        job = dataclasses.replace(
            job,
            retries=event.retries,
            state="activatable",
            due_at=event.at,
            worker=None,
            lease_until=None,
        )
    else:
        # A job that is due or held keeps its place and its lease.
        job = dataclasses.replace(job, retries=event.retries)
    if job.state == "activatable":
        writes.available_types.add(job.job_type)
    if event.job_key in writes.new_jobs:
        writes.new_jobs[event.job_key] = job
    else:
        writes.tx.update_job(job)


def _user_task_created(
    writes: BatchWrites, state: InstanceState, event: ev.UserTaskCreated
) -> None:
    writes.user_tasks[event.user_task_key] = UserTaskRecord(
        user_task_key=event.user_task_key,
        instance_key=state.instance_key,
        element_instance_key=event.element_instance_key,
        element_id=event.element_id,
        name=event.name,
        state="created",
        created_at=event.at,
        assignee=event.assignee,
        candidate_groups=tuple(event.candidate_groups),
        candidate_users=tuple(event.candidate_users),
        form_key=event.form_key,
        due_at=event.due_at,
        follow_up_at=event.follow_up_at,
        priority=event.priority,
        process_id=state.process_id,
        definition_key=state.definition_key,
        process_version=state.version,
        business_key=state.business_key,
        form_id=event.form_id,
        linked_form_key=event.linked_form_key,
        external_form_reference=event.external_form_reference,
        updated_at=event.at,
    )


def _user_task_assigned(
    writes: BatchWrites, state: InstanceState, event: ev.UserTaskAssigned
) -> None:
    task = writes.user_task(event.user_task_key)
    if task is not None:
        writes.user_tasks[task.user_task_key] = dataclasses.replace(
            task,
            assignee=event.assignee,
            owner=event.owner,
            delegation_state=event.delegation_state,
            updated_at=event.at,
        )


def _user_task_ended(
    writes: BatchWrites, state: InstanceState, event: ev.UserTaskCompleted | ev.UserTaskCanceled
) -> None:
    task = writes.user_task(event.user_task_key)
    if task is not None:
        completed = isinstance(event, ev.UserTaskCompleted)
        writes.user_tasks[task.user_task_key] = dataclasses.replace(
            task,
            state="completed" if completed else "canceled",
            completed_at=event.at,
            completed_by=event.completed_by if isinstance(event, ev.UserTaskCompleted) else None,
            updated_at=event.at,
        )


def _incident_raised(writes: BatchWrites, state: InstanceState, event: ev.IncidentRaised) -> None:
    writes.noted.append(
        Noted(state.instance_key, state.process_id, event, variables=dict(state.variables))
    )
    writes.incidents[event.incident_key] = IncidentRecord(
        incident_key=event.incident_key,
        instance_key=state.instance_key,
        element_instance_key=event.element_instance_key,
        element_id=event.element_id,
        error_type=event.error_type,
        message=event.message,
        created_at=event.at,
        job_key=event.job_key,
        details=event.details,
    )


def _incident_resolved(
    writes: BatchWrites, state: InstanceState, event: ev.IncidentResolved
) -> None:
    incident = writes.incident(event.incident_key)
    if incident is not None:
        writes.incidents[incident.incident_key] = dataclasses.replace(
            incident, state="resolved", resolved_at=event.at
        )


def _instance_suspended(
    writes: BatchWrites, state: InstanceState, event: ev.InstanceSuspended
) -> None:
    # Its jobs stay in their table, flagged and unavailable (held ones lose their lease, so
    # no worker's result is taken and no renewal makes them available again); its timers
    # and subscriptions leave theirs until it is resumed: claiming timers, activating jobs
    # and correlating messages look for nothing more than before.
    _flag_jobs(writes, state.instance_key, suspended=True, now=event.at)
    for timer_key in state.timers:
        _end_timer(writes, timer_key)
    for key, subscription in state.subscriptions.items():
        if subscription.kind in _LOOKED_UP:
            _close_subscription(writes, key)


def _instance_resumed(writes: BatchWrites, state: InstanceState, event: ev.InstanceResumed) -> None:
    _flag_jobs(writes, state.instance_key, suspended=False, now=event.at)
    # Rows taken out by a suspension in this same batch are still there: they stay.
    for timer in state.timers.values():
        if timer.timer_key in writes.ended_timers:
            writes.ended_timers.remove(timer.timer_key)
        else:
            _timer_scheduled(writes, state, timer)
    for subscription in state.subscriptions.values():
        key = subscription.subscription_key
        if key in writes.closed_subscriptions:
            writes.closed_subscriptions.remove(key)
        else:
            _subscription_opened(writes, state, subscription)


def _instance_migrated(
    writes: BatchWrites, state: InstanceState, event: ev.InstanceMigrated
) -> None:
    # Its timers and subscriptions moved through their own events; its jobs, user tasks and
    # incidents keep their keys and rows, which take the new element ids (and job types).
    for job in state.jobs.values():
        record = writes.new_jobs.get(job.job_key) or writes.tx.get_job(job.job_key)
        owner = state.elements.get(job.element_instance_key)
        if record is None or owner is None:
            continue
        changed = dataclasses.replace(record, element_id=owner.element_id, job_type=job.job_type)
        if job.job_key in writes.new_jobs:
            writes.new_jobs[job.job_key] = changed
        elif changed != record:
            writes.tx.update_job(changed)
            if changed.state == "activatable":
                writes.available_types.add(changed.job_type)
    names = dict(event.task_names)
    for task_key, owner_key in state.user_tasks.items():
        owner = state.elements.get(owner_key)
        if owner is None:
            continue
        move = UserTaskMove(
            task_key,
            owner.element_id,
            names.get(task_key),
            state.process_id,
            state.definition_key,
            state.version,
        )
        task = writes.user_tasks.get(task_key)
        if task is not None:  # changed earlier in this batch: change that record
            writes.user_tasks[task_key] = dataclasses.replace(task, **move._asdict())
        else:
            writes.moved_tasks.append(move)
    for incident_state in state.incidents.values():
        incident = writes.incident(incident_state.incident_key)
        if incident is not None and incident.element_id != incident_state.element_id:
            writes.incidents[incident.incident_key] = dataclasses.replace(
                incident, element_id=incident_state.element_id
            )


_LOOKED_UP = ("message", "signal")
"""The subscriptions kept in their table (conditions are evaluated by the engine itself)."""


def _flag_jobs(writes: BatchWrites, instance_key: int, *, suspended: bool, now: datetime) -> None:
    """Suspend or resume an instance's jobs: a suspended job is handed to no one and loses
    its lease; a resumed one is due again from its due time (at once if that passed)."""
    finished = set(writes.finished_jobs)
    stored = [
        job
        for job in writes.tx.list_jobs(instance_key=instance_key)
        if job.job_key not in finished and job.job_key not in writes.new_jobs
    ]
    new = [job for job in writes.new_jobs.values() if job.instance_key == instance_key]
    for job in [*stored, *new]:
        changed = dataclasses.replace(job, suspended=suspended)
        if job.state == "activated":
            changed = dataclasses.replace(
                changed, state="activatable", worker=None, lease_until=None, due_at=now
            )
        if not suspended and changed.state == "activatable":
            writes.available_types.add(job.job_type)
        if job.job_key in writes.new_jobs:
            writes.new_jobs[job.job_key] = changed
        else:
            writes.tx.update_job(changed)


_Projector = Callable[[BatchWrites, InstanceState, Any], None]
_PROJECTORS: dict[type[ev.Event], _Projector] = {
    ev.JobCreated: _job_created,
    ev.JobCompleted: _job_ended,
    ev.JobCanceled: _job_ended,
    ev.JobFailed: _job_changed,
    ev.JobRetriesUpdated: _job_changed,
    ev.TimerScheduled: _timer_scheduled,
    ev.TimerTriggered: _timer_ended,
    ev.TimerCanceled: _timer_ended,
    ev.SubscriptionOpened: _subscription_opened,
    ev.SubscriptionClosed: _subscription_closed,
    ev.UserTaskCreated: _user_task_created,
    ev.UserTaskCompleted: _user_task_ended,
    ev.UserTaskAssigned: _user_task_assigned,
    ev.UserTaskCanceled: _user_task_ended,
    ev.IncidentRaised: _incident_raised,
    ev.IncidentResolved: _incident_resolved,
    ev.InstanceSuspended: _instance_suspended,
    ev.InstanceResumed: _instance_resumed,
    ev.InstanceMigrated: _instance_migrated,
}
"""The events that change query tables, by exact class (events are never subclassed)."""
