"""The small context of one step: the instance state, emitting events, evaluating
expressions, reading and writing variables, raising incidents.

The element lifecycle (:mod:`legato.engine.processing`) builds on it; it knows nothing of
elements, flows or behaviours.
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
from legato.engine.incident import IncidentError
from legato.engine.kinds import IncidentPhase
from legato.engine.plan import ExecutionPlan, FlowPlan
from legato.engine.state import ElementInstance, InstanceState
from legato.errors import ExpressionError
from legato.model import Expression, FlowNode, ProcessDefinition, RetryPolicy, VariableMapping

_VariableSet = ev.VariableSet
_SubscriptionOpened = ev.SubscriptionOpened


class StepContext:
    """The state of one step: the instance, its model, the context and the emitted events."""

    def __init__(self, state: InstanceState, deployed: DeployedProcess, ctx: EngineContext) -> None:
        self.state = state
        self.deployed = deployed
        self.process: ProcessDefinition = deployed.process
        self.plan: ExecutionPlan = deployed.plan
        self.ctx = ctx
        self.now = ctx.now
        self.events: list[ev.Event] = []
        self.follow_ups: list[Command] = []
        self.messages: list[PublishMessage] = []
        self.signals: list[BroadcastSignal] = []
        self.pending_signals: list[tuple[str, dict[str, Any], frozenset[int]]] = []
        self.pretriggered: dict[tuple[int, str], dict[str, Any]] = {}
        self.loop_rounds: dict[tuple[int, str], int] = {}
        self.conditions_dirty = False
        self._agenda: deque[tuple[Callable[[Any, Any], None], Any]] = deque()
        """What the lifecycle (:class:`~legato.engine.processing.Processing`) planned: pairs
        of (function, argument), called as function(self, argument). Made here, so that
        making a step's context takes no second ``__init__``."""

    def emit(self, event: ev.Event) -> None:
        """Apply ``event`` to the state and record it."""
        cls = type(event)
        APPLIERS[cls](self.state, event)  # apply(), without a call per event
        self.events.append(event)
        # Events are final classes: exact type tests, the cheapest, for every event emitted.
        if cls is _VariableSet or (
            cls is _SubscriptionOpened and event.kind == "conditional"  # type: ignore[attr-defined]
        ):
            self.conditions_dirty = True

    def incident(self, instance: ElementInstance, phase: IncidentPhase, failure: Exception) -> None:
        """An expected failure (an IncidentError or ExpressionError) as an incident."""
        if isinstance(failure, IncidentError):
            self.raise_incident(instance, failure.error_type, failure.message, phase)
        else:
            self.raise_incident(instance, "expression", str(failure), phase)

    def raise_incident(
        self,
        instance: ElementInstance,
        error_type: str,
        message: str,
        phase: IncidentPhase,
        job_key: int | None = None,
        details: str | None = None,
    ) -> None:
        """Stop ``instance`` with an incident an operator can resolve."""
        self.emit(
            ev.IncidentRaised(
                at=self.now,
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

    def evaluate_condition(self, flow: FlowPlan, scope_key: int) -> bool:
        """Whether a sequence flow's condition holds; anything but a boolean is an error."""
        assert flow.condition is not None
        try:
            return flow.condition.evaluate_boolean(self.variables_of(scope_key), self.now)
        except ExpressionError as exc:
            raise IncidentError("condition", f"sequence flow '{flow.flow_id}': {exc}") from exc

    def evaluate(self, expression: Expression, scope_key: int) -> Any:
        """Evaluate in a scope; failures raise ExpressionError (an incident when guarded)."""
        if expression.compiled is None:  # static
            return expression.constant  # no need to gather the variables (e.g. a job type)
        return expression.evaluate(self.variables_of(scope_key), self.now)

    def set_local(self, scope_key: int, name: str, value: Any) -> None:
        """Create or change a variable in exactly this scope."""
        try:
            value = values.normalize(value)
        except TypeError as exc:
            raise IncidentError("variable", f"variable '{name}': {exc}") from exc
        current = self.state.variables.get(scope_key)
        if current is not None and name in current:
            old = current[name]
            if old == value and type(old) is type(value):
                return
        self.emit(_VariableSet(at=self.now, scope_key=scope_key, name=name, value=value))

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
            if mapping.secret is not None:
                continue  # resolved when a handler runs; never a variable
            results.append((mapping.target, mapping.source.evaluate(visible, self.now)))
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
