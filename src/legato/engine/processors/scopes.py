"""Scopes: embedded sub-processes and call activities, and what happens when a scope empties."""

from __future__ import annotations

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.incident import IncidentError
from legato.engine.processors.base import ActivityProcessor
from legato.engine.processors.waits import close_waits, open_scope_waits
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import Activity, CallActivity, SubProcess


class SubProcessProcessor(ActivityProcessor):
    """Starts the tokens of its scope; completes when the last of them has ended.

    An event sub-process is entered through the start event that triggered it, which the
    trigger activates itself.
    """

    def arm(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        super().arm(p, instance, element)
        open_scope_waits(p, instance, element.element_id)

    def execute(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        if isinstance(element, SubProcess) and element.triggered_by_event:
            return
        starts = p.plan.nodes[element.element_id].starts
        if not starts:
            p.complete(instance)
            return
        for start in starts:
            p.activate(start, instance.key, None)


class CallActivityProcessor(ActivityProcessor):
    """Starts the latest version of the called process and waits for it to complete."""

    def execute(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        assert isinstance(element, CallActivity)
        if element.called_element is None:
            raise IncidentError("call", f"call activity '{element.element_id}' names no process")
        process_id = p.evaluate(element.called_element, instance.key)
        if not isinstance(process_id, str):
            raise IncidentError(
                "call", f"called element evaluated to {process_id!r}, not a process id"
            )
        deployed = p.ctx.definitions.latest(process_id)
        if deployed is None:
            raise IncidentError("call", f"no process with id '{process_id}' is deployed")
        if element.propagate_all_parent_variables:
            variables = p.variables_of(instance.key)
        else:
            variables = dict(p.state.variables.get(instance.key, {}))
        child_key = p.ctx.new_key()
        p.emit(
            ev.CallActivityChildStarted(
                at=p.ctx.now, element_instance_key=instance.key, child_instance_key=child_key
            )
        )
        p.follow_ups.append(
            cmd.StartInstance(
                instance_key=child_key,
                definition_key=deployed.definition_key,
                variables=variables,
                business_key=p.state.business_key,
                parent_instance_key=p.state.instance_key,
                parent_element_instance_key=instance.key,
            )
        )

    def on_terminate(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        if instance.child_instance_key is not None:
            p.follow_ups.append(
                cmd.CancelInstance(
                    instance_key=instance.child_instance_key, reason="parent terminated"
                )
            )


def child_completed(
    p: Processing, instance: ElementInstance, element: CallActivity, variables: dict[str, object]
) -> None:
    """The called instance completed: take its variables back and complete the call."""
    if element.propagate_all_child_variables and not element.output_mappings:
        p.set_all_propagating(instance.key, variables)
    else:
        for name, value in variables.items():
            p.set_local(instance.key, name, value)
    p.complete(instance)


def complete_instance(p: Processing) -> None:
    """The root scope emptied: the instance is complete; tell a calling parent."""
    state = p.state
    root_variables = dict(state.variables.get(state.instance_key, {}))
    close_waits(p, state.elements[state.instance_key])
    p.emit(ev.InstanceCompleted(at=p.ctx.now))
    if state.parent_instance_key is not None and state.parent_element_instance_key is not None:
        p.follow_ups.append(
            cmd.CompleteCallActivity(
                instance_key=state.parent_instance_key,
                element_instance_key=state.parent_element_instance_key,
                child_instance_key=state.instance_key,
                variables=root_variables,
            )
        )
