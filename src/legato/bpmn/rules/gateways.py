"""Rules about gateways: direction, fan-in/fan-out and event-based gateway targets."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import GATEWAYS, ModelContext, flag, local
from legato.errors import ValidationIssue

EVENT_GATEWAY_TRIGGERS = frozenset({"message", "timer", "signal", "conditional"})


def _direction_issue(ctx: ModelContext, gateway: etree._Element) -> ValidationIssue | None:
    direction = (gateway.get("gatewayDirection") or "Unspecified").strip()
    ins, outs = len(ctx.incoming(gateway)), len(ctx.outgoing(gateway))
    gateway_id = ctx.node_id(gateway)
    if direction == "Converging" and outs > 1:
        rule, message = "EXT017", f"the converging gateway '{gateway_id}' has {outs} outgoing flows"
    elif direction == "Diverging" and ins > 1:
        rule, message = "EXT018", f"the diverging gateway '{gateway_id}' has {ins} incoming flows"
    elif direction == "Mixed" and (ins < 2 or outs < 2):
        rule = "EXT019"
        message = (
            f"the mixed gateway '{gateway_id}' needs several incoming and several outgoing "
            f"flows, it has {ins} and {outs}"
        )
    else:
        return None
    return ctx.issue(rule, message, gateway)


def check_gateway_direction(ctx: ModelContext) -> list[ValidationIssue]:
    """A gateway's flows agree with its declared direction (EXT017, EXT018, EXT019)."""
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
    if not kinds or any(k not in EVENT_GATEWAY_TRIGGERS for k in kinds):
        return f"a catch event with a {'/'.join(kinds) or 'missing'} trigger cannot follow it"
    return None


def _event_gateway_issues(ctx: ModelContext, gateway: etree._Element) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    gateway_id = ctx.node_id(gateway)
    outgoing = ctx.outgoing(gateway)
    if len(outgoing) < 2:
        message = f"the event-based gateway '{gateway_id}' needs two or more outgoing flows"
        issues.append(ctx.issue("EXT136", message, gateway))
    if flag(gateway, "instantiate", False) and ctx.incoming(gateway):
        message = f"the instantiating event-based gateway '{gateway_id}' cannot have incoming flows"
        issues.append(ctx.issue("EXT142", message, gateway))
    targets = [ctx.target(f, f.get("targetRef")) for f in outgoing]
    found = [t for t in targets if t is not None]
    for target in found:
        issues.extend(_configuration_issues(ctx, gateway, target))
    has_receive = any(local(t) == "receiveTask" for t in found)
    has_message_event = any("message" in ctx.definition_kinds(t) for t in found)
    if has_receive and has_message_event:
        message = f"event-based gateway '{gateway_id}' mixes receive tasks and message catch events"
        issues.append(ctx.issue("EXT139", message, gateway))
    return issues


def _configuration_issues(
    ctx: ModelContext, gateway: etree._Element, target: etree._Element
) -> list[ValidationIssue]:
    """A target is a fitting catch event or receive task, reached only from the gateway."""
    issues: list[ValidationIssue] = []
    prefix = f"event-based gateway '{ctx.node_id(gateway)}'"
    problem = _target_issue(ctx, target)
    if problem is not None:
        issues.append(ctx.issue("EXT138", f"{prefix}: {problem}", target))
    if local(target) == "receiveTask" and _attached_events(ctx, target):
        message = f"{prefix}: the receive task '{ctx.node_id(target)}' has boundary events"
        issues.append(ctx.issue("EXT140", message, target))
    if len(ctx.incoming(target)) > 1:
        message = f"{prefix}: its target '{ctx.node_id(target)}' has other incoming flows"
        issues.append(ctx.issue("EXT141", message, target))
    return issues


def _attached_events(ctx: ModelContext, activity: etree._Element) -> list[etree._Element]:
    return [
        event
        for event in ctx.bpmn_elements("boundaryEvent")
        if ctx.target(event, event.get("attachedToRef")) is activity
    ]


def check_event_gateways(ctx: ModelContext) -> list[ValidationIssue]:
    """Event-based gateway configurations (EXT136, EXT138-EXT142)."""
    issues: list[ValidationIssue] = []
    for gateway in ctx.bpmn_elements("eventBasedGateway"):
        issues.extend(_event_gateway_issues(ctx, gateway))
    return issues


RULES = [check_gateway_direction, check_gateway_fan, check_event_gateways]
