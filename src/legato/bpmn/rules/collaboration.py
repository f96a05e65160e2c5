"""Rules about collaborations: message flows, participants and process types."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    ACTIVITIES,
    ARTIFACTS,
    ModelContext,
    children,
    flag,
    local,
)
from legato.errors import ValidationIssue

SENDERS = frozenset({"endEvent", "intermediateThrowEvent"})
RECEIVERS = frozenset({"startEvent", "intermediateCatchEvent", "boundaryEvent"})


def _pool_of(ctx: ModelContext, node: etree._Element) -> etree._Element | None:
    if local(node) == "participant":
        return ctx.target(node, node.get("processRef"))
    return ctx.process_of(node)


WRONG_DIRECTION = {
    ("startEvent", "source"): "EXT102",
    ("endEvent", "target"): "EXT108",
    ("intermediateCatchEvent", "source"): "EXT119",
    ("boundaryEvent", "source"): "EXT119",
    ("intermediateThrowEvent", "target"): "EXT119",
}
"""Events that cannot be this end of a message flow, with the rule that says so."""
NEEDS_MESSAGE = {"startEvent": "EXT103", "endEvent": "EXT109"}
"""The rule requiring a message trigger of an event at the end of a message flow."""


def _endpoint_problem(ctx: ModelContext, node: etree._Element, end: str) -> tuple[str, str] | None:
    kind = local(node)
    if kind in ARTIFACTS:
        return ("EXT009" if end == "source" else "EXT008", f"an artifact ({kind})")
    if kind == "participant" or kind in ACTIVITIES:
        return None
    if kind not in SENDERS | RECEIVERS:
        return ("EXT031", f"a {kind} (no interaction node)")
    rule = WRONG_DIRECTION.get((kind, end))
    if rule is not None:
        return (rule, f"a {kind}")
    if "message" in ctx.definition_kinds(node):
        return None
    return (NEEDS_MESSAGE.get(kind, "message-flow-trigger"), f"a {kind} without a message trigger")


def _message_flow_issues(ctx: ModelContext, flow: etree._Element) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    ends: dict[str, etree._Element] = {}
    for end in ("source", "target"):
        node = ctx.target(flow, flow.get(f"{end}Ref"))
        if node is None:
            continue
        ends[end] = node
        problem = _endpoint_problem(ctx, node, end)
        if problem is not None:
            rule, what = problem
            message = f"{what} cannot be the {end} of message flow '{ctx.node_id(flow)}'"
            issues.append(ctx.issue(rule, message, flow))
    if len(ends) == 2 and not issues:
        pools = {id(p) for p in (_pool_of(ctx, n) for n in ends.values()) if p is not None}
        if len(pools) == 1 and all(_pool_of(ctx, n) is not None for n in ends.values()):
            message = f"message flow '{ctx.node_id(flow)}' must connect two different pools"
            issues.append(ctx.issue("EXT031", message, flow))
    return issues


def check_message_flows(ctx: ModelContext) -> list[ValidationIssue]:
    """Message flows connect senders to receivers of different pools.

    Artifacts (EXT008, EXT009), interaction nodes of two pools (EXT031), start events
    (EXT102, EXT103), end events (EXT108, EXT109) and intermediate events (EXT119).
    """
    issues: list[ValidationIssue] = []
    for flow in ctx.bpmn_elements("messageFlow"):
        issues.extend(_message_flow_issues(ctx, flow))
    return issues


def _number(raw: str | None, default: int) -> int:
    try:
        return int((raw or "").strip()) if raw is not None else default
    except ValueError:
        return -1


def check_multiplicities(ctx: ModelContext) -> list[ValidationIssue]:
    """Participant multiplicity bounds are sane (EXT029, EXT030)."""
    issues: list[ValidationIssue] = []
    for multiplicity in ctx.bpmn_elements("participantMultiplicity"):
        minimum = _number(multiplicity.get("minimum"), 0)
        maximum = _number(multiplicity.get("maximum"), 1)
        where = multiplicity.getparent()
        where = where if where is not None else multiplicity
        if minimum < 0:
            issues.append(ctx.issue("EXT029", "the minimum multiplicity cannot be negative", where))
        if maximum < 1 or maximum < minimum:
            message = "the maximum multiplicity must be at least 1 and at least the minimum"
            issues.append(ctx.issue("EXT030", message, where))
    return issues


CONVERSATION_PARTS = frozenset(
    {
        "conversation",
        "subConversation",
        "callConversation",
        "conversationLink",
        "messageFlow",
        "association",
        "group",
        "textAnnotation",
    }
)


def check_global_conversations(ctx: ModelContext) -> list[ValidationIssue]:
    """A global conversation holds only participants and correlation keys (EXT032)."""
    return [
        ctx.issue("EXT032", f"a global conversation cannot contain a {local(part)}", part)
        for conversation in ctx.bpmn_elements("globalConversation")
        for part in children(conversation, *CONVERSATION_PARTS)
    ]


def check_public_processes(ctx: ModelContext) -> list[ValidationIssue]:
    """A public process is not executable (EXT035)."""
    return [
        ctx.issue("EXT035", "a process of processType 'Public' cannot be executable", process)
        for process in ctx.bpmn_elements("process")
        if (process.get("processType") or "").strip() == "Public"
        and flag(process, "isExecutable", False)
    ]


RULES = [
    check_message_flows,
    check_multiplicities,
    check_global_conversations,
    check_public_processes,
]
