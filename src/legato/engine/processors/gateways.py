"""Gateways: exclusive, parallel, inclusive and complex (diverging side; joins in joins.py)."""

from __future__ import annotations

from legato.engine.processing import IncidentError, Processing
from legato.engine.processors.base import ElementProcessor
from legato.engine.state import ElementInstance
from legato.model import Gateway, SequenceFlow


class ExclusiveGatewayProcessor(ElementProcessor[Gateway]):
    """Takes the first outgoing flow whose condition holds, in model order, else the default."""

    def outgoing(
        self, p: Processing, instance: ElementInstance, element: Gateway
    ) -> list[SequenceFlow]:
        if not element.outgoing:
            return []
        for flow_id in element.outgoing:
            flow = p.process.flow(flow_id)
            if flow_id == element.default_flow:
                continue
            if flow.condition is None or p.evaluate_condition(flow, instance.key):
                return [flow]
        if element.default_flow is not None:
            return [p.process.flow(element.default_flow)]
        raise IncidentError(
            "condition",
            f"no outgoing sequence flow of exclusive gateway '{element.element_id}' has a true "
            "condition, and there is no default flow",
        )


class ParallelGatewayProcessor(ElementProcessor[Gateway]):
    """Forks along every outgoing flow; conditions on them are ignored, as BPMN says."""

    def outgoing(
        self, p: Processing, instance: ElementInstance, element: Gateway
    ) -> list[SequenceFlow]:
        return [p.process.flow(f) for f in element.outgoing]


class InclusiveGatewayProcessor(ElementProcessor[Gateway]):
    """Forks along every flow whose condition holds; the default only when none holds."""

    def outgoing(
        self, p: Processing, instance: ElementInstance, element: Gateway
    ) -> list[SequenceFlow]:
        if not element.outgoing:
            return []
        chosen = [
            p.process.flow(flow_id)
            for flow_id in element.outgoing
            if flow_id != element.default_flow
            and (
                p.process.flow(flow_id).condition is None
                or p.evaluate_condition(p.process.flow(flow_id), instance.key)
            )
        ]
        if chosen:
            return chosen
        if element.default_flow is not None:
            return [p.process.flow(element.default_flow)]
        raise IncidentError(
            "condition",
            f"no outgoing sequence flow of inclusive gateway '{element.element_id}' has a true "
            "condition, and there is no default flow",
        )
