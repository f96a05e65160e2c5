"""Multi-instance activities: a body element instance that runs the inner instances.

The body fixes its input when activated (a cardinality or a collection), runs the inner
instances in parallel or one after another, collects the output element of each into the
output collection, and completes when all are done or the completion condition holds.

As each inner instance completes, the ``behavior`` of the loop may throw events (BPMN 2.0,
MultiInstanceLoopCharacteristics): ``None`` throws its event for every instance, ``One`` for
the first only, ``Complex`` the events of every ``complexBehaviorDefinition`` whose condition
holds in the completing instance (which sees ``loopCounter`` and ``nrOfCompletedInstances``,
itself counted). The events are thrown from the completing instance, as an intermediate throw
event inside it would be: a signal or escalation reaches the boundary events of the activity.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from legato.engine import events as ev
from legato.engine.commands import BroadcastSignal, PublishMessage
from legato.engine.incident import IncidentError
from legato.engine.processors.base import ActivityProcessor
from legato.engine.processors.errors import throw_error, throw_escalation
from legato.engine.processors.signals import catch_signal
from legato.engine.processors.waits import correlation_value
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import (
    Activity,
    ErrorEventDefinition,
    EscalationEventDefinition,
    EventDefinition,
    MessageEventDefinition,
    MultiInstanceLoop,
    SignalEventDefinition,
)

THROWABLE = (
    SignalEventDefinition,
    EscalationEventDefinition,
    MessageEventDefinition,
    ErrorEventDefinition,
)
"""The event kinds a multi-instance behaviour can throw."""


def _loop(element: Activity) -> MultiInstanceLoop:
    assert isinstance(element.loop, MultiInstanceLoop)
    return element.loop


class MultiInstanceBodyProcessor(ActivityProcessor):
    """The body of a multi-instance activity."""

    def on_activate(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        self.arm(p, instance, element)
        loop = _loop(element)
        items: list[Any] | None = None
        if loop.input_collection is not None:
            collection = p.evaluate(loop.input_collection, instance.key)
            if not isinstance(collection, list):
                raise IncidentError(
                    "multi-instance",
                    f"input collection {loop.input_collection.source!r} gave {collection!r}, "
                    "not a list",
                )
            items = collection
            count = len(collection)
        elif loop.loop_cardinality is not None:
            count = _cardinality(p.evaluate(loop.loop_cardinality, instance.key))
        else:
            raise IncidentError(
                "multi-instance", "neither a loop cardinality nor an input collection"
            )
        p.emit(ev.MultiInstanceStarted(at=p.ctx.now, key=instance.key, count=count, items=items))
        p.set_local(instance.key, "nrOfInstances", count)
        p.set_local(instance.key, "nrOfCompletedInstances", 0)
        if loop.output_collection:
            p.set_local(instance.key, loop.output_collection, [None] * count)
        if count == 0:
            p.complete(instance)
            return
        for _ in range(1 if loop.is_sequential else count):
            start_inner(p, instance, element)

    def on_complete(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        loop = _loop(element)
        assert instance.parent_key is not None
        if loop.output_collection:
            collected = p.state.variables.get(instance.key, {}).get(loop.output_collection)
            p.set_propagating(instance.parent_key, loop.output_collection, collected)
        flows = self.outgoing(p, instance, element)
        p.finish(instance, flows, element.completion_quantity)


def _cardinality(value: Any) -> int:
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value == int(value):
        if value < 0:
            raise IncidentError("multi-instance", f"loop cardinality is negative: {value}")
        return int(value)
    raise IncidentError("multi-instance", f"loop cardinality {value!r} is not a whole number")


def start_inner(p: Processing, body: ElementInstance, element: Activity) -> None:
    """Activate the next inner instance of ``body``."""
    loop = _loop(element)
    counter = body.mi_started + 1
    node = p.plan.nodes[element.element_id]
    inner = p.activate(node, body.key, None, loop_counter=counter, inner=True)
    p.set_local(inner.key, "loopCounter", counter)
    if loop.input_element and body.mi_items is not None:
        p.set_local(inner.key, loop.input_element, body.mi_items[counter - 1])


def inner_completed(
    p: Processing, body: ElementInstance, inner: ElementInstance, element: Activity
) -> None:
    """An inner instance finished: collect its output, check the completion condition."""
    loop = _loop(element)
    if loop.output_collection and loop.output_element is not None:
        value = p.evaluate(loop.output_element, inner.key)
        collected = list(p.state.variables.get(body.key, {}).get(loop.output_collection) or [])
        index = inner.loop_counter - 1
        if 0 <= index < len(collected):
            collected[index] = value
            p.set_local(body.key, loop.output_collection, collected)
    p.set_local(body.key, "nrOfCompletedInstances", body.mi_completed + 1)
    for definition in _behavior_events(p, body, inner, loop):
        _throw(p, inner, definition)
        if inner.key not in p.state.elements:
            return  # an interrupting boundary event caught it: the body is gone
    done = False
    if loop.completion_condition is not None:
        done = p.evaluate(loop.completion_condition, inner.key) is True
    p.finish(inner, [])
    if done:
        for key in sorted(body.children, reverse=True):
            p.terminate(p.state.elements[key])
        p.run_completion(body)


def _behavior_events(
    p: Processing, body: ElementInstance, inner: ElementInstance, loop: MultiInstanceLoop
) -> list[EventDefinition]:
    if loop.behavior == "None" and loop.none_behavior_event is not None:
        return [loop.none_behavior_event]
    if loop.behavior == "One" and loop.one_behavior_event is not None and body.mi_completed == 0:
        return [loop.one_behavior_event]
    if loop.behavior != "Complex":
        return []
    thrown: list[EventDefinition] = []
    for behavior in loop.complex_behaviors:
        if behavior.condition is None:
            continue
        holds = p.evaluate(behavior.condition, inner.key)
        if not isinstance(holds, bool):
            raise IncidentError(
                "expression",
                f"complex behavior condition {behavior.condition.source!r} gave {holds!r}, "
                "not a boolean",
            )
        if holds:
            thrown += behavior.event_definitions
    return thrown


def _throw(p: Processing, inner: ElementInstance, definition: EventDefinition) -> None:
    if isinstance(definition, SignalEventDefinition):
        name = definition.signal_name or ""
        catch_signal(p, name, {})
        p.signals.append(
            BroadcastSignal(name=name, variables={}, source_instance_key=p.state.instance_key)
        )
    elif isinstance(definition, EscalationEventDefinition):
        throw_escalation(p, inner, definition.escalation_code or "")
    elif isinstance(definition, MessageEventDefinition):
        key = None
        if definition.correlation_key is not None:
            key = correlation_value(p.evaluate(definition.correlation_key, inner.key))
        p.messages.append(
            PublishMessage(name=definition.message_name or "", correlation_key=key, variables={})
        )
    elif isinstance(definition, ErrorEventDefinition):
        code = definition.error_code or definition.error_name or ""
        if not throw_error(p, inner, code, definition.error_name or "", {}):
            raise IncidentError(
                "unhandled_error",
                f"error '{code}' thrown by the multi-instance behavior of '{inner.element_id}' "
                "is caught by no event",
            )
    else:  # refused at deployment (executable.py)
        kind = type(definition).__name__.removesuffix("EventDefinition").lower()
        raise IncidentError("unsupported", f"a multi-instance behavior cannot throw {kind}")


def body_emptied(p: Processing, body: ElementInstance) -> None:
    """No inner instance is active: start the next (sequential) or complete the body."""
    element = p.process.element(body.element_id)
    assert isinstance(element, Activity)
    if body.mi_started < body.mi_count:
        start_inner(p, body, element)
    else:
        p.complete(body)
