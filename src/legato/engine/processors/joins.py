"""When a joining element fires: parallel, inclusive and complex gateways, start quantities."""

from __future__ import annotations

from decimal import Decimal

from legato.engine.processing import IncidentError, Processing
from legato.model import Activity, ComplexGateway, FlowNode, InclusiveGateway, ParallelGateway


def tokens_to_consume(
    p: Processing, scope_key: int, element: FlowNode, waiting: dict[str, int]
) -> dict[str, int] | None:
    """The tokens to consume if ``element`` fires now, or None if it must wait."""
    if isinstance(element, ParallelGateway):
        if all(waiting.get(flow_id, 0) > 0 for flow_id in element.incoming):
            return {flow_id: 1 for flow_id in element.incoming}
        return None
    if isinstance(element, InclusiveGateway):
        if _can_still_arrive(p, scope_key, element, waiting):
            return None
        return {flow_id: 1 for flow_id, count in waiting.items() if count > 0}
    if isinstance(element, ComplexGateway):
        return _complex(p, scope_key, element, waiting)
    if isinstance(element, Activity):
        total = sum(waiting.values())
        if total < element.start_quantity:
            return None
        return _take(waiting, element.start_quantity)
    return {flow_id: count for flow_id, count in waiting.items() if count > 0}


def _take(waiting: dict[str, int], amount: int) -> dict[str, int]:
    taken: dict[str, int] = {}
    for flow_id, count in waiting.items():
        use = min(count, amount)
        if use:
            taken[flow_id] = use
            amount -= use
        if not amount:
            break
    return taken


def _complex(
    p: Processing, scope_key: int, element: ComplexGateway, waiting: dict[str, int]
) -> dict[str, int] | None:
    if element.activation_condition is None:
        return tokens_to_consume_inclusive(p, scope_key, element, waiting)
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
        if flow_id not in consumed and _can_still_arrive_on(p, scope_key, element, flow_id):
            consumed[flow_id] = 1
    return consumed


def tokens_to_consume_inclusive(
    p: Processing, scope_key: int, element: FlowNode, waiting: dict[str, int]
) -> dict[str, int] | None:
    """Inclusive-join semantics for any joining element."""
    if _can_still_arrive(p, scope_key, element, waiting):
        return None
    return {flow_id: 1 for flow_id, count in waiting.items() if count > 0}


def _can_still_arrive(
    p: Processing, scope_key: int, join: FlowNode, waiting: dict[str, int]
) -> bool:
    """Whether a token of the scope can still reach an incoming flow that has no token yet.

    Tokens are the active children of the scope and the tokens waiting at other joins; paths
    are followed forward without passing through ``join`` itself.
    """
    missing = {flow_id for flow_id in join.incoming if waiting.get(flow_id, 0) == 0}
    if not missing:
        return False
    scope = p.state.elements[scope_key]
    starts = [p.state.elements[k].element_id for k in scope.children]
    starts += [
        element_id
        for (slot_scope, element_id), flows in p.state.joins.items()
        if slot_scope == scope_key and element_id != join.element_id and any(flows.values())
    ]
    return bool(_reachable_flows(p, starts, join.element_id) & missing)


def _can_still_arrive_on(p: Processing, scope_key: int, join: FlowNode, flow_id: str) -> bool:
    scope = p.state.elements[scope_key]
    starts = [p.state.elements[k].element_id for k in scope.children]
    return flow_id in _reachable_flows(p, starts, join.element_id)


def _reachable_flows(p: Processing, starts: list[str], stop_at: str) -> set[str]:
    process = p.process
    seen: set[str] = set()
    flows: set[str] = set()
    stack = list(starts)
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        element = process.element(current)
        if isinstance(element, Activity):
            stack.extend(element.boundary_events)
        for flow_id in element.outgoing:
            flows.add(flow_id)
            target = process.flow(flow_id).target_id
            if target != stop_at:
                stack.append(target)
    return flows
