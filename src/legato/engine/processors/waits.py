"""Waiting for events: timers, messages, signals and conditions; and throwing errors and
escalations up the scopes to where they are caught.

An element instance that waits *owns* the wait: a catch event or receive task owns its own; an
activity owns the waits of its boundary events; a scope (the process or a sub-process) owns
the waits of the start events of its event sub-processes; an event-based gateway owns the
waits of the events after it. Every wait of an owner ends when the owner ends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from legato.engine import events as ev
from legato.engine import timers, values
from legato.engine.processing import IncidentError, Processing
from legato.engine.state import ElementInstance, SubscriptionState
from legato.model import (
    Activity,
    BoundaryEvent,
    CancelEventDefinition,
    CompensateEventDefinition,
    ConditionalEventDefinition,
    ErrorEventDefinition,
    EscalationEventDefinition,
    Event,
    EventBasedGateway,
    EventDefinition,
    FlowNode,
    IntermediateCatchEvent,
    MessageEventDefinition,
    ReceiveTask,
    SignalEventDefinition,
    StartEvent,
    SubProcess,
    TimerEventDefinition,
)

WAITABLE = (
    TimerEventDefinition,
    MessageEventDefinition,
    SignalEventDefinition,
    ConditionalEventDefinition,
)


def definition_of(element: FlowNode) -> EventDefinition | None:
    """The (first) event definition of an event, or a receive task's message."""
    if isinstance(element, ReceiveTask):
        return element.message
    if isinstance(element, Event) and element.event_definitions:
        return element.event_definitions[0]
    return None


def is_interrupting(element: FlowNode) -> bool:
    """Whether triggering ``element`` ends what its owner was doing."""
    if isinstance(element, BoundaryEvent):
        return element.cancel_activity
    if isinstance(element, StartEvent):
        return element.is_interrupting
    return True


# -- opening and closing ------------------------------------------------------------------------


def waits_for_something(element: FlowNode) -> bool:
    """Whether the event is triggered by a timer, message, signal or condition."""
    if isinstance(element, Event):
        return any(isinstance(d, WAITABLE) for d in element.event_definitions)
    return isinstance(definition_of(element), WAITABLE)


def open_activity_waits(p: Processing, instance: ElementInstance, element: FlowNode) -> None:
    """An activity (or a multi-instance body) starts: arm its boundary events."""
    if not isinstance(element, Activity):
        return
    for boundary_id in element.boundary_events:
        boundary = p.process.element(boundary_id)
        if waits_for_something(boundary):
            open_wait(p, instance, boundary)


def open_scope_waits(p: Processing, scope: ElementInstance, scope_id: str) -> None:
    """A scope starts: arm the start events of its event sub-processes."""
    for child_id in p.process.children.get(scope_id, ()):
        child = p.process.element(child_id)
        if isinstance(child, SubProcess) and child.triggered_by_event:
            for start_id in p.process.children.get(child_id, ()):
                start = p.process.element(start_id)
                if isinstance(start, StartEvent) and waits_for_something(start):
                    open_wait(p, scope, start)


def is_parallel_multiple(element: FlowNode) -> bool:
    """Whether ``element`` is a parallel multiple event: every one of its definitions must
    occur (once each, in any order) before it is triggered."""
    if not isinstance(element, Event):
        return False
    return element.parallel_multiple and len(element.event_definitions) > 1


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
        schedule = _schedule(p, definition, owner, event)
        p.emit(
            ev.TimerScheduled(
                at=p.ctx.now,
                timer_key=p.ctx.new_key(),
                element_instance_key=owner.key,
                element_id=event.element_id,
                due_at=schedule.due_at,
                repetitions=schedule.repetitions,
                cycle=schedule.cycle,
            )
        )
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
    kind: str,
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


def _schedule(
    p: Processing, definition: TimerEventDefinition, owner: ElementInstance, event: FlowNode
) -> timers.Schedule:
    try:
        if definition.time_date is not None:
            return timers.at_date(p.evaluate(definition.time_date, owner.key))
        if definition.time_duration is not None:
            return timers.after_duration(p.evaluate(definition.time_duration, owner.key), p.ctx.now)
        if definition.time_cycle is not None:
            value = p.evaluate(definition.time_cycle, owner.key)
            if isinstance(event, IntermediateCatchEvent):
                # Its token leaves at the first firing: it waits for the cycle's next occurrence.
                return timers.next_occurrence(value, p.ctx.now)
            return timers.cycle(value, p.ctx.now)
    except timers.TimerError as exc:
        raise IncidentError("timer", f"timer '{event.element_id}': {exc}") from exc
    raise IncidentError("timer", f"timer '{event.element_id}' has no date, duration or cycle")


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
        boundary = p.activate(catch, scope_key, None)
        _mapping_variables(p, boundary, catch, for_mappings)
        _take_variables(p, boundary, catch, variables)
    elif isinstance(catch, StartEvent):
        _start_event_sub_process(p, owner, catch, variables, for_mappings)
    elif owner.key in p.state.elements and isinstance(
        p.process.element(owner.element_id), EventBasedGateway
    ):
        gateway = p.process.element(owner.element_id)
        [flow] = [
            p.process.flow(f)
            for f in gateway.outgoing
            if p.process.flow(f).target_id == catch.element_id
        ]
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
    esp = p.activate(sub_process, scope.key, None)
    for name, value in variables.items():
        p.set_local(esp.key, name, value)

    def enter() -> None:
        if esp.key in p.state.elements:
            _mapping_variables(p, p.activate(start, esp.key, None), start, for_mappings)

    p.later(enter)


def _drop_join_tokens(p: Processing, scope_key: int) -> None:
    for slot in [s for s in p.state.joins if s[0] == scope_key]:
        flows = p.state.joins[slot]
        p.emit(
            ev.JoinTokensConsumed(
                at=p.ctx.now, scope_key=slot[0], element_id=slot[1], consumed=dict(flows)
            )
        )


def deliver(
    p: Processing, sub: SubscriptionState, heard: ev.Event, variables: dict[str, Any]
) -> None:
    """A message or signal reached a subscription: record it, end a one-off wait, trigger."""
    owner = p.state.elements[sub.element_instance_key]
    p.emit(heard)
    catch = p.process.element(sub.element_id)
    if sub.interrupting or is_parallel_multiple(catch):
        p.emit(ev.SubscriptionClosed(at=p.ctx.now, subscription_key=sub.subscription_key))
    p.guarded(owner, "activate", lambda: trigger(p, owner, catch, variables))


def catch_signal(
    p: Processing, name: str, variables: dict[str, Any], skip: frozenset[int] | None = None
) -> None:
    """Deliver a signal thrown inside the instance to the instance's own catch events.

    It is delivered at once to those waiting, and once more when the step has run its course
    to those that began waiting meanwhile (a parallel branch whose catch event is entered
    after the throw of another branch, in the same instant).
    """
    for sub in list(p.state.subscriptions.values()):
        if sub.kind != "signal" or sub.name != name:
            continue
        if skip is not None and sub.subscription_key in skip:
            continue
        if sub.subscription_key not in p.state.subscriptions:
            continue
        if sub.element_instance_key not in p.state.elements:
            continue
        heard = ev.SignalReceived(
            at=p.ctx.now,
            subscription_key=sub.subscription_key,
            name=name,
            element_id=sub.element_id,
            variables=variables,
        )
        deliver(p, sub, heard, variables)
    if skip is None:
        p.pending_signals.append((name, variables, frozenset(p.state.subscriptions)))


# -- conditions -----------------------------------------------------------------------------------


def evaluate_conditions(p: Processing) -> None:
    """Trigger every conditional wait whose condition holds now."""
    for sub in list(p.state.subscriptions.values()):
        if sub.kind != "conditional" or sub.subscription_key not in p.state.subscriptions:
            continue
        owner = p.state.elements.get(sub.element_instance_key)
        if owner is None:
            continue
        catch = p.process.element(sub.element_id)
        definition = definition_of(catch)
        assert isinstance(definition, ConditionalEventDefinition)
        if definition.condition is None:
            continue
        try:
            holds = definition.condition.evaluate(p.variables_of(owner.key), p.ctx.now) is True
        except Exception:
            holds = False
        if holds:
            p.emit(
                ev.ConditionMet(
                    at=p.ctx.now, subscription_key=sub.subscription_key, element_id=sub.element_id
                )
            )
            if sub.interrupting or is_parallel_multiple(catch):
                p.emit(ev.SubscriptionClosed(at=p.ctx.now, subscription_key=sub.subscription_key))
            trigger(p, owner, catch, {})


# -- throwing errors and escalations --------------------------------------------------------------


def throw_error(
    p: Processing, source: ElementInstance, code: str, message: str, variables: dict[str, Any]
) -> bool:
    """Throw a BPMN error from ``source`` to the nearest catching event; False if none."""
    found = _find_catch(p, source, ErrorEventDefinition, code)
    p.emit(
        ev.ErrorThrown(
            at=p.ctx.now,
            element_instance_key=source.key,
            element_id=source.element_id,
            error_code=code,
            message=message,
            catch_element_id=found[1].element_id if found else None,
        )
    )
    if found is None:
        return False
    owner, catch = found
    definition = definition_of(catch)
    assert isinstance(definition, ErrorEventDefinition)
    values = dict(variables)
    if definition.code_variable:
        values[definition.code_variable] = code
    if definition.message_variable:
        values[definition.message_variable] = message
    trigger(p, owner, catch, values, {"errorCode": code, "errorMessage": message})
    return True


def throw_escalation(p: Processing, source: ElementInstance, code: str) -> bool:
    """Throw an escalation from ``source``; False if nothing catches it (that is no failure)."""
    found = _find_catch(p, source, EscalationEventDefinition, code)
    p.emit(
        ev.EscalationThrown(
            at=p.ctx.now,
            element_instance_key=source.key,
            element_id=source.element_id,
            escalation_code=code,
            catch_element_id=found[1].element_id if found else None,
        )
    )
    if found is None:
        return False
    owner, catch = found
    definition = definition_of(catch)
    assert isinstance(definition, EscalationEventDefinition)
    values = {definition.code_variable: code} if definition.code_variable else {}
    trigger(p, owner, catch, values, {"escalationCode": code})
    return True


def _find_catch(
    p: Processing, source: ElementInstance, kind: type[EventDefinition], code: str
) -> tuple[ElementInstance, FlowNode] | None:
    """The nearest (owner, catching event): boundary events on the way up, then event
    sub-processes of each enclosing scope."""
    node: ElementInstance | None = source
    while node is not None:
        parent = p.state.elements.get(node.parent_key) if node.parent_key is not None else None
        if node.parent_key is not None and not (parent is not None and parent.is_mi_body):
            element = p.process.element(node.element_id)
            if isinstance(element, Activity):
                found = _best(p, element.boundary_events, kind, code)
                if found is not None:
                    return node, found
        if parent is not None and not parent.is_mi_body:
            found = _best(p, _sub_process_starts(p, parent.element_id), kind, code)
            if found is not None:
                return parent, found
        node = parent
    return None


def _sub_process_starts(p: Processing, scope_id: str) -> list[str]:
    starts = []
    for child_id in p.process.children.get(scope_id, ()):
        child = p.process.element(child_id)
        if isinstance(child, SubProcess) and child.triggered_by_event:
            starts += [
                s
                for s in p.process.children.get(child_id, ())
                if isinstance(p.process.element(s), StartEvent)
            ]
    return starts


def _best(
    p: Processing, candidates: Any, kind: type[EventDefinition], code: str
) -> FlowNode | None:
    catch_all = None
    for element_id in candidates:
        element = p.process.element(element_id)
        definition = definition_of(element)
        if not isinstance(definition, kind):
            continue
        wanted = (
            getattr(definition, "error_code", None)
            if kind is ErrorEventDefinition
            else getattr(definition, "escalation_code", None)
        )
        if wanted == code:
            return element
        if wanted is None and catch_all is None:
            catch_all = element
    return catch_all


__all__ = [
    "close_waits",
    "correlation_value",
    "evaluate_conditions",
    "is_interrupting",
    "is_parallel_multiple",
    "open_activity_waits",
    "open_scope_waits",
    "open_wait",
    "throw_error",
    "throw_escalation",
    "trigger",
]


# -- compensation ---------------------------------------------------------------------------------


def record_compensation(p: Processing, instance: ElementInstance) -> None:
    """Before an element instance completes: remember what can be undone."""
    element = p.process.element(instance.element_id)
    scope_key = instance.parent_key
    assert scope_key is not None
    handler = compensation_sub_process(p, element) if isinstance(element, SubProcess) else None
    if handler is not None:
        p.emit(ev.CompensationStashed(at=p.ctx.now, scope_key=instance.key))
        p.emit(
            ev.CompensationRecorded(
                at=p.ctx.now,
                scope_key=scope_key,
                element_id=element.element_id,
                handler_id=handler.element_id,
                stash_key=instance.key,
            )
        )
    elif isinstance(element, SubProcess) and p.state.compensable.get(instance.key):
        p.emit(
            ev.CompensationMoved(at=p.ctx.now, from_scope_key=instance.key, to_scope_key=scope_key)
        )
    if not isinstance(element, Activity) or instance.is_mi_body:
        return
    for boundary_id in element.boundary_events:
        boundary = p.process.element(boundary_id)
        if isinstance(boundary, BoundaryEvent) and boundary.compensation_handler:
            p.emit(
                ev.CompensationRecorded(
                    at=p.ctx.now,
                    scope_key=scope_key,
                    element_id=element.element_id,
                    handler_id=boundary.compensation_handler,
                )
            )


def compensation_sub_process(p: Processing, sub_process: SubProcess) -> SubProcess | None:
    """The event sub-process of ``sub_process`` that a compensation start event starts."""
    for child_id in p.process.children.get(sub_process.element_id, ()):
        child = p.process.element(child_id)
        if isinstance(child, SubProcess) and child.triggered_by_event:
            for start_id in p.process.children.get(child_id, ()):
                start = p.process.element(start_id)
                if isinstance(start, StartEvent) and isinstance(
                    definition_of(start), CompensateEventDefinition
                ):
                    return child
    return None


def compensate(p: Processing, throw: ElementInstance, activity_ref: str | None) -> None:
    """Undo what completed in the throw event's scope, latest first, one handler at a time;
    the throw event completes when the last handler has."""
    scope_key = throw.parent_key
    assert scope_key is not None
    entries = [
        entry
        for entry in p.state.compensable.get(scope_key, [])
        if activity_ref is None or entry[0] == activity_ref
    ]
    if not entries:
        next_handler(p, throw)
        return
    entries.reverse()
    p.emit(
        ev.CompensationStarted(
            at=p.ctx.now,
            element_instance_key=throw.key,
            scope_key=scope_key,
            handlers=[handler for _, handler, _ in entries],
            element_ids=[activity for activity, _, _ in entries],
            stash_keys=[stash for _, _, stash in entries],
        )
    )
    next_handler(p, throw)


def next_handler(p: Processing, throw: ElementInstance) -> None:
    """Start the next compensation handler of ``throw``, or complete it when none is left."""
    if not throw.compensation_queue:
        element = p.process.element(throw.element_id)
        if isinstance(definition_of(element), CancelEventDefinition):
            _cancel_transaction(p, throw)
        else:
            p.complete(throw)
        return
    assert throw.parent_key is not None
    handler_id, stash_key = throw.compensation_queue[0]
    handler = p.process.element(handler_id)
    started = p.activate(handler, throw.parent_key, None)
    p.emit(
        ev.CompensationHandlerStarted(
            at=p.ctx.now,
            handler_instance_key=started.key,
            throw_instance_key=throw.key,
            stash_key=stash_key,
        )
    )
    if isinstance(handler, SubProcess) and handler.triggered_by_event:
        # A compensation event sub-process is entered through its compensation start event.
        for start_id in p.process.children.get(handler.element_id, ()):
            start = p.process.element(start_id)
            if isinstance(start, StartEvent) and isinstance(
                definition_of(start), CompensateEventDefinition
            ):
                p.activate(start, started.key, None)


def cancel(p: Processing, throw: ElementInstance) -> None:
    """A cancel end event: undo what completed in the transaction, then leave it through its
    cancel boundary event."""
    compensate(p, throw, None)


def _cancel_transaction(p: Processing, throw: ElementInstance) -> None:
    transaction = p.state.elements.get(throw.parent_key) if throw.parent_key else None
    if transaction is None:
        return
    element = p.process.element(transaction.element_id)
    assert isinstance(element, Activity)
    for boundary_id in element.boundary_events:
        boundary = p.process.element(boundary_id)
        if isinstance(definition_of(boundary), CancelEventDefinition):
            trigger(p, transaction, boundary, {})
            return
    raise IncidentError(
        "cancel", f"transaction '{element.element_id}' has no cancel boundary event"
    )


def handler_done(p: Processing, handler: ElementInstance) -> None:
    """A compensation handler completed: go on with its throw event."""
    throw = p.state.elements.get(handler.compensating_for) if handler.compensating_for else None
    if throw is not None:
        next_handler(p, throw)
