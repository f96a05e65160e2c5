"""Gateways: exclusive, parallel, inclusive and complex; forking, and joining their tokens."""

from __future__ import annotations

from decimal import Decimal

from legato.engine.incident import IncidentError
from legato.engine.plan import FlowPlan
from legato.engine.processors.base import ElementProcessor
from legato.engine.processors.joins import can_still_arrive, can_still_arrive_on
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import ComplexGateway, Gateway


class ExclusiveGatewayProcessor(ElementProcessor[Gateway]):
    """Takes the first outgoing flow whose condition holds, in model order, else the default."""

    def outgoing(
        self, p: Processing, instance: ElementInstance, element: Gateway
    ) -> list[FlowPlan]:
        node = p.plan.nodes[element.element_id]
        if not node.outgoing:
            return []
        for flow in node.conditional:
            if flow.condition is None or p.evaluate_condition(flow, instance.key):
                return [flow]
        if node.default is not None:
            return [node.default]
        raise IncidentError(
            "condition",
            f"no outgoing sequence flow of exclusive gateway '{element.element_id}' has a true "
            "condition, and there is no default flow",
        )


class ParallelGatewayProcessor(ElementProcessor[Gateway]):
    """Forks along every outgoing flow (conditions on them are ignored, as BPMN says); joins
    once a token waits on every incoming flow."""

    def outgoing(
        self, p: Processing, instance: ElementInstance, element: Gateway
    ) -> list[FlowPlan]:
        return list(p.plan.nodes[element.element_id].outgoing)

    def tokens_to_consume(
        self, p: Processing, scope_key: int, element: Gateway, waiting: dict[str, int]
    ) -> dict[str, int] | None:
        for flow_id in element.incoming:
            if waiting.get(flow_id, 0) <= 0:
                return None
        return dict.fromkeys(element.incoming, 1)  # a token of each


class InclusiveGatewayProcessor(ElementProcessor[Gateway]):
    """Forks along every flow whose condition holds (the default only when none holds); joins
    once no token of the scope can still reach an incoming flow that has none yet."""

    def outgoing(
        self, p: Processing, instance: ElementInstance, element: Gateway
    ) -> list[FlowPlan]:
        node = p.plan.nodes[element.element_id]
        if not node.outgoing:
            return []
        chosen = [
            flow
            for flow in node.conditional
            if flow.condition is None or p.evaluate_condition(flow, instance.key)
        ]
        if chosen:
            return chosen
        if node.default is not None:
            return [node.default]
        raise IncidentError(
            "condition",
            f"no outgoing sequence flow of inclusive gateway '{element.element_id}' has a true "
            "condition, and there is no default flow",
        )

    def tokens_to_consume(
        self, p: Processing, scope_key: int, element: Gateway, waiting: dict[str, int]
    ) -> dict[str, int] | None:
        if can_still_arrive(p, scope_key, element, waiting):
            return None
        return {flow_id: 1 for flow_id, count in waiting.items() if count > 0}


class ComplexGatewayProcessor(InclusiveGatewayProcessor):
    """Forks as an inclusive gateway; joins when its activation condition holds (as an
    inclusive gateway without one)."""

    def tokens_to_consume(
        self, p: Processing, scope_key: int, element: Gateway, waiting: dict[str, int]
    ) -> dict[str, int] | None:
        assert isinstance(element, ComplexGateway)
        if element.activation_condition is None:
            return super().tokens_to_consume(p, scope_key, element, waiting)
        variables = p.variables_of(scope_key)
        variables["activationCount"] = Decimal(sum(waiting.values()))
        value = element.activation_condition.evaluate(variables, p.ctx.now)
        if not isinstance(value, bool):
            raise IncidentError("condition", f"activation condition gave {value!r}, not a boolean")
        if not value:
            return None
        consumed = {flow_id: count for flow_id, count in waiting.items() if count > 0}
        # Branches still on their way are swallowed when they arrive (the gateway resets).
        for flow_id in element.incoming:
            if flow_id not in consumed and can_still_arrive_on(p, scope_key, element, flow_id):
                consumed[flow_id] = 1
        return consumed
