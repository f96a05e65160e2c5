"""Rules about how nodes are wired: ``incoming``/``outgoing`` lists and reachability."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    ACTIVITIES,
    CONTAINERS,
    FLOW_NODES,
    ModelContext,
    children,
    flag,
    is_event_sub_process,
    local,
    text_of,
)
from legato.errors import ValidationIssue


def _listed_issues(
    ctx: ModelContext, node: etree._Element, direction: str
) -> list[ValidationIssue]:
    """Each ``incoming``/``outgoing`` entry names a sequence flow ending/starting here."""
    issues: list[ValidationIssue] = []
    end = "targetRef" if direction == "incoming" else "sourceRef"
    verb = "end" if direction == "incoming" else "start"
    for entry in children(node, direction):
        flow = ctx.target(entry, text_of(entry))
        if flow is not None and local(flow) == "messageFlow":
            continue
        if flow is None or local(flow) != "sequenceFlow":
            message = f"{direction} '{text_of(entry)}' of '{ctx.node_id(node)}' is no sequence flow"
            issues.append(ctx.issue("EXT023", message, node))
        elif ctx.target(flow, flow.get(end)) is not node:
            message = (
                f"{direction} sequence flow '{text_of(entry)}' is listed by "
                f"'{ctx.node_id(node)}' but does not {verb} there"
            )
            issues.append(ctx.issue("EXT023", message, node))
    return issues


def _unlisted_issues(
    ctx: ModelContext, node: etree._Element, direction: str
) -> list[ValidationIssue]:
    """Each sequence flow ending/starting at the node is listed by it."""
    listed = {ctx.ref_id(e, text_of(e)) for e in children(node, direction)}
    flows = ctx.incoming(node) if direction == "incoming" else ctx.outgoing(node)
    return [
        ctx.issue(
            "EXT023",
            f"sequence flow '{ctx.node_id(flow)}' is missing from the {direction} "
            f"list of '{ctx.node_id(node)}'",
            node,
        )
        for flow in flows
        if ctx.node_id(flow) not in listed
    ]


def check_flow_lists(ctx: ModelContext) -> list[ValidationIssue]:
    """``incoming``/``outgoing`` lists agree with the sequence flows (EXT023).

    Listing the flows is optional in BPMN XML, so completeness is only required from
    documents that list them at all.
    """
    nodes = list(ctx.bpmn_elements(*FLOW_NODES))
    lists_flows = any(children(n, "incoming", "outgoing") for n in nodes)
    issues: list[ValidationIssue] = []
    for node in nodes:
        for direction in ("incoming", "outgoing"):
            issues.extend(_listed_issues(ctx, node, direction))
            if lists_flows:
                issues.extend(_unlisted_issues(ctx, node, direction))
    return issues


def _needs_incoming(ctx: ModelContext, node: etree._Element) -> bool:
    kind = local(node)
    if kind in ("startEvent", "boundaryEvent") or is_event_sub_process(node):
        return False
    if kind in ACTIVITIES and flag(node, "isForCompensation", False):
        return False
    if kind == "intermediateCatchEvent" and "link" in ctx.definition_kinds(node):
        return False
    return not (kind == "eventBasedGateway" and flag(node, "instantiate", False))


def _scope_nodes(scope: etree._Element) -> list[etree._Element]:
    return [c for c in children(scope) if local(c) in FLOW_NODES]


def check_start_wiring(ctx: ModelContext) -> list[ValidationIssue]:
    """With a start event in its scope, every node has an incoming sequence flow (EXT150).

    Exempt are nodes that start or end a path by nature: start, boundary and link events,
    event sub-processes and compensation handlers.
    """
    issues: list[ValidationIssue] = []
    for scope in ctx.bpmn_elements(*CONTAINERS):
        nodes = _scope_nodes(scope)
        if not any(local(n) == "startEvent" for n in nodes):
            continue
        for node in nodes:
            node_id = ctx.node_id(node)
            if not ctx.incoming(node) and _needs_incoming(ctx, node):
                message = (
                    f"'{node_id}' has no incoming sequence flow, yet its scope has a start event"
                )
                issues.append(ctx.issue("EXT150", message, node))
    return issues


RULES = [check_flow_lists, check_start_wiring]
