"""Multi-instance activities: a body element instance that runs the inner instances.

The body fixes its input when activated (a cardinality or a collection), runs the inner
instances in parallel or one after another, collects the output element of each into the
output collection, and completes when all are done or the completion condition holds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from legato.engine import events as ev
from legato.engine.processing import IncidentError, Processing
from legato.engine.processors.base import ActivityProcessor
from legato.engine.state import ElementInstance
from legato.model import Activity, MultiInstanceLoop


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
    inner = p.activate(element, body.key, None, loop_counter=counter, inner=True)
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
    done = False
    if loop.completion_condition is not None:
        done = p.evaluate(loop.completion_condition, inner.key) is True
    p.finish(inner, [])
    if done:
        for key in sorted(body.children, reverse=True):
            p.terminate(p.state.elements[key])
        p.run_completion(body)


def body_emptied(p: Processing, body: ElementInstance) -> None:
    """No inner instance is active: start the next (sequential) or complete the body."""
    element = p.process.element(body.element_id)
    assert isinstance(element, Activity)
    if body.mi_started < body.mi_count:
        start_inner(p, body, element)
    else:
        p.complete(body)
