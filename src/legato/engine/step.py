"""The pure core: ``step(state, command, ctx)`` returns the events and the new state.

No I/O, no clock, no randomness: the context brings time, keys and the deployed models, so the
same inputs always give the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine import timers
from legato.engine.context import EngineContext
from legato.engine.processing import Processing
from legato.engine.processors.scopes import child_completed
from legato.engine.processors.waits import (
    deliver,
    evaluate_conditions,
    is_interrupting,
    is_parallel_multiple,
    open_scope_waits,
    throw_error,
    throw_escalation,
    trigger,
)
from legato.engine.state import ElementInstance, InstanceState, SubscriptionState, TaskPeople
from legato.errors import (
    InstanceSuspendedError,
    InvalidCommandError,
    NotFoundError,
    TaskConflictError,
)
from legato.feel import use_limits
from legato.model import CallActivity, FlowNode, ReceiveTask


@dataclass(slots=True)
class StepResult:
    """What processing one command produced."""

    state: InstanceState
    events: list[ev.Event]
    follow_ups: list[cmd.Command] = field(default_factory=list)
    """Commands for other instances (a called child to start, a parent to resume)."""
    messages: list[cmd.PublishMessage] = field(default_factory=list)
    """Messages the instance threw, to be correlated by the runtime."""
    signals: list[cmd.BroadcastSignal] = field(default_factory=list)
    """Signals the instance threw, to be broadcast by the runtime."""


def step(state: InstanceState | None, command: cmd.Command, ctx: EngineContext) -> StepResult:
    """Process ``command`` against ``state`` (None for a new instance).

    Raises:
        InvalidCommandError: the command does not fit the state (e.g. an unknown job); the
            state is left unchanged.
        NotFoundError: the command names a definition that is not deployed.
    """
    if ctx.feel_limits is None:
        return _step(state, command, ctx)
    with use_limits(ctx.feel_limits):
        return _step(state, command, ctx)


def _step(state: InstanceState | None, command: cmd.Command, ctx: EngineContext) -> StepResult:
    if isinstance(command, cmd.StartInstance):
        if state is not None:
            raise InvalidCommandError(f"instance {command.instance_key} exists already")
        return _start(command, ctx)
    if state is None:
        raise NotFoundError(f"no instance with key {command.instance_key}")
    if not state.is_active:
        raise InvalidCommandError(f"instance {state.instance_key} is {state.status}")
    if state.suspended and type(command) not in _WHILE_SUSPENDED:
        raise InstanceSuspendedError(
            f"instance {state.instance_key} is suspended: resume it first "
            "(only cancelling it and changing its variables are allowed meanwhile)"
        )
    processing = Processing(state, ctx.definitions.get(state.definition_key), ctx)
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise InvalidCommandError(f"unknown command {type(command).__name__}")
    handler(processing, command)
    processing.run()
    return _result(processing)


def _result(p: Processing) -> StepResult:
    return StepResult(p.state, p.events, p.follow_ups, p.messages, p.signals)


def _start(command: cmd.StartInstance, ctx: EngineContext) -> StepResult:
    deployed = ctx.definitions.get(command.definition_key)
    process = deployed.process
    variables = _normalized(command.variables)
    if command.start_element_id is not None:
        if command.start_element_id not in process.elements:
            raise InvalidCommandError(
                f"process '{process.process_id}' has no element '{command.start_element_id}'"
            )
        starts = [process.element(command.start_element_id)]
    else:
        starts = list(process.start_nodes(process.process_id))
        if not starts:
            raise InvalidCommandError(f"process '{process.process_id}' has no none start event")
        starts = starts[:1] if any(s.kind == "startEvent" for s in starts) else starts
    state = InstanceState(instance_key=command.instance_key)
    p = Processing(state, deployed, ctx)
    p.emit(
        ev.InstanceCreated(
            at=ctx.now,
            instance_key=command.instance_key,
            definition_key=deployed.definition_key,
            process_id=deployed.process_id,
            version=deployed.version,
            business_key=command.business_key,
            parent_instance_key=command.parent_instance_key,
            parent_element_instance_key=command.parent_element_instance_key,
        )
    )
    root = state.elements[command.instance_key]
    for name in process.variables:
        p.set_local(root.key, name, None)
    for name, value in variables.items():
        p.set_local(root.key, name, value)
    p.guarded(root, "activate", lambda: open_scope_waits(p, root, process.process_id))
    for start in starts:
        if isinstance(start, ReceiveTask) and start.instantiate:
            # Started by its message (see runtime.starts): it has been received.
            p.pretriggered[(root.key, start.element_id)] = {}
        p.activate(start, root.key, None)
    p.run()
    return _result(p)


def _element_for_job(p: Processing, job_key: int) -> ElementInstance:
    job = p.state.jobs.get(job_key)
    if job is None:
        raise InvalidCommandError(f"job {job_key} is not active (completed, cancelled or unknown)")
    return p.state.elements[job.element_instance_key]


def _complete_job(p: Processing, command: cmd.CompleteJob) -> None:
    instance = _element_for_job(p, command.job_key)
    variables = _normalized(command.variables)
    local = _normalized(command.local_variables)
    p.emit(ev.JobCompleted(at=p.ctx.now, job_key=command.job_key, variables=variables))
    _take_result(p, instance, variables)
    for name, value in local.items():
        p.set_local(instance.key, name, value)
    p.complete(instance)


def _take_result(p: Processing, instance: ElementInstance, variables: dict[str, Any]) -> None:
    """Result variables: local to the element when it maps outputs, else propagated."""
    element = p.process.element(instance.element_id)
    if element.output_mappings:
        for name, value in variables.items():
            p.set_local(instance.key, name, value)
    else:
        p.set_all_propagating(instance.key, variables)


def _normalized(variables: dict[str, Any]) -> dict[str, Any]:
    from legato.engine.values import checked_variables

    return checked_variables(variables)


def _fail_job(p: Processing, command: cmd.FailJob) -> None:
    instance = _element_for_job(p, command.job_key)
    job = p.state.jobs[command.job_key]
    if job.failed:
        raise InvalidCommandError(
            f"job {command.job_key} has failed already and waits for an operator"
        )
    if command.retries is not None and command.retries < 0:
        raise InvalidCommandError(f"retries must not be negative, not {command.retries}")
    if command.retries is not None:
        # The worker decides how many attempts are left (Camunda's failure semantics).
        retries = command.retries if command.retryable else 0
    else:
        retries = job.retries - 1 if command.retryable else 0
    if retries > 0:
        if command.retry_after is not None:
            delay = command.retry_after
        elif command.retries is not None:
            delay = timedelta(0)
        else:
            policy = p.retry_policy(p.process.element(instance.element_id))
            delay = p.backoff(policy, max(policy.max_attempts - retries, 1))
        p.emit(
            ev.JobFailed(
                at=p.ctx.now,
                job_key=command.job_key,
                retries=retries,
                error_message=command.error_message,
                retry_at=p.ctx.now + delay,
                element_id=instance.element_id,
                error_details=command.details,
            )
        )
        return
    p.emit(
        ev.JobFailed(
            at=p.ctx.now,
            job_key=command.job_key,
            retries=0,
            error_message=command.error_message,
            element_id=instance.element_id,
            error_details=command.details,
        )
    )
    p.raise_incident(
        instance,
        "job_failed",
        command.error_message,
        "job",
        job_key=command.job_key,
        details=command.details,
    )


def _update_job_retries(p: Processing, command: cmd.UpdateJobRetries) -> None:
    instance = _element_for_job(p, command.job_key)
    job = p.state.jobs[command.job_key]
    if command.retries < 0:
        raise InvalidCommandError(f"retries must not be negative, not {command.retries}")
    if job.failed:
        if command.retries == 0:
            return  # it waits for an operator already
        p.emit(ev.JobRetriesUpdated(at=p.ctx.now, job_key=command.job_key, retries=command.retries))
        for incident in list(p.state.incidents.values()):
            if incident.job_key == command.job_key:
                p.emit(ev.IncidentResolved(at=p.ctx.now, incident_key=incident.incident_key))
        return
    p.emit(ev.JobRetriesUpdated(at=p.ctx.now, job_key=command.job_key, retries=command.retries))
    if command.retries == 0:
        p.raise_incident(
            instance,
            "job_failed",
            f"the retries of job {command.job_key} were set to 0",
            "job",
            job_key=command.job_key,
        )


def _throw_error(p: Processing, command: cmd.ThrowError) -> None:
    instance = _element_for_job(p, command.job_key)
    variables = _normalized(command.variables)
    if throw_error(p, instance, command.error_code, command.error_message, variables):
        return
    state = p.state
    if state.parent_instance_key is not None and state.parent_element_instance_key is not None:
        p.follow_ups.append(
            cmd.ThrowErrorFromChild(
                instance_key=state.parent_instance_key,
                element_instance_key=state.parent_element_instance_key,
                child_instance_key=state.instance_key,
                error_code=command.error_code,
                error_message=command.error_message,
                variables=variables,
            )
        )
        # The job is done with: the calling instance decides (it catches the error, which
        # cancels this instance, or it raises the incident).
        p.emit(
            ev.JobFailed(
                at=p.ctx.now,
                job_key=command.job_key,
                retries=0,
                error_message=f"BPMN error '{command.error_code}' passed to the calling instance",
                element_id=instance.element_id,
            )
        )
        return
    message = f"unhandled BPMN error '{command.error_code}'"
    if command.error_message:
        message += f": {command.error_message}"
    p.emit(
        ev.JobFailed(
            at=p.ctx.now,
            job_key=command.job_key,
            retries=0,
            error_message=message,
            element_id=instance.element_id,
        )
    )
    p.raise_incident(instance, "unhandled_error", message, "job", job_key=command.job_key)


_DELEGATED = "user task {key} is delegated to {holder!r}: it must be resolved, not completed"


def _open_user_task(p: Processing, user_task_key: int) -> ElementInstance:
    element_key = p.state.user_tasks.get(user_task_key)
    if element_key is None:
        raise TaskConflictError(f"user task {user_task_key} is not open (completed or canceled)")
    return p.state.elements[element_key]


def _complete_user_task(p: Processing, command: cmd.CompleteUserTask) -> None:
    instance = _open_user_task(p, command.user_task_key)
    people = p.state.task_people.get(command.user_task_key)
    holder = people.assignee if people is not None else None
    if people is not None and people.delegation_state == "PENDING":
        raise TaskConflictError(_DELEGATED.format(key=command.user_task_key, holder=holder))
    if command.completed_by is not None and holder is not None and holder != command.completed_by:
        raise TaskConflictError(
            f"user task {command.user_task_key} is assigned to {holder!r}, "
            f"not to {command.completed_by!r}"
        )
    variables = _normalized(command.variables)
    p.emit(
        ev.UserTaskCompleted(
            at=p.ctx.now,
            user_task_key=command.user_task_key,
            completed_by=command.completed_by,
            variables=variables,
        )
    )
    _take_result(p, instance, variables)
    p.complete(instance)


def _assign_user_task(p: Processing, command: cmd.AssignUserTask) -> None:
    instance = _open_user_task(p, command.user_task_key)
    key = command.user_task_key
    now = p.state.task_people.get(key) or TaskPeople()
    action, assignee = command.action, command.assignee
    if action in ("assign", "claim"):
        override = command.allow_override and action == "assign"
        if not override and now.assignee not in (None, assignee):
            raise TaskConflictError(f"user task {key} is already assigned to {now.assignee!r}")
        after = TaskPeople(assignee, now.owner, now.delegation_state)
    elif action == "unclaim":
        after = TaskPeople(None, now.owner, now.delegation_state)
    elif action == "delegate":
        if assignee is None:
            raise InvalidCommandError(f"user task {key} cannot be delegated to nobody")
        owner = now.owner if now.delegation_state == "PENDING" else now.assignee
        after = TaskPeople(assignee, owner or now.assignee, "PENDING")
    elif action == "resolve":
        if now.delegation_state != "PENDING":
            raise TaskConflictError(f"user task {key} is not delegated, so it cannot be resolved")
        after = TaskPeople(now.owner, now.owner, "RESOLVED")
    else:
        raise InvalidCommandError(f"unknown user task action {action!r}")
    p.emit(
        ev.UserTaskAssigned(
            at=p.ctx.now,
            user_task_key=key,
            action=action,
            element_id=instance.element_id,
            assignee=after.assignee,
            owner=after.owner,
            delegation_state=after.delegation_state,
            by=command.by,
        )
    )
    if command.variables:
        _take_result(p, instance, _normalized(command.variables))


def _set_variables(p: Processing, command: cmd.SetVariables) -> None:
    scope_key = command.scope_key if command.scope_key is not None else p.state.instance_key
    if scope_key not in p.state.elements:
        raise InvalidCommandError(
            f"scope {scope_key} is not active in instance {p.state.instance_key}"
        )
    _edit_variables(p, scope_key, command.variables, command.local, command.by)
    # Changed data may unblock nothing by itself; incidents are retried explicitly.


def _edit_variables(
    p: Processing, scope_key: int, variables: dict[str, Any], local: bool, by: str | None
) -> None:
    """Set variables from outside the process, recording the old and new values (one
    :class:`~legato.engine.events.VariablesEdited` per scope, before its changes)."""
    before = {key: dict(scope) for key, scope in p.state.variables.items()}
    first = len(p.events)
    for name, value in _normalized(variables).items():
        if local:
            p.set_local(scope_key, name, value)
        else:
            p.set_propagating(scope_key, name, value)
    changes: dict[int, dict[str, dict[str, Any]]] = {}
    for event in p.events[first:]:
        if type(event) is ev.VariableSet:
            old = before.get(event.scope_key, {}).get(event.name)
            changes.setdefault(event.scope_key, {})[event.name] = {"old": old, "new": event.value}
    edits = [
        ev.VariablesEdited(at=p.ctx.now, scope_key=key, changes=changed, by=by)
        for key, changed in changes.items()
    ]
    p.events[first:first] = edits


def _resolve_incident(p: Processing, command: cmd.ResolveIncident) -> None:
    incident = p.state.incidents.get(command.incident_key)
    if incident is None:
        raise InvalidCommandError(f"incident {command.incident_key} is not open")
    instance = p.state.elements[incident.element_instance_key]
    retries = command.retries if command.retries is not None else 1
    job_incident = incident.phase == "job" and incident.job_key is not None
    if job_incident and retries < 1:
        raise InvalidCommandError("a job needs at least one retry to be tried again")
    if command.variables:
        _edit_variables(p, p.state.instance_key, command.variables, True, command.by)
    resolved = ev.IncidentResolved(at=p.ctx.now, incident_key=incident.incident_key, by=command.by)
    if job_incident:
        assert incident.job_key is not None
        p.emit(ev.JobRetriesUpdated(at=p.ctx.now, job_key=incident.job_key, retries=retries))
        p.emit(resolved)
        return
    p.emit(resolved)
    if incident.phase == "complete":
        p.later(lambda: p.run_completion(instance))
    else:
        p.later(lambda: p.run_activation(instance))


def _cancel(p: Processing, command: cmd.CancelInstance) -> None:
    root = p.state.elements[p.state.instance_key]
    p.terminate(root)
    p.emit(ev.InstanceTerminated(at=p.ctx.now, reason=command.reason, by=command.by))


def _suspend(p: Processing, command: cmd.SuspendInstance) -> None:
    key = p.state.instance_key
    if p.state.suspended:
        if command.from_parent:
            return
        raise InstanceSuspendedError(f"instance {key} is suspended already")
    p.emit(ev.InstanceSuspended(at=p.ctx.now, by=command.by))
    for child in _called_children(p):
        p.follow_ups.append(
            cmd.SuspendInstance(instance_key=child, by=command.by, from_parent=True)
        )


def _resume(p: Processing, command: cmd.ResumeInstance) -> None:
    key = p.state.instance_key
    if not p.state.suspended:
        if command.from_parent:
            return
        raise InstanceSuspendedError(f"instance {key} is not suspended, so it cannot be resumed")
    p.emit(ev.InstanceResumed(at=p.ctx.now, by=command.by))
    # Variables may have changed meanwhile, with conditional events waiting: as after a
    # change, the conditions that hold now trigger.
    evaluate_conditions(p)
    for child in _called_children(p):
        p.follow_ups.append(cmd.ResumeInstance(instance_key=child, by=command.by, from_parent=True))


def _called_children(p: Processing) -> list[int]:
    return [
        e.child_instance_key for e in p.state.elements.values() if e.child_instance_key is not None
    ]


def _complete_call_activity(p: Processing, command: cmd.CompleteCallActivity) -> None:
    instance = p.state.elements.get(command.element_instance_key)
    if instance is None or instance.child_instance_key != command.child_instance_key:
        raise InvalidCommandError(
            f"element instance {command.element_instance_key} does not wait for child "
            f"{command.child_instance_key}"
        )
    element = p.process.element(instance.element_id)
    assert isinstance(element, CallActivity)
    child_completed(p, instance, element, _normalized(command.variables))


def _owner_and_catch(
    p: Processing, element_instance_key: int, element_id: str
) -> tuple[ElementInstance, FlowNode]:
    owner = p.state.elements.get(element_instance_key)
    if owner is None:
        raise InvalidCommandError(
            f"element instance {element_instance_key} is not waiting any more"
        )
    return owner, p.process.element(element_id)


def _trigger_timer(p: Processing, command: cmd.TriggerTimer) -> None:
    timer = p.state.timers.get(command.timer_key)
    if timer is None:
        raise InvalidCommandError(
            f"timer {command.timer_key} is not scheduled (fired or cancelled)"
        )
    owner, catch = _owner_and_catch(p, timer.element_instance_key, timer.element_id)
    p.emit(ev.TimerTriggered(at=p.ctx.now, timer_key=timer.timer_key, element_id=timer.element_id))
    repeats = timer.cycle is not None and timer.repetitions not in (None, 0)
    if repeats and not is_interrupting(catch) and not is_parallel_multiple(catch):
        assert timer.cycle is not None and timer.repetitions is not None
        remaining = (
            timer.repetitions if timer.repetitions == timers.UNBOUNDED else timer.repetitions - 1
        )
        p.emit(
            ev.TimerScheduled(
                at=p.ctx.now,
                timer_key=p.ctx.new_key(),
                element_instance_key=owner.key,
                element_id=timer.element_id,
                due_at=timers.next_firing(timer.cycle, timer.due_at, p.ctx.now),
                repetitions=remaining,
                cycle=timer.cycle,
            )
        )
    p.guarded(owner, "activate", lambda: trigger(p, owner, catch, {}))


def _open_subscription(p: Processing, key: int, kind: str) -> SubscriptionState:
    subscription = p.state.subscriptions.get(key)
    if subscription is None or subscription.kind != kind:
        raise InvalidCommandError(f"{kind} subscription {key} is not open")
    if subscription.element_instance_key not in p.state.elements:
        raise InvalidCommandError(f"{kind} subscription {key} waits no more")
    return subscription


def _correlate_message(p: Processing, command: cmd.CorrelateMessage) -> None:
    subscription = _open_subscription(p, command.subscription_key, "message")
    variables = _normalized(command.variables)
    heard = ev.MessageCorrelated(
        at=p.ctx.now,
        subscription_key=subscription.subscription_key,
        name=command.name,
        element_id=subscription.element_id,
        correlation_key=command.correlation_key,
        message_key=command.message_key,
        variables=variables,
    )
    deliver(p, subscription, heard, variables)


def _receive_signal(p: Processing, command: cmd.ReceiveSignal) -> None:
    subscription = _open_subscription(p, command.subscription_key, "signal")
    variables = _normalized(command.variables)
    heard = ev.SignalReceived(
        at=p.ctx.now,
        subscription_key=subscription.subscription_key,
        name=command.name,
        element_id=subscription.element_id,
        variables=variables,
    )
    deliver(p, subscription, heard, variables)


def _error_from_child(p: Processing, command: cmd.ThrowErrorFromChild) -> None:
    instance = p.state.elements.get(command.element_instance_key)
    if instance is None or instance.child_instance_key != command.child_instance_key:
        raise InvalidCommandError(
            f"element instance {command.element_instance_key} called no such child"
        )
    variables = _normalized(command.variables)
    if throw_error(p, instance, command.error_code, command.error_message, variables):
        return
    p.raise_incident(
        instance,
        "unhandled_error",
        f"error '{command.error_code}' thrown in called instance {command.child_instance_key} "
        "is caught by no event",
        "activate",
    )


def _escalation_from_child(p: Processing, command: cmd.EscalateFromChild) -> None:
    instance = p.state.elements.get(command.element_instance_key)
    if instance is None or instance.child_instance_key != command.child_instance_key:
        raise InvalidCommandError(
            f"element instance {command.element_instance_key} called no such child"
        )
    throw_escalation(p, instance, command.escalation_code)


_HANDLERS: dict[type[cmd.Command], Callable[[Processing, Any], None]] = {
    cmd.CompleteJob: _complete_job,
    cmd.FailJob: _fail_job,
    cmd.UpdateJobRetries: _update_job_retries,
    cmd.ThrowError: _throw_error,
    cmd.CompleteUserTask: _complete_user_task,
    cmd.AssignUserTask: _assign_user_task,
    cmd.SetVariables: _set_variables,
    cmd.ResolveIncident: _resolve_incident,
    cmd.CancelInstance: _cancel,
    cmd.SuspendInstance: _suspend,
    cmd.ResumeInstance: _resume,
    cmd.CompleteCallActivity: _complete_call_activity,
    cmd.TriggerTimer: _trigger_timer,
    cmd.CorrelateMessage: _correlate_message,
    cmd.ReceiveSignal: _receive_signal,
    cmd.ThrowErrorFromChild: _error_from_child,
    cmd.EscalateFromChild: _escalation_from_child,
}

_WHILE_SUSPENDED = frozenset(
    {cmd.CancelInstance, cmd.SetVariables, cmd.SuspendInstance, cmd.ResumeInstance}
)
"""What a suspended instance still takes; anything else waits until it is resumed."""
