"""Rules about events: which triggers each kind of event may have, and how they are wired."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    ACTIVITIES,
    ModelContext,
    flag,
    is_event_sub_process,
    local,
    scope_of,
    text_of,
)
from legato.errors import ValidationIssue

TOP_START = frozenset({"message", "timer", "conditional", "signal"})
EVENT_SUB_PROCESS_START = TOP_START | {"error", "escalation", "compensate"}
INTERRUPTING_START_ONLY = frozenset({"error", "compensate"})
END = frozenset({"message", "error", "escalation", "cancel", "compensate", "signal", "terminate"})
CATCH = frozenset({"message", "timer", "conditional", "link", "signal"})
THROW = frozenset({"message", "escalation", "link", "compensate", "signal"})
BOUNDARY = frozenset(
    {"message", "timer", "escalation", "error", "cancel", "compensate", "conditional", "signal"}
)
INTERRUPTING_ONLY = frozenset({"error", "cancel", "compensate"})


def _bad_kinds(kinds: list[str], allowed: frozenset[str]) -> list[str]:
    return sorted({k for k in kinds if k not in allowed})


def _event_sub_process_start_issue(
    ctx: ModelContext, event: etree._Element
) -> ValidationIssue | None:
    """EXT059: the triggers an event sub-process may start on.

    The catalogue's list omits the timer, which the specification's table of event
    sub-process start events includes and real models use; it is accepted.
    """
    kinds = ctx.definition_kinds(event)
    event_id = ctx.node_id(event)
    if not kinds:
        message = f"the start event '{event_id}' of an event sub-process needs a trigger"
        return ctx.issue("EXT059", message, event)
    bad = _bad_kinds(kinds, EVENT_SUB_PROCESS_START)
    if not bad and not flag(event, "isInterrupting", True):
        bad = sorted(INTERRUPTING_START_ONLY.intersection(kinds))
        if bad:
            message = f"the non-interrupting start event '{event_id}' cannot have a {'/'.join(bad)}"
            return ctx.issue("EXT059", f"{message} trigger", event)
    if not bad:
        return None
    message = f"the start event '{event_id}' of an event sub-process cannot have a {'/'.join(bad)}"
    return ctx.issue("EXT059", f"{message} trigger", event)


def _start_issues(ctx: ModelContext, event: etree._Element) -> list[ValidationIssue]:
    scope = scope_of(event)
    if scope is not None and is_event_sub_process(scope):
        found = _event_sub_process_start_issue(ctx, event)
        return [found] if found is not None else []
    kinds = ctx.definition_kinds(event)
    if scope is not None and local(scope) != "process":
        bad, rule, where = sorted(set(kinds)), "EXT100", "a sub-process"
    else:
        bad, rule, where = _bad_kinds(kinds, TOP_START), "EXT098", "a process"
    if not bad:
        return []
    message = f"the start event '{ctx.node_id(event)}' of {where} cannot have a {'/'.join(bad)}"
    return [ctx.issue(rule, f"{message} trigger", event)]


def check_start_events(ctx: ModelContext) -> list[ValidationIssue]:
    """Start event triggers by context (EXT059, EXT098, EXT100)."""
    issues: list[ValidationIssue] = []
    for event in ctx.bpmn_elements("startEvent"):
        issues.extend(_start_issues(ctx, event))
    return issues


def _trigger_issue(
    ctx: ModelContext, event: etree._Element, allowed: frozenset[str], rule: str
) -> ValidationIssue | None:
    bad = _bad_kinds(ctx.definition_kinds(event), allowed)
    if not bad:
        return None
    message = f"a {local(event)} cannot have a {'/'.join(bad)} trigger"
    return ctx.issue(rule, message, event)


def check_end_and_intermediate_events(ctx: ModelContext) -> list[ValidationIssue]:
    """End (EXT146), intermediate catch (EXT122, EXT148) and throw (EXT149) event triggers."""
    issues: list[ValidationIssue] = []
    table = {
        "endEvent": (END, "EXT146"),
        "intermediateThrowEvent": (THROW, "EXT149"),
        "intermediateCatchEvent": (CATCH, "EXT148"),
    }
    for event in ctx.bpmn_elements(*table):
        allowed, rule = table[local(event)]
        if rule == "EXT148" and _bad_kinds(ctx.definition_kinds(event), CATCH) == ["compensate"]:
            rule = "EXT122"
        found = _trigger_issue(ctx, event, allowed, rule)
        if found is not None:
            issues.append(found)
        elif local(event) == "intermediateCatchEvent" and not ctx.definition_kinds(event):
            message = "an intermediate catch event needs a trigger"
            issues.append(ctx.issue("catch-event-trigger", message, event))
    return issues


def _boundary_issues(ctx: ModelContext, event: etree._Element) -> list[ValidationIssue]:
    kinds = ctx.definition_kinds(event)
    event_id = ctx.node_id(event)
    if not kinds:
        return [ctx.issue("EXT110", f"the boundary event '{event_id}' needs a trigger", event)]
    bad = _bad_kinds(kinds, BOUNDARY)
    if bad:
        message = f"a boundary event cannot have a {'/'.join(bad)} trigger"
        return [ctx.issue("EXT110", message, event)]
    strict = sorted(INTERRUPTING_ONLY.intersection(kinds))
    if strict and not flag(event, "cancelActivity", True):
        message = f"a {'/'.join(strict)} boundary event must interrupt (cancelActivity='true')"
        return [ctx.issue("EXT110", message, event)]
    if "cancel" in kinds and not _attached_to_transaction(ctx, event):
        message = f"the cancel boundary event '{event_id}' must be attached to a transaction"
        return [ctx.issue("EXT111", message, event)]
    return _boundary_flow_issues(ctx, event, kinds)


def _attached_to_transaction(ctx: ModelContext, event: etree._Element) -> bool:
    activity = ctx.target(event, event.get("attachedToRef"))
    return activity is None or local(activity) == "transaction"


def _boundary_flow_issues(
    ctx: ModelContext, event: etree._Element, kinds: list[str]
) -> list[ValidationIssue]:
    event_id = ctx.node_id(event)
    if "compensate" in kinds:
        return _compensation_handler_issues(ctx, event)
    if not ctx.outgoing(event):
        message = f"the boundary event '{event_id}' needs an outgoing sequence flow"
        return [ctx.issue("EXT113", message, event)]
    return []


def _compensation_handler_issues(ctx: ModelContext, event: etree._Element) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    handlers = []
    for association in ctx.bpmn_elements("association"):
        ends = [ctx.target(association, association.get(e)) for e in ("sourceRef", "targetRef")]
        if event not in ends:
            continue
        handler = ends[1] if ends[0] is event else ends[0]
        if handler is None or local(handler) not in ACTIVITIES:
            continue
        handlers.append(handler)
        if not flag(handler, "isForCompensation", False):
            message = (
                f"the compensation handler '{ctx.node_id(handler)}' must be marked "
                "isForCompensation='true'"
            )
            issues.append(ctx.issue("EXT144", message, handler))
    if not handlers:
        message = (
            f"the compensation boundary event '{ctx.node_id(event)}' needs an association "
            "to its compensation activity"
        )
        issues.append(ctx.issue("EXT143", message, event))
    return issues


def check_boundary_events(ctx: ModelContext) -> list[ValidationIssue]:
    """Boundary triggers (EXT110, EXT111), flows (EXT113, EXT114), handlers (EXT143, EXT144)."""
    issues: list[ValidationIssue] = []
    for event in ctx.bpmn_elements("boundaryEvent"):
        issues.extend(_boundary_issues(ctx, event))
    return issues


def check_intermediate_outgoing(ctx: ModelContext) -> list[ValidationIssue]:
    """Intermediate events in the normal flow continue it (EXT116)."""
    issues: list[ValidationIssue] = []
    for event in ctx.bpmn_elements("intermediateThrowEvent", "intermediateCatchEvent"):
        kinds = ctx.definition_kinds(event)
        if local(event) == "intermediateThrowEvent" and "link" in kinds:
            continue
        if not ctx.outgoing(event):
            message = f"the intermediate event '{ctx.node_id(event)}' needs an outgoing flow"
            issues.append(ctx.issue("EXT116", message, event))
    return issues


def check_event_definition_refs(ctx: ModelContext) -> list[ValidationIssue]:
    """``eventDefinitionRef`` names a top-level event definition (EXT095)."""
    issues: list[ValidationIssue] = []
    for ref in ctx.bpmn_elements("eventDefinitionRef"):
        target = ctx.target(ref, text_of(ref))
        if target is not None and target.getparent() is not ctx.root:
            message = "eventDefinitionRef must name an event definition defined at the top level"
            event = ref.getparent()
            issues.append(ctx.issue("EXT095", message, event if event is not None else ref))
    return issues


RULES = [
    check_start_events,
    check_end_and_intermediate_events,
    check_boundary_events,
    check_intermediate_outgoing,
    check_event_definition_refs,
]
