"""The lifecycle protocol every element processor implements, and the activity default.

An element instance is *activated* when a token enters it (``on_activate``: input mappings,
then the element's own behaviour, which either completes it at once or leaves it waiting for a
job, a person, a child instance or a join), *completed* when its work is done
(``on_complete``: output mappings, choice of outgoing flows, loops), or *terminated* from
outside (``on_terminate``: cancel what it waits for). Processors hold no state: everything
goes through the step (:class:`~legato.engine.protocols.Processing`), whose events are the
history. A joining element also decides, in ``tokens_to_consume``, when the tokens waiting at
it are enough to enter it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from legato.engine.incident import IncidentError
from legato.engine.plan import FlowPlan
from legato.engine.processors.waits import close_waits, open_activity_waits
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import Activity, FlowNode, MultiInstanceLoop, StandardLoop

E = TypeVar("E", bound=FlowNode)


class ElementProcessor(Generic[E]):
    """Default behaviour of a flow node: pass straight through."""

    def on_activate(self, p: Processing, instance: ElementInstance, element: E) -> None:
        """A token entered ``element``."""
        if element.input_mappings:
            p.apply_mappings(element.input_mappings, instance.key, instance.key, propagate=False)
        self.arm(p, instance, element)
        self.execute(p, instance, element)

    def arm(self, p: Processing, instance: ElementInstance, element: E) -> None:
        """Open the waits that belong to the element instance (boundary events, event
        sub-processes); none by default."""

    def execute(self, p: Processing, instance: ElementInstance, element: E) -> None:
        """The element's own work; by default it is done at once."""
        p.complete(instance)

    def on_complete(self, p: Processing, instance: ElementInstance, element: E) -> None:
        """The element's work is done: map outputs and leave along the chosen flows."""
        flows = self.outgoing(p, instance, element)
        if element.output_mappings:
            self.map_outputs(p, instance, element)
        p.finish(instance, flows)

    def map_outputs(self, p: Processing, instance: ElementInstance, element: E) -> None:
        """Apply the output mappings into the enclosing scope."""
        assert instance.parent_key is not None
        if element.output_mappings:
            scope_key = instance.parent_key
            p.apply_mappings(element.output_mappings, instance.key, scope_key, propagate=True)

    def outgoing(self, p: Processing, instance: ElementInstance, element: E) -> list[FlowPlan]:
        """Flows leaving a non-gateway: unconditional ones, conditional ones that hold, and the
        default flow when no condition holds."""
        node = p.plan.nodes[element.element_id]
        chosen: list[FlowPlan] = []
        any_condition_true = False
        for flow in node.conditional:
            if flow.condition is None:
                chosen.append(flow)
            elif p.evaluate_condition(flow, instance.key):
                chosen.append(flow)
                any_condition_true = True
        if node.default is not None and not any_condition_true:
            chosen.append(node.default)
        return chosen

    def on_terminate(self, p: Processing, instance: ElementInstance, element: E) -> None:
        """The element is ended from outside; nothing to cancel by default."""

    def tokens_to_consume(
        self, p: Processing, scope_key: int, element: E, waiting: dict[str, int]
    ) -> dict[str, int] | None:
        """The tokens a joining element consumes if it is entered now, or None if it must
        wait; by default every waiting token."""
        return {flow_id: count for flow_id, count in waiting.items() if count > 0}


class ActivityProcessor(ElementProcessor[Activity]):
    """Activities: standard loops and completion quantities on top of the default."""

    def arm(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        if (
            instance.loop_counter
            and not instance.is_mi_body
            and isinstance(element.loop, MultiInstanceLoop)
        ):
            return  # an inner instance: boundary events belong to the multi-instance body
        if p.state.timers or p.state.subscriptions:
            close_waits(p, instance)  # a re-run after an incident opens them afresh
        if element.boundary_events:
            open_activity_waits(p, instance, element)

    def on_activate(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        loop = element.loop
        first_of_while_loop = (
            loop is not None
            and isinstance(loop, StandardLoop)
            and loop.test_before
            and instance.loop_counter == 0
        )
        if first_of_while_loop and not _loop_condition(p, instance, loop):  # type: ignore[arg-type]
            p.finish(instance, self.outgoing(p, instance, element), element.completion_quantity)
            return
        # The default on_activate(), spelled out: no second call for every activity.
        if element.input_mappings:
            p.apply_mappings(element.input_mappings, instance.key, instance.key, propagate=False)
        self.arm(p, instance, element)
        self.execute(p, instance, element)

    def on_complete(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        # (An inner instance of a multi-instance activity is completed by the lifecycle, which
        # hands it to its body.)
        loop = element.loop
        if (
            loop is not None
            and isinstance(loop, StandardLoop)
            and self._loops_again(p, instance, loop)
        ):
            scope_key = instance.parent_key
            assert scope_key is not None
            _count_round(p, scope_key, element)
            self.map_outputs(p, instance, element)
            p.finish(instance, [])
            node = p.plan.nodes[element.element_id]
            p.activate(node, scope_key, instance.flow_id, max(instance.loop_counter, 1) + 1)
            return
        flows = self.outgoing(p, instance, element)
        if element.output_mappings:
            self.map_outputs(p, instance, element)
        p.finish(instance, flows, element.completion_quantity)

    def tokens_to_consume(
        self, p: Processing, scope_key: int, element: Activity, waiting: dict[str, int]
    ) -> dict[str, int] | None:
        """An activity with a start quantity is entered once that many tokens arrived."""
        total = sum(waiting.values())
        if total < element.start_quantity:
            return None
        taken: dict[str, int] = {}
        amount = element.start_quantity
        for flow_id, count in waiting.items():
            use = min(count, amount)
            if use:
                taken[flow_id] = use
                amount -= use
            if not amount:
                break
        return taken

    def _loops_again(self, p: Processing, instance: ElementInstance, loop: StandardLoop) -> bool:
        counter = max(instance.loop_counter, 1)
        if loop.loop_maximum is not None and counter >= loop.loop_maximum:
            return False
        return _loop_condition(p, instance, loop)


MAX_LOOP_ROUNDS_PER_STEP = 10_000
"""Iterations a standard loop may run without waiting for anything (a job, a person, a
timer): past them it stops with an incident rather than loop for ever within one step."""


def _count_round(p: Processing, scope_key: int, element: Activity) -> None:
    slot = (scope_key, element.element_id)
    rounds = p.loop_rounds.get(slot, 0) + 1
    if rounds > MAX_LOOP_ROUNDS_PER_STEP:
        raise IncidentError(
            "loop",
            f"standard loop '{element.element_id}' ran {MAX_LOOP_ROUNDS_PER_STEP} times without "
            "waiting and its condition still holds (give it a loopMaximum?)",
        )
    p.loop_rounds[slot] = rounds


def _loop_condition(p: Processing, instance: ElementInstance, loop: StandardLoop) -> bool:
    if loop.loop_condition is None:
        return False
    value = p.evaluate(loop.loop_condition, instance.key)
    if not isinstance(value, bool):
        raise IncidentError(
            "expression",
            f"loop condition {loop.loop_condition.source!r} gave {value!r}, not a boolean",
        )
    return value
