"""The element lifecycle of one step: the agenda, activation, completion, flows and joins.

A :class:`Processing` runs an agenda of small steps until the instance reaches its wait states
(jobs, user tasks, called children, joins) or ends. It walks the execution plan: each element's
behaviour, flows and join are resolved ahead, so the lifecycle asks no question of the model.
The behaviours sit below it and see it through :class:`~legato.engine.protocols.Processing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from legato.engine import events as ev
from legato.engine.appliers import APPLIERS
from legato.engine.incident import IncidentError
from legato.engine.kinds import IncidentPhase
from legato.engine.plan import Behaviour, FlowPlan, NodePlan
from legato.engine.processors.base import ActivityProcessor, ElementProcessor
from legato.engine.processors.compensation import handler_done, record_compensation
from legato.engine.processors.conditions import evaluate_conditions
from legato.engine.processors.events import (
    EventBasedGatewayProcessor,
    EventProcessor,
    ReceiveTaskProcessor,
)
from legato.engine.processors.gateways import (
    ComplexGatewayProcessor,
    ExclusiveGatewayProcessor,
    InclusiveGatewayProcessor,
    ParallelGatewayProcessor,
)
from legato.engine.processors.multi_instance import (
    MultiInstanceBodyProcessor,
    body_emptied,
    inner_completed,
)
from legato.engine.processors.scopes import (
    CallActivityProcessor,
    SubProcessProcessor,
    complete_instance,
)
from legato.engine.processors.signals import catch_signal
from legato.engine.processors.tasks import JobWorkerProcessor, UserTaskProcessor
from legato.engine.processors.waits import close_waits
from legato.engine.state import ElementInstance
from legato.engine.step_context import StepContext
from legato.errors import ExpressionError

T = TypeVar("T")

_MAX_CONDITION_ROUNDS = 100

BEHAVIOURS: tuple[ElementProcessor[Any], ...] = tuple(
    {
        Behaviour.PASS_THROUGH: ElementProcessor[Any](),
        Behaviour.ACTIVITY: ActivityProcessor(),
        Behaviour.JOB_WORKER: JobWorkerProcessor(),
        Behaviour.RECEIVE_TASK: ReceiveTaskProcessor(),
        Behaviour.EVENT_BASED_GATEWAY: EventBasedGatewayProcessor(),
        Behaviour.USER_TASK: UserTaskProcessor(),
        Behaviour.SUB_PROCESS: SubProcessProcessor(),
        Behaviour.CALL_ACTIVITY: CallActivityProcessor(),
        Behaviour.EXCLUSIVE_GATEWAY: ExclusiveGatewayProcessor(),
        Behaviour.PARALLEL_GATEWAY: ParallelGatewayProcessor(),
        Behaviour.INCLUSIVE_GATEWAY: InclusiveGatewayProcessor(),
        Behaviour.COMPLEX_GATEWAY: ComplexGatewayProcessor(),
        Behaviour.EVENT: EventProcessor(),
        Behaviour.MULTI_INSTANCE_BODY: MultiInstanceBodyProcessor(),
    }[behaviour]
    for behaviour in Behaviour
)
"""The behaviour objects, indexed by :class:`~legato.engine.plan.Behaviour`."""

_BODY = BEHAVIOURS[Behaviour.MULTI_INSTANCE_BODY]
_FAILURES = (IncidentError, ExpressionError)
_ElementActivated = ev.ElementActivated
_ElementCompleted = ev.ElementCompleted
_apply_activated = APPLIERS[_ElementActivated]
_apply_completed = APPLIERS[_ElementCompleted]


class Processing(StepContext):
    """One command's processing against one instance: the agenda and the element lifecycle."""

    # The agenda (``self._agenda``, made by StepContext) holds pairs of (function, argument),
    # called as function(self, argument): a plain function of the class allocates nothing per
    # planned step (a closure or a bound method would).

    # -- the agenda -----------------------------------------------------------------------------

    def later(self, action: Callable[[T], None], argument: T) -> None:
        """Call ``action(argument)`` after what is already planned (breadth-first, no deep
        recursion)."""
        self._agenda.append((_call, (action, argument)))

    def run(self) -> None:
        """Work through the agenda until nothing is left.

        Conditional events are evaluated when the instance's variables changed; what they
        trigger runs in the same step. The rounds are bounded so that conditions that keep
        triggering each other cannot loop for ever.
        """
        agenda = self._agenda
        popleft = agenda.popleft
        for _ in range(_MAX_CONDITION_ROUNDS):
            while agenda:
                action, argument = popleft()
                action(self, argument)
            if self.pending_signals:
                pending, self.pending_signals = self.pending_signals, []
                for name, variables, heard in pending:
                    catch_signal(self, name, variables, skip=heard)
                if agenda:
                    continue
            if not (self.conditions_dirty and self.state.subscriptions) or self.state.suspended:
                return  # a suspended instance's conditions are evaluated when it is resumed
            self.conditions_dirty = False
            evaluate_conditions(self)
            if not agenda:
                return

    def guarded(
        self, instance: ElementInstance, phase: IncidentPhase, action: Callable[[], None]
    ) -> None:
        """Run ``action``; an expected failure becomes an incident on ``instance``."""
        try:
            action()
        except _FAILURES as failure:
            self.incident(instance, phase, failure)

    # -- element lifecycle ---------------------------------------------------------------------

    def activate(
        self,
        node: NodePlan,
        scope_key: int,
        flow_id: str | None,
        loop_counter: int = 0,
        inner: bool = False,
    ) -> ElementInstance:
        """Create an element instance and plan its behaviour's activation.

        Entering a multi-instance activity creates its body; the body creates the ``inner``
        instances.
        """
        instance = self._enter(node, scope_key, flow_id, loop_counter, inner)
        self._agenda.append((Processing.run_activation, instance))
        return instance

    def _enter(
        self,
        node: NodePlan,
        scope_key: int,
        flow_id: str | None,
        loop_counter: int = 0,
        inner: bool = False,
    ) -> ElementInstance:
        key = self.ctx.new_key()
        event = _ElementActivated(
            at=self.now,
            key=key,
            element_id=node.element_id,
            element_kind=node.kind,
            parent_key=scope_key,
            flow_id=flow_id,
            loop_counter=loop_counter,
            is_mi_body=node.is_multi_instance and not inner,
        )
        _apply_activated(self.state, event)  # what emit() does, without finding the applier
        self.events.append(event)
        return self.state.elements[key]

    def run_activation(self, instance: ElementInstance) -> None:
        """Run (or re-run, after an incident) the activation of an element instance."""
        node = self.plan.nodes[instance.element_id]
        if node.straight and not self._agenda:
            # Its completion would be planned next and run at once: run it now.
            try:
                self.finish(instance, self._leave(instance, node))
            except _FAILURES as failure:
                self.incident(instance, "complete", failure)
            return
        behaviour = _BODY if instance.is_mi_body else BEHAVIOURS[node.behaviour]
        try:
            behaviour.on_activate(self, instance, node.element)
        except _FAILURES as failure:
            self.incident(instance, "activate", failure)

    def complete(self, instance: ElementInstance) -> None:
        """Plan the completion of an element instance (its work is done)."""
        self._agenda.append((Processing.run_completion, instance))

    def run_completion(self, instance: ElementInstance) -> None:
        """Run (or re-run, after an incident) the completion of an element instance."""
        if instance.key not in self.state.elements:
            return
        node = self.plan.nodes[instance.element_id]
        try:
            if instance.is_mi_body:
                _BODY.on_complete(self, instance, node.element)
            elif node.is_multi_instance:  # an inner instance of a multi-instance activity
                behaviour = BEHAVIOURS[node.behaviour]
                assert isinstance(behaviour, ActivityProcessor) and instance.parent_key
                behaviour.map_outputs(self, instance, node.element)
                body = self.state.elements[instance.parent_key]
                inner_completed(self, body, instance, node.element)
            else:
                BEHAVIOURS[node.behaviour].on_complete(self, instance, node.element)
        except _FAILURES as failure:
            self.incident(instance, "complete", failure)

    def finish(self, instance: ElementInstance, flows: Sequence[FlowPlan], tokens: int = 1) -> None:
        """Record the completion and send ``tokens`` tokens along each of ``flows``."""
        scope_key = instance.parent_key
        assert scope_key is not None
        self._completed(instance)
        if (
            tokens == 1
            and instance.compensating_for is None
            and len(flows) == 1
            and flows[0].target.straight  # else _straight_on() would leave the flows as they are
        ):
            onward = self._straight_on(flows, scope_key)
            if onward is None:
                return  # an incident stopped the token in a straight element
            flows = onward
        agenda = self._agenda
        for flow in flows:
            target = flow.target
            for _ in range(tokens):
                if target.joins:
                    self.take_flow(flow, scope_key)
                else:  # what take_flow() does, without a call per token
                    entered = self._enter(target, scope_key, flow.flow_id)
                    agenda.append((Processing.run_activation, entered))
        if instance.compensating_for is not None:
            handler_done(self, instance)
        agenda.append((Processing._after_token_left, scope_key))

    def _completed(self, instance: ElementInstance) -> None:
        state = self.state
        if state.timers or state.subscriptions:  # most instances wait on neither
            close_waits(self, instance)
        if self.plan.nodes[instance.element_id].records_compensation:
            record_compensation(self, instance)
        event = _ElementCompleted(at=self.now, key=instance.key, element_id=instance.element_id)
        _apply_completed(state, event)  # what emit() does, without finding the applier
        self.events.append(event)

    def _straight_on(self, flows: Sequence[FlowPlan], scope_key: int) -> Sequence[FlowPlan] | None:
        """Enter and leave the straight elements (:attr:`NodePlan.straight`) a single token
        reaches while nothing else is planned; the flows it goes on along, or None if an
        incident stopped it.

        Planned, each element's activation would run next, find its scope still busy, and
        complete it: the same events, in the same order, without the agenda.
        """
        agenda, state, events = self._agenda, self.state, self.events
        while len(flows) == 1 and not agenda and not state.joins:
            flow = flows[0]
            target = flow.target
            if not target.straight or target.joins:
                break
            if self.pretriggered and target.behaviour is Behaviour.EVENT:
                self.pretriggered.pop((scope_key, target.element_id), None)  # as executed
            if target.leaves is not None:
                # No condition to evaluate: applied together, its activation and completion
                # change nothing in the state, so they are only recorded.
                key = self.ctx.new_key()
                element_id = target.element_id
                events.append(
                    _ElementActivated(
                        at=self.now,
                        key=key,
                        element_id=element_id,
                        element_kind=target.kind,
                        parent_key=scope_key,
                        flow_id=flow.flow_id,
                    )
                )
                events.append(_ElementCompleted(at=self.now, key=key, element_id=element_id))
                flows = target.leaves
                continue
            instance = self._enter(target, scope_key, flow.flow_id)
            try:
                flows = BEHAVIOURS[target.behaviour].outgoing(self, instance, target.element)
            except _FAILURES as failure:
                self.incident(instance, "complete", failure)
                return None
            self._completed(instance)
        return flows

    def _leave(self, instance: ElementInstance, node: NodePlan) -> Sequence[FlowPlan]:
        """The flows a straight element leaves by (what its processor would choose)."""
        if self.pretriggered and node.behaviour is Behaviour.EVENT:
            assert instance.parent_key is not None
            self.pretriggered.pop((instance.parent_key, node.element_id), None)  # as executed
        if node.leaves is not None:
            return node.leaves
        return BEHAVIOURS[node.behaviour].outgoing(self, instance, node.element)

    def terminate(self, instance: ElementInstance) -> None:
        """End an element instance and everything inside it, now."""
        for child_key in sorted(instance.children, reverse=True):
            child = self.state.elements.get(child_key)
            if child is not None:
                self.terminate(child)
        close_waits(self, instance)
        if instance.parent_key is None:
            return
        node = self.plan.nodes[instance.element_id]
        behaviour = _BODY if instance.is_mi_body else BEHAVIOURS[node.behaviour]
        behaviour.on_terminate(self, instance, node.element)
        if instance.incident_key is not None:
            self.emit(ev.IncidentResolved(at=self.now, incident_key=instance.incident_key))
        self.emit(
            ev.ElementTerminated(at=self.now, key=instance.key, element_id=instance.element_id)
        )

    # -- sequence flows and joins --------------------------------------------------------------

    def take_flow(self, flow: FlowPlan, scope_key: int) -> None:
        """Move a token along ``flow``: activate its target, or wait at a join.

        The flow taken is recorded on the event that follows (the target's activation or the
        token's arrival at a join), so taking a flow needs no event of its own.
        """
        target = flow.target
        if target.joins:
            self.emit(
                ev.JoinTokenArrived(
                    at=self.now,
                    scope_key=scope_key,
                    element_id=target.element_id,
                    flow_id=flow.flow_id,
                )
            )
            self._agenda.append((Processing._try_join, (scope_key, target)))
        else:  # activate(), without a call in between
            instance = self._enter(target, scope_key, flow.flow_id)
            self._agenda.append((Processing.run_activation, instance))

    def try_join(self, scope_key: int, node: NodePlan) -> None:
        """Fire a joining element if the tokens it waits for are there."""
        self._try_join((scope_key, node))

    def _try_join(self, slot: tuple[int, NodePlan]) -> None:
        scope_key, node = slot
        if scope_key not in self.state.elements:
            return
        waiting = self.state.joins.get((scope_key, node.element_id))
        if not waiting or max(waiting.values()) <= 0:  # no count above zero
            return
        behaviour = BEHAVIOURS[node.behaviour]
        consumed = behaviour.tokens_to_consume(self, scope_key, node.element, waiting)
        if consumed is None:
            return
        self.emit(
            ev.JoinTokensConsumed(
                at=self.now, scope_key=scope_key, element_id=node.element_id, consumed=consumed
            )
        )
        self.activate(node, scope_key, None)
        remaining = self.state.joins.get((scope_key, node.element_id))
        if remaining and max(remaining.values()) > 0:  # a count above zero
            self._agenda.append((Processing._try_join, slot))

    def token_left(self, scope_key: int) -> None:
        """A token of ``scope_key`` ended: re-check inclusive joins and the scope's completion."""
        self._agenda.append((Processing._after_token_left, scope_key))

    def _after_token_left(self, scope_key: int) -> None:
        state = self.state
        scope = state.elements.get(scope_key)
        if scope is None:
            return
        if state.joins:
            nodes = self.plan.nodes
            for slot_scope, element_id in list(state.joins):
                if slot_scope == scope_key and nodes[element_id].rechecks_join:
                    self.try_join(scope_key, nodes[element_id])
            for (slot_scope, _), flows in state.joins.items():
                if slot_scope == scope_key and flows and max(flows.values()) > 0:
                    return  # a token still waits at a join of the scope
        if scope.children:
            return
        if scope.parent_key is None:
            complete_instance(self)
        elif scope.is_mi_body:
            body_emptied(self, scope)
        else:
            self.complete(scope)


def _call(p: Processing, planned: tuple[Callable[[Any], None], Any]) -> None:
    action, argument = planned
    action(argument)
