"""The pure core: ``step(state, command, ctx)`` returns the events and the new state.

No I/O, no clock, no randomness: the context brings time, keys and the deployed models, so the
same inputs always give the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine import (
    handle_events,
    handle_instances,
    handle_jobs,
    handle_tasks,
    migration,
    modification,
)
from legato.engine.context import EngineContext
from legato.engine.plan import Behaviour
from legato.engine.processing import Processing
from legato.engine.processors.waits import open_scope_waits
from legato.engine.state import InstanceState
from legato.engine.values import checked_variables
from legato.errors import InstanceSuspendedError, InvalidCommandError, NotFoundError
from legato.feel import use_limits


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
    if state.status != "active":  # not state.is_active
        raise InvalidCommandError(f"instance {state.instance_key} is {state.status}")
    if state.suspended and type(command) not in _WHILE_SUSPENDED:
        raise InstanceSuspendedError(
            f"instance {state.instance_key} is suspended: resume it first "
            "(only cancelling it and changing its variables are allowed meanwhile)"
        )
    processing = Processing(state, ctx.definitions.get(state.definition_key), ctx)
    if type(command) is cmd.MigrateInstance:
        processing = migration.migrate(processing, command)  # on in the target version
    else:
        handler = _HANDLERS.get(type(command))
        if handler is None:
            raise InvalidCommandError(f"unknown command {type(command).__name__}")
        handler(processing, command)
    processing.run()
    p = processing
    return StepResult(p.state, p.events, p.follow_ups, p.messages, p.signals)


def _start(command: cmd.StartInstance, ctx: EngineContext) -> StepResult:
    deployed = ctx.definitions.get(command.definition_key)
    process = deployed.process
    variables = checked_variables(command.variables)
    if command.start_element_id is not None:
        if command.start_element_id not in process.elements:
            raise InvalidCommandError(
                f"process '{process.process_id}' has no element '{command.start_element_id}'"
            )
        starts = [deployed.plan.nodes[command.start_element_id]]
    else:
        starts = list(deployed.plan.root.starts)
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
            version_reason=command.version_reason,
        )
    )
    root = state.elements[command.instance_key]
    for name in process.variables:
        p.set_local(root.key, name, None)
    for name, value in variables.items():
        p.set_local(root.key, name, value)
    if deployed.plan.root.waiting_event_starts:
        p.guarded(root, "activate", lambda: open_scope_waits(p, root, process.process_id))
    for start in starts:
        if start.behaviour is Behaviour.RECEIVE_TASK and start.element.instantiate:
            # Started by its message (see runtime.starts): it has been received.
            p.pretriggered[(root.key, start.element_id)] = {}
        p.activate(start, root.key, None)
    p.run()
    return StepResult(p.state, p.events, p.follow_ups, p.messages, p.signals)


_HANDLERS: dict[type[cmd.Command], Callable[[Processing, Any], None]] = {
    cmd.CompleteJob: handle_jobs.complete_job,
    cmd.FailJob: handle_jobs.fail_job,
    cmd.UpdateJobRetries: handle_jobs.update_job_retries,
    cmd.ThrowError: handle_jobs.throw_error_from_job,
    cmd.CompleteUserTask: handle_tasks.complete_user_task,
    cmd.AssignUserTask: handle_tasks.assign_user_task,
    cmd.SetVariables: handle_instances.set_variables,
    cmd.ResolveIncident: handle_instances.resolve_incident,
    cmd.CancelInstance: handle_instances.cancel,
    cmd.ModifyInstance: modification.modify,
    cmd.SuspendInstance: handle_instances.suspend,
    cmd.ResumeInstance: handle_instances.resume,
    cmd.CompleteCallActivity: handle_instances.complete_call_activity,
    cmd.TriggerTimer: handle_events.trigger_timer,
    cmd.CorrelateMessage: handle_events.correlate_message,
    cmd.ReceiveSignal: handle_events.receive_signal,
    cmd.ThrowErrorFromChild: handle_events.error_from_child,
    cmd.EscalateFromChild: handle_events.escalation_from_child,
}

_WHILE_SUSPENDED = frozenset(
    {cmd.CancelInstance, cmd.SetVariables, cmd.SuspendInstance, cmd.ResumeInstance}
)
"""What a suspended instance still takes; anything else waits until it is resumed."""
