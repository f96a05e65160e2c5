"""Rules about sequence flows: what they may connect, conditions and default flows."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    ACTIVITIES,
    ARTIFACTS,
    FLOW_NODES,
    GATEWAYS,
    ModelContext,
    child,
    flag,
    is_event_sub_process,
    local,
    scope_of,
)
from legato.errors import ValidationIssue


def _endpoint_issues(
    ctx: ModelContext, flow: etree._Element, node: etree._Element, end: str
) -> list[ValidationIssue]:
    kind = local(node)
    flow_id = ctx.node_id(flow)
    is_source = end == "source"
    if kind in ARTIFACTS:
        rule = "EXT007" if is_source else "EXT006"
        return [
            ctx.issue(rule, f"the artifact {kind} cannot be the {end} of a sequence flow", flow)
        ]
    if kind not in FLOW_NODES:
        rule = "EXT021" if is_source else "EXT022"
        return [ctx.issue(rule, f"a {kind} cannot be the {end} of a sequence flow", flow)]
    if is_event_sub_process(node):
        rule = "EXT021" if is_source else "EXT022"
        message = (
            f"the event sub-process '{ctx.node_id(node)}' cannot be the {end} of sequence flow"
        )
        return [ctx.issue(rule, f"{message} '{flow_id}'", flow)]
    if scope_of(node) is not scope_of(flow):
        message = (
            f"sequence flow '{flow_id}' and its {end} '{ctx.node_id(node)}' "
            "lie in different processes or sub-processes"
        )
        return [ctx.issue("EXT152", message, flow)]
    return _kind_issues(ctx, flow, node, is_source)


def _kind_issues(
    ctx: ModelContext, flow: etree._Element, node: etree._Element, is_source: bool
) -> list[ValidationIssue]:
    kind = local(node)
    node_id = ctx.node_id(node)
    kinds = ctx.definition_kinds(node) if kind.endswith("Event") else []
    found: list[tuple[str, str]] = []
    if not is_source and kind == "startEvent":
        found.append(("EXT096", f"the start event '{node_id}' cannot have incoming sequence flows"))
    if is_source and kind == "endEvent":
        found.append(("EXT104", f"the end event '{node_id}' cannot have outgoing sequence flows"))
    if not is_source and kind == "boundaryEvent":
        found.append(("EXT112", f"the boundary event '{node_id}' cannot have incoming flows"))
    if is_source and kind == "boundaryEvent" and "compensate" in kinds:
        message = f"the compensation boundary event '{node_id}' cannot have outgoing flows"
        found.append(("EXT114", message))
    if is_source and kind == "intermediateThrowEvent" and "link" in kinds:
        found.append(("EXT117", f"the link throw event '{node_id}' cannot have outgoing flows"))
    if not is_source and kind == "intermediateCatchEvent" and "link" in kinds:
        found.append(("EXT117", f"the link catch event '{node_id}' cannot have incoming flows"))
    if kind in ACTIVITIES and flag(node, "isForCompensation", False):
        message = f"the compensation activity '{node_id}' cannot be connected by sequence flows"
        found.append(("compensation-flow", message))
    return [ctx.issue(rule, message, flow) for rule, message in found]


def check_flow_endpoints(ctx: ModelContext) -> list[ValidationIssue]:
    """Sequence flows connect flow nodes of their own scope, in allowed directions."""
    issues: list[ValidationIssue] = []
    for flow in ctx.sequence_flows:
        for end in ("source", "target"):
            node = ctx.target(flow, flow.get(f"{end}Ref"))
            if node is not None:
                issues.extend(_endpoint_issues(ctx, flow, node, end))
    return issues


def check_is_immediate(ctx: ModelContext) -> list[ValidationIssue]:
    """``isImmediate="false"`` only suits non-executable processes (EXT024)."""
    return [
        ctx.issue("EXT024", "isImmediate='false' is not allowed in an executable process", flow)
        for flow in ctx.sequence_flows
        if not flag(flow, "isImmediate", True) and ctx.is_executable(flow)
    ]


def check_conditional_flows(ctx: ModelContext) -> list[ValidationIssue]:
    """Conditions only where a choice is made (EXT025, EXT137)."""
    issues: list[ValidationIssue] = []
    for flow in ctx.sequence_flows:
        if child(flow, "conditionExpression") is None:
            continue
        source = ctx.target(flow, flow.get("sourceRef"))
        if source is None:
            continue
        kind = local(source)
        if kind in ACTIVITIES and len(ctx.outgoing(source)) < 2:
            message = f"the only outgoing sequence flow of activity '{ctx.node_id(source)}'"
            issues.append(ctx.issue("EXT025", f"{message} cannot be conditional", flow))
        elif kind == "eventBasedGateway":
            message = f"a sequence flow leaving the {kind} '{ctx.node_id(source)}'"
            issues.append(ctx.issue("EXT137", f"{message} cannot have a condition", flow))
    return issues


def _default_issue(ctx: ModelContext, node: etree._Element) -> ValidationIssue | None:
    default = ctx.target(node, node.get("default"))
    if default is None or local(default) != "sequenceFlow":
        return None
    node_id = ctx.node_id(node)
    if ctx.target(default, default.get("sourceRef")) is not node:
        message = f"the default flow '{ctx.node_id(default)}' does not leave '{node_id}'"
        return ctx.issue("EXT026", message, node)
    if child(default, "conditionExpression") is not None:
        message = (
            f"the default flow '{ctx.node_id(default)}' of '{node_id}' cannot have a condition"
        )
        return ctx.issue("default-condition", message, default)
    return None


def check_default_flows(ctx: ModelContext) -> list[ValidationIssue]:
    """A default flow leaves its element and carries no condition (EXT026)."""
    issues: list[ValidationIssue] = []
    for node in ctx.bpmn_elements(*(ACTIVITIES | GATEWAYS)):
        if node.get("default"):
            found = _default_issue(ctx, node)
            if found is not None:
                issues.append(found)
    return issues


RULES = [check_flow_endpoints, check_is_immediate, check_conditional_flows, check_default_flows]
