"""Waiting for events: opening and closing the waits of timers, messages, signals and
conditions, and going on when one of them happens.

An element instance that waits *owns* the wait: a catch event or receive task owns its own; an
activity owns the waits of its boundary events; a scope (the process or a sub-process) owns
the waits of the start events of its event sub-processes; an event-based gateway owns the
waits of the events after it. Every wait of an owner ends when the owner ends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from legato.engine import events as ev
from legato.engine import values
from legato.engine.incident import IncidentError
from legato.engine.kinds import SubscriptionKind
from legato.engine.processors.timer_events import schedule_timer
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import (
    Activity,
    BoundaryEvent,
    ConditionalEventDefinition,
    Event,
    EventBasedGateway,
    EventDefinition,
    FlowNode,
    MessageEventDefinition,
    SignalEventDefinition,
    StartEvent,
    SubProcess,
    TimerEventDefinition,
)
from legato.model.queries import WAITABLE, definition_of, is_interrupting, is_parallel_multiple

# -- opening and closing ------------------------------------------------------------------------


def open_activity_waits(p: Processing, instance: ElementInstance, element: Activity) -> None:
    """An activity (or a multi-instance body) starts: arm its boundary events."""
    for boundary in p.plan.nodes[element.element_id].waiting_boundaries:
        open_wait(p, instance, boundary)


def open_scope_waits(p: Processing, scope: ElementInstance, scope_id: str) -> None:
    """A scope starts: arm the start events of its event sub-processes."""
    plan = p.plan
    node = plan.root if scope_id == plan.root.element_id else plan.nodes[scope_id]
    for start in node.waiting_event_starts:
        open_wait(p, scope, start)


def open_wait(p: Processing, owner: ElementInstance, event: FlowNode) -> None:
    """Make ``owner`` wait for the event ``event`` defines (for any of them, when it defines
    several: the first to happen triggers it and ends the waits for the others; for all of
    them when it is parallel multiple: each wait ends as its event occurs, and the last one
    triggers it)."""
    definitions = event.event_definitions if isinstance(event, Event) else ()
    if len(definitions) > 1:
        for definition in definitions:
            if isinstance(definition, WAITABLE):
                _open_one(p, owner, event, definition)
    else:
        _open_one(p, owner, event, definition_of(event))


def _open_one(
    p: Processing, owner: ElementInstance, event: FlowNode, definition: EventDefinition | None
) -> None:
    interrupting = is_interrupting(event)
    if isinstance(definition, TimerEventDefinition):
        schedule_timer(p, owner, event, definition)
    elif isinstance(definition, MessageEventDefinition):
        key = None
        if definition.correlation_key is not None:
            key = correlation_value(p.evaluate(definition.correlation_key, owner.key))
        _subscribe(p, owner, event, "message", definition.message_name or "", key, interrupting)
    elif isinstance(definition, SignalEventDefinition):
        _subscribe(p, owner, event, "signal", definition.signal_name or "", None, interrupting)
    elif isinstance(definition, ConditionalEventDefinition):
        _subscribe(p, owner, event, "conditional", event.element_id, None, interrupting)


def correlation_value(value: Any) -> str:
    """A correlation key as text: strings as they are, whole numbers without a fraction."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise IncidentError(
            "correlation", f"a correlation key must be a string or number, got {value!r}"
        )
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
        problem = values.number_problem(number)
        if problem is not None:
            raise IncidentError("correlation", f"unusable correlation key: {problem}")
        if number == number.to_integral_value():
            return str(int(number))
        return str(number.normalize())
    raise IncidentError(
        "correlation", f"a correlation key must be a string or number, got {value!r}"
    )


def _subscribe(
    p: Processing,
    owner: ElementInstance,
    event: FlowNode,
    kind: SubscriptionKind,
    name: str,
    correlation_key: str | None,
    interrupting: bool,
) -> None:
    p.emit(
        ev.SubscriptionOpened(
            at=p.ctx.now,
            subscription_key=p.ctx.new_key(),
            kind=kind,
            name=name,
            element_instance_key=owner.key,
            element_id=event.element_id,
            correlation_key=correlation_key,
            interrupting=interrupting,
        )
    )


def close_waits(p: Processing, owner: ElementInstance, only: set[str] | None = None) -> None:
    """End the waits of ``owner`` (only those of the events in ``only``, when given)."""
    if not (p.state.timers or p.state.subscriptions):
        return  # most instances wait on neither, and this runs for every element
    for timer in list(p.state.timers.values()):
        if timer.element_instance_key == owner.key and (only is None or timer.element_id in only):
            p.emit(ev.TimerCanceled(at=p.ctx.now, timer_key=timer.timer_key))
    for sub in list(p.state.subscriptions.values()):
        if sub.element_instance_key == owner.key and (only is None or sub.element_id in only):
            p.emit(ev.SubscriptionClosed(at=p.ctx.now, subscription_key=sub.subscription_key))


# -- triggering ----------------------------------------------------------------------------------


def trigger(
    p: Processing,
    owner: ElementInstance,
    catch: FlowNode,
    variables: dict[str, Any],
    for_mappings: dict[str, Any] | None = None,
) -> None:
    """The event ``catch`` happened for ``owner``: go on from there.

    ``for_mappings`` are variables that only the output mappings of a catching boundary or
    start event see (Zeebe's ``errorCode``, ``errorMessage`` and ``escalationCode``): they
    are local to the event's instance and end with it.
    """
    if is_parallel_multiple(catch):
        _parallel_occurred(p, owner, catch, variables)
        return
    _trigger(p, owner, catch, variables, for_mappings)


def _parallel_occurred(
    p: Processing, owner: ElementInstance, catch: FlowNode, variables: dict[str, Any]
) -> None:
    """One event of a parallel multiple event occurred (its wait has ended): trigger it when
    no wait for its other events is left. The variables of each occurrence are set as it
    occurs: into the catch event, or for a boundary event, an event sub-process or a gateway's
    event, from the enclosing scope."""
    waiting = any(
        t.element_instance_key == owner.key and t.element_id == catch.element_id
        for t in p.state.timers.values()
    ) or any(
        s.element_instance_key == owner.key and s.element_id == catch.element_id
        for s in p.state.subscriptions.values()
    )
    if waiting:
        if owner.element_id == catch.element_id:
            _take_variables(p, owner, catch, variables)
        elif variables:
            p.set_all_propagating(owner.parent_key or owner.key, variables)
        return
    _trigger(p, owner, catch, variables)
    if not is_interrupting(catch) and owner.key in p.state.elements:
        open_wait(p, owner, catch)  # a non-interrupting one waits for all of them again


def _trigger(
    p: Processing,
    owner: ElementInstance,
    catch: FlowNode,
    variables: dict[str, Any],
    for_mappings: dict[str, Any] | None = None,
) -> None:
    if isinstance(catch, BoundaryEvent):
        scope_key = owner.parent_key
        assert scope_key is not None
        if catch.cancel_activity:
            p.terminate(owner)
        boundary = p.activate(p.plan.nodes[catch.element_id], scope_key, None)
        _mapping_variables(p, boundary, catch, for_mappings)
        _take_variables(p, boundary, catch, variables)
    elif isinstance(catch, StartEvent):
        _start_event_sub_process(p, owner, catch, variables, for_mappings)
    elif owner.key in p.state.elements and isinstance(
        p.process.element(owner.element_id), EventBasedGateway
    ):
        gateway = p.plan.nodes[owner.element_id]
        [flow] = [f for f in gateway.outgoing if f.target.element_id == catch.element_id]
        assert owner.parent_key is not None
        p.pretriggered[(owner.parent_key, catch.element_id)] = variables
        p.finish(owner, [flow])
    else:
        close_waits(p, owner)
        _take_variables(p, owner, catch, variables)
        p.complete(owner)


def _mapping_variables(
    p: Processing, instance: ElementInstance, catch: FlowNode, variables: dict[str, Any] | None
) -> None:
    if variables and catch.output_mappings:
        _set_locals(p, instance, variables)


def _take_variables(
    p: Processing, instance: ElementInstance, catch: FlowNode, variables: dict[str, Any]
) -> None:
    if not variables:
        return
    if catch.output_mappings:
        _set_locals(p, instance, variables)
    else:
        p.set_all_propagating(instance.key, variables)


def _set_locals(p: Processing, instance: ElementInstance, variables: dict[str, Any]) -> None:
    for name, value in variables.items():
        p.set_local(instance.key, name, value)


def _start_event_sub_process(
    p: Processing,
    scope: ElementInstance,
    start: StartEvent,
    variables: dict[str, Any],
    for_mappings: dict[str, Any] | None = None,
) -> None:
    sub_process = p.process.element(start.scope_id)
    if start.is_interrupting:
        starts = {
            s
            for child_id in p.process.children.get(scope.element_id, ())
            if isinstance(p.process.element(child_id), SubProcess)
            for s in p.process.children.get(child_id, ())
            if isinstance(p.process.element(s), StartEvent)
        }
        close_waits(p, scope, starts)
        for key in sorted(scope.children, reverse=True):
            child = p.state.elements.get(key)
            if child is not None:
                p.terminate(child)
        _drop_join_tokens(p, scope.key)
    esp = p.activate(p.plan.nodes[sub_process.element_id], scope.key, None)
    for name, value in variables.items():
        p.set_local(esp.key, name, value)
    p.later(_enter_event_sub_process, (p, esp, start, for_mappings))


def _enter_event_sub_process(
    entry: tuple[Processing, ElementInstance, StartEvent, dict[str, Any] | None],
) -> None:
    p, esp, start, for_mappings = entry
    if esp.key in p.state.elements:
        entered = p.activate(p.plan.nodes[start.element_id], esp.key, None)
        _mapping_variables(p, entered, start, for_mappings)


def _drop_join_tokens(p: Processing, scope_key: int) -> None:
    for slot in [s for s in p.state.joins if s[0] == scope_key]:
        flows = p.state.joins[slot]
        p.emit(
            ev.JoinTokensConsumed(
                at=p.ctx.now, scope_key=slot[0], element_id=slot[1], consumed=dict(flows)
            )
        )
