"""Rules about each process level as a whole: start and end events, and where paths begin and end.

A level is a process or a sub-process (event sub-processes included); its nodes are its
direct flow nodes.
"""

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
)
from legato.errors import ValidationIssue


def _levels(ctx: ModelContext) -> list[tuple[etree._Element, list[etree._Element]]]:
    return [
        (scope, [c for c in children(scope) if local(c) in FLOW_NODES])
        for scope in ctx.bpmn_elements(*CONTAINERS)
        if local(scope) not in ("adHocSubProcess", "choreography", "subChoreography")
    ]


def _instantiates(node: etree._Element) -> bool:
    return local(node) in ("receiveTask", "eventBasedGateway") and flag(node, "instantiate", False)


def _presence_issues(
    ctx: ModelContext, scope: etree._Element, nodes: list[etree._Element]
) -> list[ValidationIssue]:
    kinds = {local(n) for n in nodes}
    scope_id = ctx.node_id(scope)
    if "endEvent" in kinds and "startEvent" not in kinds and not any(map(_instantiates, nodes)):
        message = f"'{scope_id}' has an end event, so it needs a start event"
        return [ctx.issue("EXT097", message, scope)]
    if "startEvent" in kinds and "endEvent" not in kinds:
        message = f"'{scope_id}' has a start event, so it needs an end event"
        return [ctx.issue("EXT105", message, scope)]
    return []


def check_start_and_end_presence(ctx: ModelContext) -> list[ValidationIssue]:
    """A level with an end event has a start (EXT097); one with a start event an end (EXT105)."""
    issues: list[ValidationIssue] = []
    for scope, nodes in _levels(ctx):
        issues.extend(_presence_issues(ctx, scope, nodes))
    return issues


def _event_flow_issue(
    ctx: ModelContext, event: etree._Element, lists_flows: bool
) -> ValidationIssue | None:
    kind = local(event)
    event_id = ctx.node_id(event)
    if kind == "startEvent" and not _has_flows(ctx, event, "outgoing", lists_flows):
        return ctx.issue("EXT101", f"the start event '{event_id}' needs an outgoing flow", event)
    if kind == "endEvent" and not _has_flows(ctx, event, "incoming", lists_flows):
        return ctx.issue("EXT107", f"the end event '{event_id}' needs an incoming flow", event)
    link_catch = kind == "intermediateCatchEvent" and "link" in ctx.definition_kinds(event)
    reached = _has_flows(ctx, event, "incoming", lists_flows)
    if kind.startswith("intermediate") and not link_catch and not reached:
        message = f"the intermediate event '{event_id}' needs an incoming flow"
        return ctx.issue("EXT115", message, event)
    return None


def _has_flows(ctx: ModelContext, event: etree._Element, direction: str, lists_flows: bool) -> bool:
    """A flow in that direction, listed as a sub-element when the document lists flows."""
    flows = ctx.incoming(event) if direction == "incoming" else ctx.outgoing(event)
    return bool(flows) and (not lists_flows or bool(children(event, direction)))


def check_event_flows(ctx: ModelContext) -> list[ValidationIssue]:
    """Start events lead on (EXT101); end (EXT107) and intermediate events (EXT115) are reached.

    A catching link event is reached through its throwing partner, not by a flow. Listing
    the flows of a node (``incoming``, ``outgoing``) is optional in BPMN XML; a document that
    lists them must list the flows of these events.
    """
    issues: list[ValidationIssue] = []
    events = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent")
    lists_flows = any(children(n, "incoming", "outgoing") for n in ctx.bpmn_elements(*FLOW_NODES))
    for event in ctx.bpmn_elements(*events):
        found = _event_flow_issue(ctx, event, lists_flows)
        if found is not None:
            issues.append(found)
    return issues


def _may_end_a_path(ctx: ModelContext, node: etree._Element) -> bool:
    """End events, and nodes whose path goes on by other means than a sequence flow."""
    kind = local(node)
    if kind == "endEvent" or is_event_sub_process(node):
        return True
    if kind in ACTIVITIES and flag(node, "isForCompensation", False):
        return True
    kinds = ctx.definition_kinds(node) if kind.endswith("Event") else []
    if kind == "intermediateThrowEvent" and "link" in kinds:
        return True
    return kind == "boundaryEvent" and "compensate" in kinds


def check_end_wiring(ctx: ModelContext) -> list[ValidationIssue]:
    """With an end event in its level, every node has an outgoing sequence flow (EXT151)."""
    issues: list[ValidationIssue] = []
    for _scope, nodes in _levels(ctx):
        if not any(local(n) == "endEvent" for n in nodes):
            continue
        for node in nodes:
            if not ctx.outgoing(node) and not _may_end_a_path(ctx, node):
                message = (
                    f"'{ctx.node_id(node)}' has no outgoing sequence flow, yet its level has "
                    "an end event"
                )
                issues.append(ctx.issue("EXT151", message, node))
    return issues


RULES = [check_start_and_end_presence, check_event_flows, check_end_wiring]
