"""Commands about a whole instance: variables edited from outside, incidents resolved,
cancelling, suspending and resuming, and a called child that completed."""

from __future__ import annotations

from typing import Any

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.processing import Processing
from legato.engine.processors.conditions import evaluate_conditions
from legato.engine.processors.scopes import child_completed
from legato.engine.values import checked_variables
from legato.errors import InstanceSuspendedError, InvalidCommandError
from legato.model import CallActivity


def set_variables(p: Processing, command: cmd.SetVariables) -> None:
    scope_key = command.scope_key if command.scope_key is not None else p.state.instance_key
    if scope_key not in p.state.elements:
        raise InvalidCommandError(
            f"scope {scope_key} is not active in instance {p.state.instance_key}"
        )
    edit_variables(p, scope_key, command.variables, command.local, command.by)
    # Changed data may unblock nothing by itself; incidents are retried explicitly.


def edit_variables(
    p: Processing, scope_key: int, variables: dict[str, Any], local: bool, by: str | None
) -> None:
    """Set variables from outside the process, recording the old and new values (one
    :class:`~legato.engine.events.VariablesEdited` per scope, before its changes)."""
    before = {key: dict(scope) for key, scope in p.state.variables.items()}
    first = len(p.events)
    for name, value in checked_variables(variables).items():
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


def resolve_incident(p: Processing, command: cmd.ResolveIncident) -> None:
    incident = p.state.incidents.get(command.incident_key)
    if incident is None:
        raise InvalidCommandError(f"incident {command.incident_key} is not open")
    instance = p.state.elements[incident.element_instance_key]
    retries = command.retries if command.retries is not None else 1
    job_incident = incident.phase == "job" and incident.job_key is not None
    if job_incident and retries < 1:
        raise InvalidCommandError("a job needs at least one retry to be tried again")
    if command.variables:
        edit_variables(p, p.state.instance_key, command.variables, True, command.by)
    resolved = ev.IncidentResolved(at=p.ctx.now, incident_key=incident.incident_key, by=command.by)
    if job_incident:
        assert incident.job_key is not None
        p.emit(ev.JobRetriesUpdated(at=p.ctx.now, job_key=incident.job_key, retries=retries))
        p.emit(resolved)
        return
    p.emit(resolved)
    if incident.phase == "complete":
        p.later(p.run_completion, instance)
    else:
        p.later(p.run_activation, instance)


def cancel(p: Processing, command: cmd.CancelInstance) -> None:
    root = p.state.elements[p.state.instance_key]
    p.terminate(root)
    p.emit(ev.InstanceTerminated(at=p.ctx.now, reason=command.reason, by=command.by))


def suspend(p: Processing, command: cmd.SuspendInstance) -> None:
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


def resume(p: Processing, command: cmd.ResumeInstance) -> None:
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


def complete_call_activity(p: Processing, command: cmd.CompleteCallActivity) -> None:
    instance = p.state.elements.get(command.element_instance_key)
    if instance is None or instance.child_instance_key != command.child_instance_key:
        raise InvalidCommandError(
            f"element instance {command.element_instance_key} does not wait for child "
            f"{command.child_instance_key}"
        )
    element = p.process.element(instance.element_id)
    assert isinstance(element, CallActivity)
    child_completed(p, instance, element, checked_variables(command.variables))
