"""Rules about gateways: direction, fan-in/fan-out and event-based gateway targets."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import GATEWAYS, ModelContext, local
from legato.errors import ValidationIssue

EVENT_GATEWAY_TRIGGERS = frozenset({"message", "timer", "signal", "conditional"})


def _direction_issue(ctx: ModelContext, gateway: etree._Element) -> ValidationIssue | None:
    direction = (gateway.get("gatewayDirection") or "Unspecified").strip()
    ins, outs = len(ctx.incoming(gateway)), len(ctx.outgoing(gateway))
    gateway_id = ctx.node_id(gateway)
    if direction == "Diverging" and ins > 1:
        message = f"the diverging gateway '{gateway_id}' has {ins} incoming flows"
    elif direction == "Converging" and outs > 1:
        message = f"the converging gateway '{gateway_id}' has {outs} outgoing flows"
    else:
        return None
    return ctx.issue("EXT018", message, gateway)


def check_gateway_direction(ctx: ModelContext) -> list[ValidationIssue]:
    """A gateway's flows agree with its declared direction (EXT018)."""
    issues: list[ValidationIssue] = []
    for gateway in ctx.bpmn_elements(*GATEWAYS):
        found = _direction_issue(ctx, gateway)
        if found is not None:
            issues.append(found)
    return issues


def check_gateway_fan(ctx: ModelContext) -> list[ValidationIssue]:
    """A gateway splits or joins: several incoming or several outgoing flows (EXT135)."""
    issues: list[ValidationIssue] = []
    for gateway in ctx.bpmn_elements(*GATEWAYS):
        if len(ctx.incoming(gateway)) < 2 and len(ctx.outgoing(gateway)) < 2:
            message = (
                f"the gateway '{ctx.node_id(gateway)}' neither splits nor joins: it needs "
                "several incoming or several outgoing sequence flows"
            )
            issues.append(ctx.issue("EXT135", message, gateway))
    return issues


def _target_issue(ctx: ModelContext, target: etree._Element) -> str | None:
    kind = local(target)
    if kind == "receiveTask":
        return None
    if kind != "intermediateCatchEvent":
        return f"a {kind} cannot follow an event-based gateway"
    kinds = ctx.definition_kinds(target)
    if len(kinds) != 1 or kinds[0] not in EVENT_GATEWAY_TRIGGERS:
        return f"a catch event with a {'/'.join(kinds) or 'missing'} trigger cannot follow it"
    return None


def _event_gateway_issues(ctx: ModelContext, gateway: etree._Element) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    targets = [ctx.target(f, f.get("targetRef")) for f in ctx.outgoing(gateway)]
    found = [t for t in targets if t is not None]
    for target in found:
        problem = _target_issue(ctx, target)
        if problem is not None:
            message = f"event-based gateway '{ctx.node_id(gateway)}': {problem}"
            issues.append(ctx.issue("EXT138", message, target))
    has_receive = any(local(t) == "receiveTask" for t in found)
    has_message_event = any("message" in ctx.definition_kinds(t) for t in found)
    if has_receive and has_message_event:
        message = (
            f"event-based gateway '{ctx.node_id(gateway)}' mixes receive tasks and "
            "message catch events"
        )
        issues.append(ctx.issue("EXT139", message, gateway))
    return issues


def check_event_gateways(ctx: ModelContext) -> list[ValidationIssue]:
    """Event-based gateways lead to catch events or receive tasks (EXT138, EXT139)."""
    issues: list[ValidationIssue] = []
    for gateway in ctx.bpmn_elements("eventBasedGateway"):
        issues.extend(_event_gateway_issues(ctx, gateway))
    return issues


RULES = [check_gateway_direction, check_gateway_fan, check_event_gateways]
