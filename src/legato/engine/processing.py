"""One command's processing against one instance: the shared behaviours every processor uses.

A :class:`Processing` runs an agenda of small steps until the instance reaches its wait states
(jobs, user tasks, called children, joins) or ends. Every change goes through :meth:`emit`,
which applies the event to the state and records it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from legato.engine import events as ev
from legato.engine import values
from legato.engine.appliers import APPLIERS
from legato.engine.commands import BroadcastSignal, Command, PublishMessage
from legato.engine.context import DeployedProcess, EngineContext
from legato.engine.state import ElementInstance, InstanceState
from legato.errors import ExpressionError
from legato.model import (
    Activity,
    ComplexGateway,
    Expression,
    FlowNode,
    InclusiveGateway,
    MultiInstanceLoop,
    ParallelGateway,
    ProcessDefinition,
    RetryPolicy,
    SequenceFlow,
    VariableMapping,
)

_MAX_CONDITION_ROUNDS = 100


class IncidentError(Exception):
    """Raised inside a processor for an expected failure; becomes an incident on the element."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class Processing:
    """The state of one step: the instance, its model, the context and the emitted events."""

    def __init__(self, state: InstanceState, deployed: DeployedProcess, ctx: EngineContext) -> None:
        self.state = state
        self.deployed = deployed
        self.process: ProcessDefinition = deployed.process
        self.ctx = ctx
        self.events: list[ev.Event] = []
        self.follow_ups: list[Command] = []
        self.messages: list[PublishMessage] = []
        """Messages thrown by the instance, for the runtime to publish."""
        self.signals: list[BroadcastSignal] = []
        """Signals thrown by the instance, for the runtime to broadcast."""
        self.pending_signals: list[tuple[str, dict[str, Any], frozenset[int]]] = []
        """Signals thrown in this step, for the catch events entered later in it."""
        self.pretriggered: dict[tuple[int, str], dict[str, Any]] = {}
        """Catch events entered after their event already happened (event-based gateway)."""
        self.loop_rounds: dict[tuple[int, str], int] = {}
        """Standard loop iterations begun in this step, by (scope key, element id)."""
        self._agenda: deque[Callable[[], None]] = deque()
        self._conditions_dirty = False

    # -- the agenda -----------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> None:
        """Apply ``event`` to the state and record it."""
        APPLIERS[type(event)](self.state, event)  # apply(), without a call per event
        self.events.append(event)
        # Events are final classes: exact type tests, the cheapest, for every event emitted.
        if type(event) is ev.VariableSet or (
            type(event) is ev.SubscriptionOpened and event.kind == "conditional"
        ):
            self._conditions_dirty = True

    def later(self, action: Callable[[], None]) -> None:
        """Do ``action`` after what is already planned (breadth-first, no deep recursion)."""
        self._agenda.append(action)

    def run(self) -> None:
        """Work through the agenda until nothing is left.

        Conditional events are evaluated when the instance's variables changed; what they
        trigger runs in the same step. The rounds are bounded so that conditions that keep
        triggering each other cannot loop for ever.
        """
        for _ in range(_MAX_CONDITION_ROUNDS):
            while self._agenda:
                self._agenda.popleft()()
            if self.pending_signals:
                pending, self.pending_signals = self.pending_signals, []
                for name, variables, heard in pending:
                    _waits.catch_signal(self, name, variables, skip=heard)
                if self._agenda:
                    continue
            if not (self._conditions_dirty and self.state.subscriptions) or self.state.suspended:
                return  # a suspended instance's conditions are evaluated when it is resumed
            self._conditions_dirty = False
            _waits.evaluate_conditions(self)
            if not self._agenda:
                return

    def guarded(self, instance: ElementInstance, phase: str, action: Callable[[], None]) -> None:
        """Run ``action``; an expected failure becomes an incident on ``instance``."""
        try:
            action()
        except (IncidentError, ExpressionError) as failure:
            self._incident(instance, phase, failure)

    def _incident(
        self, instance: ElementInstance, phase: str, failure: IncidentError | ExpressionError
    ) -> None:
        if isinstance(failure, IncidentError):
            self.raise_incident(instance, failure.error_type, failure.message, phase)
        else:
            self.raise_incident(instance, "expression", str(failure), phase)

    def raise_incident(
        self,
        instance: ElementInstance,
        error_type: str,
        message: str,
        phase: str,
        job_key: int | None = None,
        details: str | None = None,
    ) -> None:
        """Stop ``instance`` with an incident an operator can resolve."""
        self.emit(
            ev.IncidentRaised(
                at=self.ctx.now,
                incident_key=self.ctx.new_key(),
                element_instance_key=instance.key,
                element_id=instance.element_id,
                error_type=error_type,
                message=message,
                phase=phase,
                job_key=job_key,
                details=details,
            )
        )

    # -- variables ------------------------------------------------------------------------------

    def variables_of(self, scope_key: int) -> dict[str, Any]:
        """The variables visible from a scope."""
        return self.state.visible_variables(scope_key)

    def evaluate_condition(self, flow: SequenceFlow, scope_key: int) -> bool:
        """Whether a sequence flow's condition holds; anything but a boolean is an error."""
        assert flow.condition is not None
        try:
            return flow.condition.evaluate_boolean(self.variables_of(scope_key), self.ctx.now)
        except ExpressionError as exc:
            raise IncidentError("condition", f"sequence flow '{flow.flow_id}': {exc}") from exc

    def evaluate(self, expression: Expression, scope_key: int) -> Any:
        """Evaluate in a scope; failures raise ExpressionError (an incident when guarded)."""
        if expression.is_static:
            return expression.constant  # no need to gather the variables (e.g. a job type)
        return expression.evaluate(self.variables_of(scope_key), self.ctx.now)

    def set_local(self, scope_key: int, name: str, value: Any) -> None:
        """Create or change a variable in exactly this scope."""
        value = self._normalized(name, value)
        current = self.state.variables.get(scope_key, {})
        if name in current and current[name] == value and type(current[name]) is type(value):
            return
        self.emit(ev.VariableSet(at=self.ctx.now, scope_key=scope_key, name=name, value=value))

    def set_propagating(self, scope_key: int, name: str, value: Any) -> None:
        """Set in the nearest scope (from ``scope_key`` up) that has it, else in the root."""
        root, _, path = name.partition(".")
        target = self.state.scope_defining(scope_key, root)
        if path:
            current = self.state.variables.get(target, {}).get(root)
            value = _with_path(current if isinstance(current, dict) else {}, path.split("."), value)
        self.set_local(target, root, value)

    def set_all_propagating(self, scope_key: int, variables: Mapping[str, Any]) -> None:
        """Set several variables with propagation."""
        for name, value in variables.items():
            self.set_propagating(scope_key, name, value)

    def apply_mappings(
        self,
        mappings: tuple[VariableMapping, ...],
        source_scope: int,
        target_scope: int,
        propagate: bool,
    ) -> None:
        """Evaluate mappings in ``source_scope``; assign into ``target_scope``."""
        if not mappings:
            return
        visible = self.variables_of(source_scope)
        results = []
        for mapping in mappings:
            results.append((mapping.target, mapping.source.evaluate(visible, self.ctx.now)))
            root, _, path = mapping.target.partition(".")
            if path:
                current = visible.get(root)
                visible[root] = _with_path(
                    current if isinstance(current, dict) else {}, path.split("."), results[-1][1]
                )
            else:
                visible[root] = results[-1][1]
        for target, value in results:
            if propagate:
                self.set_propagating(target_scope, target, value)
            else:
                root, _, path = target.partition(".")
                if path:
                    current = self.state.variables.get(target_scope, {}).get(root)
                    value = _with_path(
                        current if isinstance(current, dict) else {}, path.split("."), value
                    )
                self.set_local(target_scope, root, value)

    def _normalized(self, name: str, value: Any) -> Any:
        try:
            return values.normalize(value)
        except TypeError as exc:
            raise IncidentError("variable", f"variable '{name}': {exc}") from exc

    # -- element lifecycle ---------------------------------------------------------------------

    def activate(
        self,
        element: FlowNode,
        scope_key: int,
        flow_id: str | None,
        loop_counter: int = 0,
        inner: bool = False,
    ) -> ElementInstance:
        """Create an element instance and run its processor's activation.

        Entering a multi-instance activity creates its body; the body creates the ``inner``
        instances.
        """
        is_mi_body = (
            not inner
            and isinstance(element, Activity)
            and isinstance(element.loop, MultiInstanceLoop)
        )
        key = self.ctx.new_key()
        self.emit(
            ev.ElementActivated(
                at=self.ctx.now,
                key=key,
                element_id=element.element_id,
                element_kind=str(element.kind),
                parent_key=scope_key,
                flow_id=flow_id,
                loop_counter=loop_counter,
                is_mi_body=is_mi_body,
            )
        )
        instance = self.state.elements[key]
        self.later(lambda: self.run_activation(instance))
        return instance

    def run_activation(self, instance: ElementInstance) -> None:
        """Run (or re-run, after an incident) the activation of an element instance."""
        element = self.process.element(instance.element_id)
        processor = _processors.processor_for(element, instance)
        # As guarded() does, spelled out: this runs for every element, and a closure plus a
        # call per element were a noticeable part of a step.
        try:
            processor.on_activate(self, instance, element)
        except (IncidentError, ExpressionError) as failure:
            self._incident(instance, "activate", failure)

    def complete(self, instance: ElementInstance) -> None:
        """Plan the completion of an element instance (its work is done)."""
        self.later(lambda: self.run_completion(instance))

    def run_completion(self, instance: ElementInstance) -> None:
        """Run (or re-run, after an incident) the completion of an element instance."""
        if instance.key not in self.state.elements:
            return
        element = self.process.element(instance.element_id)
        processor = _processors.processor_for(element, instance)
        try:  # as guarded() does (see run_activation)
            processor.on_complete(self, instance, element)
        except (IncidentError, ExpressionError) as failure:
            self._incident(instance, "complete", failure)

    def finish(self, instance: ElementInstance, flows: list[SequenceFlow], tokens: int = 1) -> None:
        """Record the completion and send ``tokens`` tokens along each of ``flows``."""
        scope_key = instance.parent_key
        assert scope_key is not None
        _waits.close_waits(self, instance)
        _waits.record_compensation(self, instance)
        self.emit(
            ev.ElementCompleted(at=self.ctx.now, key=instance.key, element_id=instance.element_id)
        )
        for flow in flows:
            for _ in range(tokens):
                self.take_flow(flow, scope_key)
        if instance.compensating_for is not None:
            _waits.handler_done(self, instance)
        self.token_left(scope_key)

    def terminate(self, instance: ElementInstance) -> None:
        """End an element instance and everything inside it, now."""
        for child_key in sorted(instance.children, reverse=True):
            child = self.state.elements.get(child_key)
            if child is not None:
                self.terminate(child)
        _waits.close_waits(self, instance)
        if instance.parent_key is None:
            return
        element = self.process.element(instance.element_id)
        _processors.processor_for(element, instance).on_terminate(self, instance, element)
        if instance.incident_key is not None:
            self.emit(ev.IncidentResolved(at=self.ctx.now, incident_key=instance.incident_key))
        self.emit(
            ev.ElementTerminated(at=self.ctx.now, key=instance.key, element_id=instance.element_id)
        )

    # -- sequence flows and joins --------------------------------------------------------------

    def take_flow(self, flow: SequenceFlow, scope_key: int) -> None:
        """Move a token along ``flow``: activate its target, or wait at a join.

        The flow taken is recorded on the event that follows (the target's activation or the
        token's arrival at a join), so taking a flow needs no event of its own.
        """
        target = self.process.element(flow.target_id)
        if self._joins(target):
            self.emit(
                ev.JoinTokenArrived(
                    at=self.ctx.now,
                    scope_key=scope_key,
                    element_id=target.element_id,
                    flow_id=flow.flow_id,
                )
            )
            self.later(lambda: self.try_join(scope_key, target))
        else:
            self.activate(target, scope_key, flow.flow_id)

    def _joins(self, element: FlowNode) -> bool:
        if isinstance(element, (ParallelGateway, InclusiveGateway, ComplexGateway)):
            return len(element.incoming) > 1
        return isinstance(element, Activity) and element.start_quantity > 1

    def try_join(self, scope_key: int, element: FlowNode) -> None:
        """Fire a joining element if the tokens it waits for are there."""
        if scope_key not in self.state.elements:
            return
        waiting = self.state.joins.get((scope_key, element.element_id))
        if not waiting or not any(count > 0 for count in waiting.values()):
            return
        consumed = _joins.tokens_to_consume(self, scope_key, element, waiting)
        if consumed is None:
            return
        self.emit(
            ev.JoinTokensConsumed(
                at=self.ctx.now,
                scope_key=scope_key,
                element_id=element.element_id,
                consumed=consumed,
            )
        )
        self.activate(element, scope_key, None)
        remaining = self.state.joins.get((scope_key, element.element_id), {})
        if any(count > 0 for count in remaining.values()):
            self.later(lambda: self.try_join(scope_key, element))

    def token_left(self, scope_key: int) -> None:
        """A token of ``scope_key`` ended: re-check inclusive joins and the scope's completion."""
        self.later(lambda: self._after_token_left(scope_key))

    def _after_token_left(self, scope_key: int) -> None:
        scope = self.state.elements.get(scope_key)
        if scope is None:
            return
        for slot_scope, element_id in list(self.state.joins):
            if slot_scope == scope_key:
                element = self.process.element(element_id)
                if isinstance(element, (InclusiveGateway, ComplexGateway)):
                    self.try_join(scope_key, element)
        if scope.children or any(
            slot[0] == scope_key and any(count > 0 for count in flows.values())
            for slot, flows in self.state.joins.items()
        ):
            return
        _processors.scope_completed(self, scope)

    # -- jobs ------------------------------------------------------------------------------------

    def retry_policy(self, element: FlowNode) -> RetryPolicy:
        """The element's retry policy, or the engine default."""
        policy = getattr(element, "retry_policy", None)
        return policy if isinstance(policy, RetryPolicy) else self.ctx.default_retry_policy

    def backoff(self, policy: RetryPolicy, attempt: int) -> timedelta:
        """The delay before attempt ``attempt + 1`` (exponential, capped, with jitter)."""
        base = policy.initial_interval.total_seconds() * policy.backoff_coefficient ** (attempt - 1)
        base = min(base, policy.maximum_interval.total_seconds())
        spread = base * policy.jitter * (2 * self.ctx.random() - 1)
        return timedelta(seconds=max(0.0, base + spread))


def _with_path(current: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    result = dict(current)
    head, rest = path[0], path[1:]
    if rest:
        inner = result.get(head)
        result[head] = _with_path(inner if isinstance(inner, dict) else {}, rest, value)
    else:
        result[head] = value
    return result


# The processors build on this module (they take a Processing), so they are imported once it is
# complete; the methods above reach them through these module references at call time. An
# import statement inside those methods, run for every element, cost more than their own work.
from legato.engine import processors as _processors  # noqa: E402
from legato.engine.processors import joins as _joins  # noqa: E402
from legato.engine.processors import waits as _waits  # noqa: E402
