"""Appliers: the only code that changes an :class:`InstanceState`, one per event type.

Replaying an instance's history through :func:`apply` from an empty state gives its current
state; a test holds the engine to that. Each applier also tells the state's encoded parts
(:mod:`legato.engine.encoded`) what it changed, so that the next snapshot encodes only that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from legato.engine import events as ev
from legato.engine.state import (
    ElementInstance,
    IncidentState,
    InstanceState,
    JobState,
    SubscriptionState,
    TaskPeople,
    TimerState,
)

Applier = Callable[[InstanceState, Any], None]
APPLIERS: dict[type[ev.Event], Applier] = {}
"""The applier of each event class (what :func:`apply` looks up)."""


def _applies(event_class: type[ev.Event]) -> Callable[[Applier], Applier]:
    def register(function: Applier) -> Applier:
        APPLIERS[event_class] = function
        return function

    return register


def apply(state: InstanceState, event: ev.Event) -> None:
    """Change ``state`` as ``event`` says."""
    APPLIERS[type(event)](state, event)


def replay(instance_key: int, history: Iterable[ev.Event]) -> InstanceState:
    """Rebuild an instance's state from its history."""
    state = InstanceState(instance_key=instance_key)
    for event in history:
        apply(state, event)
    return state


@_applies(ev.InstanceCreated)
def _instance_created(state: InstanceState, event: ev.InstanceCreated) -> None:
    state.definition_key = event.definition_key
    state.process_id = event.process_id
    state.version = event.version
    state.business_key = event.business_key
    state.parent_instance_key = event.parent_instance_key
    state.parent_element_instance_key = event.parent_element_instance_key
    state.version_reason = event.version_reason
    state.started_at = event.at
    state.status = "active"
    state.elements[state.instance_key] = ElementInstance(
        key=state.instance_key, element_id=event.process_id, kind="process", parent_key=None
    )
    state.variables.setdefault(state.instance_key, {})


@_applies(ev.InstanceCompleted)
def _instance_completed(state: InstanceState, event: ev.InstanceCompleted) -> None:
    state.status = "completed"
    state.ended_at = event.at
    state.elements.pop(state.instance_key, None)
    state.encoded.element_changed(state.instance_key)


@_applies(ev.InstanceTerminated)
def _instance_terminated(state: InstanceState, event: ev.InstanceTerminated) -> None:
    state.status = "terminated"
    state.suspended = False
    state.ended_at = event.at
    state.elements.clear()
    state.jobs.clear()
    state.user_tasks.clear()
    state.task_people.clear()
    state.incidents.clear()
    state.joins.clear()
    state.encoded.clear()


@_applies(ev.ElementActivated)
def _element_activated(state: InstanceState, event: ev.ElementActivated) -> None:
    state.elements[event.key] = ElementInstance(  # by position: fewer keywords to match
        event.key,
        event.element_id,
        event.element_kind,
        event.parent_key,
        event.flow_id,
        event.loop_counter,
        event.is_mi_body,
        activated_at=event.at,
    )
    parent = state.elements[event.parent_key]
    parent.children.add(event.key)
    if parent.is_mi_body:
        parent.mi_started += 1
    state.encoded.element_changed(parent.key)


def _remove_element(state: InstanceState, key: int) -> ElementInstance:
    element = state.elements.pop(key)
    state.variables.pop(key, None)
    state.compensable.pop(key, None)
    state.encoded.scope_removed(key)
    if element.parent_key is not None:
        parent = state.elements.get(element.parent_key)
        if parent is not None:
            parent.children.discard(key)
            state.encoded.element_changed(parent.key)
    return element


@_applies(ev.ElementCompleted)
def _element_completed(state: InstanceState, event: ev.ElementCompleted) -> None:
    element = _remove_element(state, event.key)
    parent = state.elements.get(element.parent_key) if element.parent_key is not None else None
    if parent is not None and parent.is_mi_body:
        parent.mi_completed += 1


@_applies(ev.ElementTerminated)
def _element_terminated(state: InstanceState, event: ev.ElementTerminated) -> None:
    _remove_element(state, event.key)
    for scope_key, element_id in [k for k in state.joins if k[0] == event.key]:
        del state.joins[(scope_key, element_id)]


@_applies(ev.JoinTokenArrived)
def _join_arrived(state: InstanceState, event: ev.JoinTokenArrived) -> None:
    slot = (event.scope_key, event.element_id)
    flows = state.joins.setdefault(slot, {})
    flows[event.flow_id] = flows.get(event.flow_id, 0) + 1
    if flows[event.flow_id] == 0:
        del flows[event.flow_id]
    if not flows:
        del state.joins[slot]


@_applies(ev.JoinTokensConsumed)
def _join_consumed(state: InstanceState, event: ev.JoinTokensConsumed) -> None:
    slot = (event.scope_key, event.element_id)
    flows = state.joins[slot]
    for flow_id, count in event.consumed.items():
        # A count may go negative: a complex gateway that fired before every branch arrived
        # swallows the late tokens (they arrive to zero and vanish).
        flows[flow_id] = flows.get(flow_id, 0) - count
        if flows[flow_id] == 0:
            del flows[flow_id]
    if not flows:
        del state.joins[slot]


@_applies(ev.VariableSet)
def _variable_set(state: InstanceState, event: ev.VariableSet) -> None:
    state.variables.setdefault(event.scope_key, {})[event.name] = event.value
    state.encoded.variable_set(event.scope_key, event.name)


@_applies(ev.MultiInstanceStarted)
def _mi_started(state: InstanceState, event: ev.MultiInstanceStarted) -> None:
    body = state.elements[event.key]
    body.mi_count = event.count
    body.mi_items = event.items
    state.encoded.element_changed(body.key)


@_applies(ev.JobCreated)
def _job_created(state: InstanceState, event: ev.JobCreated) -> None:
    state.jobs[event.job_key] = JobState(
        event.job_key, event.element_instance_key, event.job_type, event.retries
    )
    state.elements[event.element_instance_key].job_key = event.job_key
    state.encoded.element_changed(event.element_instance_key)


def _drop_job(state: InstanceState, job_key: int) -> None:
    job = state.jobs.pop(job_key)
    element = state.elements.get(job.element_instance_key)
    if element is not None:
        element.job_key = None
        state.encoded.element_changed(element.key)


@_applies(ev.JobCompleted)
def _job_completed(state: InstanceState, event: ev.JobCompleted) -> None:
    _drop_job(state, event.job_key)


@_applies(ev.JobCanceled)
def _job_canceled(state: InstanceState, event: ev.JobCanceled) -> None:
    _drop_job(state, event.job_key)


@_applies(ev.JobFailed)
def _job_failed(state: InstanceState, event: ev.JobFailed) -> None:
    job = state.jobs[event.job_key]
    job.retries = event.retries
    job.failed = event.retries <= 0


@_applies(ev.JobRetriesUpdated)
def _job_retries(state: InstanceState, event: ev.JobRetriesUpdated) -> None:
    job = state.jobs[event.job_key]
    job.retries = event.retries
    job.failed = event.retries <= 0


@_applies(ev.IncidentRaised)
def _incident_raised(state: InstanceState, event: ev.IncidentRaised) -> None:
    state.incidents[event.incident_key] = IncidentState(
        event.incident_key,
        event.element_instance_key,
        event.element_id,
        event.error_type,
        event.message,
        event.phase,
        event.job_key,
    )
    element = state.elements.get(event.element_instance_key)
    if element is not None:
        element.incident_key = event.incident_key
        state.encoded.element_changed(element.key)


@_applies(ev.IncidentResolved)
def _incident_resolved(state: InstanceState, event: ev.IncidentResolved) -> None:
    incident = state.incidents.pop(event.incident_key)
    element = state.elements.get(incident.element_instance_key)
    if element is not None:
        element.incident_key = None
        state.encoded.element_changed(element.key)


@_applies(ev.UserTaskCreated)
def _user_task_created(state: InstanceState, event: ev.UserTaskCreated) -> None:
    state.user_tasks[event.user_task_key] = event.element_instance_key
    state.elements[event.element_instance_key].user_task_key = event.user_task_key
    state.encoded.element_changed(event.element_instance_key)
    if event.assignee is not None:
        state.task_people[event.user_task_key] = TaskPeople(assignee=event.assignee)


@_applies(ev.UserTaskAssigned)
def _user_task_assigned(state: InstanceState, event: ev.UserTaskAssigned) -> None:
    people = TaskPeople(event.assignee, event.owner, event.delegation_state)
    if people == TaskPeople():
        state.task_people.pop(event.user_task_key, None)
    else:
        state.task_people[event.user_task_key] = people


def _drop_user_task(state: InstanceState, user_task_key: int) -> None:
    element_key = state.user_tasks.pop(user_task_key)
    state.task_people.pop(user_task_key, None)
    element = state.elements.get(element_key)
    if element is not None:
        element.user_task_key = None
        state.encoded.element_changed(element.key)


@_applies(ev.UserTaskCompleted)
def _user_task_completed(state: InstanceState, event: ev.UserTaskCompleted) -> None:
    _drop_user_task(state, event.user_task_key)


@_applies(ev.UserTaskCanceled)
def _user_task_canceled(state: InstanceState, event: ev.UserTaskCanceled) -> None:
    _drop_user_task(state, event.user_task_key)


@_applies(ev.CallActivityChildStarted)
def _child_started(state: InstanceState, event: ev.CallActivityChildStarted) -> None:
    state.elements[event.element_instance_key].child_instance_key = event.child_instance_key
    state.encoded.element_changed(event.element_instance_key)


@_applies(ev.TimerScheduled)
def _timer_scheduled(state: InstanceState, event: ev.TimerScheduled) -> None:
    state.timers[event.timer_key] = TimerState(
        event.timer_key,
        event.element_instance_key,
        event.element_id,
        event.due_at,
        event.repetitions,
        event.cycle,
    )


@_applies(ev.TimerTriggered)
def _timer_triggered(state: InstanceState, event: ev.TimerTriggered) -> None:
    state.timers.pop(event.timer_key, None)


@_applies(ev.TimerCanceled)
def _timer_canceled(state: InstanceState, event: ev.TimerCanceled) -> None:
    state.timers.pop(event.timer_key, None)


@_applies(ev.SubscriptionOpened)
def _subscription_opened(state: InstanceState, event: ev.SubscriptionOpened) -> None:
    state.subscriptions[event.subscription_key] = SubscriptionState(
        event.subscription_key,
        event.kind,
        event.name,
        event.element_instance_key,
        event.element_id,
        event.correlation_key,
        event.interrupting,
    )


@_applies(ev.SubscriptionClosed)
def _subscription_closed(state: InstanceState, event: ev.SubscriptionClosed) -> None:
    state.subscriptions.pop(event.subscription_key, None)


@_applies(ev.InstanceSuspended)
def _instance_suspended(state: InstanceState, event: ev.InstanceSuspended) -> None:
    state.suspended = True


@_applies(ev.InstanceMigrated)
def _instance_migrated(state: InstanceState, event: ev.InstanceMigrated) -> None:
    state.definition_key = event.definition_key
    state.process_id = event.process_id
    state.version = event.version
    renamed = {before: after for before, after in event.renamed}
    moved: dict[int, str] = {}
    for key, _before, after in event.elements:
        element = state.elements.get(key)
        if element is not None:
            element.element_id = after
            state.encoded.element_changed(key)
        moved[key] = after
    for job_key, job_type in event.job_types:
        job = state.jobs.get(job_key)
        if job is not None:
            job.job_type = job_type
    for incident in state.incidents.values():
        incident.element_id = moved.get(incident.element_instance_key, incident.element_id)
    if state.joins:
        state.joins = {
            (scope, renamed.get(element_id, element_id)): flows
            for (scope, element_id), flows in state.joins.items()
        }
    for entries in (*state.compensable.values(), *state.compensation_stash.values()):
        entries[:] = [
            (renamed.get(activity, activity), renamed.get(handler, handler), stash)
            for activity, handler, stash in entries
        ]


@_applies(ev.InstanceResumed)
def _instance_resumed(state: InstanceState, event: ev.InstanceResumed) -> None:
    state.suspended = False


def _history_only(state: InstanceState, event: ev.Event) -> None:
    """Recorded for the history; the state changes through the events that follow."""


for _event_class in (
    ev.DecisionEvaluated,
    ev.MessageCorrelated,
    ev.SignalReceived,
    ev.ConditionMet,
    ev.ErrorThrown,
    ev.EscalationThrown,
    ev.VariablesEdited,
    ev.InstanceModified,
):
    APPLIERS[_event_class] = _history_only


@_applies(ev.CompensationRecorded)
def _compensation_recorded(state: InstanceState, event: ev.CompensationRecorded) -> None:
    entry = (event.element_id, event.handler_id, event.stash_key)
    state.compensable.setdefault(event.scope_key, []).append(entry)


@_applies(ev.CompensationStashed)
def _compensation_stashed(state: InstanceState, event: ev.CompensationStashed) -> None:
    state.compensation_stash[event.scope_key] = state.compensable.pop(event.scope_key, [])


@_applies(ev.CompensationMoved)
def _compensation_moved(state: InstanceState, event: ev.CompensationMoved) -> None:
    moved = state.compensable.pop(event.from_scope_key, [])
    state.compensable.setdefault(event.to_scope_key, []).extend(moved)


@_applies(ev.CompensationStarted)
def _compensation_started(state: InstanceState, event: ev.CompensationStarted) -> None:
    stash_keys = event.stash_keys or [0] * len(event.handlers)
    state.elements[event.element_instance_key].compensation_queue = list(
        zip(event.handlers, stash_keys, strict=True)
    )
    state.encoded.element_changed(event.element_instance_key)
    done = set(zip(event.element_ids, event.handlers, stash_keys, strict=True))
    remaining = [e for e in state.compensable.get(event.scope_key, []) if e not in done]
    if remaining:
        state.compensable[event.scope_key] = remaining
    else:
        state.compensable.pop(event.scope_key, None)


@_applies(ev.CompensationHandlerStarted)
def _compensation_handler_started(
    state: InstanceState, event: ev.CompensationHandlerStarted
) -> None:
    throw = state.elements.get(event.throw_instance_key)
    if throw is not None and throw.compensation_queue:
        throw.compensation_queue.pop(0)
        state.encoded.element_changed(throw.key)
    state.elements[event.handler_instance_key].compensating_for = event.throw_instance_key
    state.encoded.element_changed(event.handler_instance_key)
    if event.stash_key:
        state.compensable[event.handler_instance_key] = state.compensation_stash.pop(
            event.stash_key, []
        )
