"""Whether a token can still reach a joining element: the question inclusive and complex
joins ask before they fire."""

from __future__ import annotations

from legato.engine.protocols import Processing
from legato.model import Activity, FlowNode


def can_still_arrive(
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


def can_still_arrive_on(p: Processing, scope_key: int, join: FlowNode, flow_id: str) -> bool:
    """Whether a token of the scope can still reach the incoming flow ``flow_id``."""
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
