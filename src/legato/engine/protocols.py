"""What an element behaviour may ask of the step it runs in.

The behaviours (:mod:`legato.engine.processors`) sit below the lifecycle that runs them
(:mod:`legato.engine.processing`): they receive it through this protocol, so neither imports
the other's module in a circle.

A step holds the instance state, the execution plan and the engine context (the small
context: ``emit``, ``evaluate``, the variables), and the element lifecycle above them: an
element instance is *activated* when a token enters it, *completed* when its work is done,
or *terminated* from outside; ``finish`` records a completion and sends the tokens on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from legato.engine import events as ev
from legato.engine.commands import BroadcastSignal, Command, PublishMessage
from legato.engine.context import DeployedProcess, EngineContext
from legato.engine.kinds import IncidentPhase
from legato.engine.plan import ExecutionPlan, FlowPlan, NodePlan
from legato.engine.state import ElementInstance, InstanceState
from legato.model import Expression, FlowNode, ProcessDefinition, RetryPolicy, VariableMapping

T = TypeVar("T")


class Processing(Protocol):
    """One command's processing against one instance, as the behaviours see it."""

    state: InstanceState
    deployed: DeployedProcess
    process: ProcessDefinition
    plan: ExecutionPlan
    ctx: EngineContext
    events: list[ev.Event]
    follow_ups: list[Command]
    """Commands for other instances (a called child to start, a parent to resume)."""
    messages: list[PublishMessage]
    """Messages thrown by the instance, for the runtime to publish."""
    signals: list[BroadcastSignal]
    """Signals thrown by the instance, for the runtime to broadcast."""
    pending_signals: list[tuple[str, dict[str, Any], frozenset[int]]]
    """Signals thrown in this step, for the catch events entered later in it."""
    pretriggered: dict[tuple[int, str], dict[str, Any]]
    """Catch events entered after their event already happened (event-based gateway)."""
    loop_rounds: dict[tuple[int, str], int]
    """Standard loop iterations begun in this step, by (scope key, element id)."""

    # -- the small context: events, expressions, variables --------------------------------------

    def emit(self, event: ev.Event) -> None:
        """Apply ``event`` to the state and record it."""

    def later(self, action: Callable[[T], None], argument: T) -> None:
        """Call ``action(argument)`` after what is already planned."""

    def guarded(
        self, instance: ElementInstance, phase: IncidentPhase, action: Callable[[], None]
    ) -> None:
        """Run ``action``; an expected failure becomes an incident on ``instance``."""

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

    def variables_of(self, scope_key: int) -> dict[str, Any]:
        """The variables visible from a scope."""

    def evaluate(self, expression: Expression, scope_key: int) -> Any:
        """Evaluate in a scope; failures raise ExpressionError (an incident when guarded)."""

    def evaluate_condition(self, flow: FlowPlan, scope_key: int) -> bool:
        """Whether a sequence flow's condition holds; anything but a boolean is an error."""

    def set_local(self, scope_key: int, name: str, value: Any) -> None:
        """Create or change a variable in exactly this scope."""

    def set_propagating(self, scope_key: int, name: str, value: Any) -> None:
        """Set in the nearest scope (from ``scope_key`` up) that has it, else in the root."""

    def set_all_propagating(self, scope_key: int, variables: Mapping[str, Any]) -> None:
        """Set several variables with propagation."""

    def apply_mappings(
        self,
        mappings: tuple[VariableMapping, ...],
        source_scope: int,
        target_scope: int,
        propagate: bool,
    ) -> None:
        """Evaluate mappings in ``source_scope``; assign into ``target_scope``."""

    def retry_policy(self, element: FlowNode) -> RetryPolicy:
        """The element's retry policy, or the engine default."""

    def backoff(self, policy: RetryPolicy, attempt: int) -> timedelta:
        """The delay before attempt ``attempt + 1`` (exponential, capped, with jitter)."""

    # -- the element lifecycle ---------------------------------------------------------------

    def activate(
        self,
        node: NodePlan,
        scope_key: int,
        flow_id: str | None,
        loop_counter: int = 0,
        inner: bool = False,
    ) -> ElementInstance:
        """Create an element instance and plan its activation."""

    def run_activation(self, instance: ElementInstance) -> None:
        """Run (or re-run, after an incident) the activation of an element instance."""

    def complete(self, instance: ElementInstance) -> None:
        """Plan the completion of an element instance (its work is done)."""

    def run_completion(self, instance: ElementInstance) -> None:
        """Run (or re-run, after an incident) the completion of an element instance."""

    def finish(self, instance: ElementInstance, flows: Sequence[FlowPlan], tokens: int = 1) -> None:
        """Record the completion and send ``tokens`` tokens along each of ``flows``."""

    def terminate(self, instance: ElementInstance) -> None:
        """End an element instance and everything inside it, now."""
