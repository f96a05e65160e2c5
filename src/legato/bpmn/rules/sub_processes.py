"""Rules about sub-processes: event sub-processes, ad-hoc sub-processes and transactions."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    CHOREOGRAPHY_ACTIVITIES,
    SUB_PROCESSES,
    ModelContext,
    child,
    children,
    is_event_sub_process,
    local,
    scope_of,
)
from legato.errors import ValidationIssue


def _event_sub_process_issues(ctx: ModelContext, sub: etree._Element) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    sub_id = ctx.node_id(sub)
    if ctx.incoming(sub) or ctx.outgoing(sub):
        message = f"the event sub-process '{sub_id}' cannot have incoming or outgoing flows"
        issues.append(ctx.issue("EXT057", message, sub))
    starts = children(sub, "startEvent")
    if len(starts) != 1:
        message = (
            f"the event sub-process '{sub_id}' needs exactly one start event, not {len(starts)}"
        )
        issues.append(ctx.issue("EXT058", message, sub))
    return issues


def check_event_sub_processes(ctx: ModelContext) -> list[ValidationIssue]:
    """An event sub-process is unconnected (EXT057) and has one start event (EXT058)."""
    issues: list[ValidationIssue] = []
    for sub in ctx.bpmn_elements(*SUB_PROCESSES):
        if is_event_sub_process(sub):
            issues.extend(_event_sub_process_issues(ctx, sub))
    return issues


AD_HOC_FORBIDDEN = frozenset(
    {"startEvent", "endEvent", "conversation", "subConversation", "callConversation"}
    | {"conversationLink"}
    | CHOREOGRAPHY_ACTIVITIES
)


def check_ad_hoc_contents(ctx: ModelContext) -> list[ValidationIssue]:
    """No start or end events, conversations or choreography in an ad-hoc sub-process (EXT062)."""
    return [
        ctx.issue(
            "EXT062",
            f"a {local(part)} cannot be used in the ad-hoc sub-process '{ctx.node_id(sub)}'",
            part,
        )
        for sub in ctx.bpmn_elements("adHocSubProcess")
        for part in children(sub, *AD_HOC_FORBIDDEN)
    ]


def check_sub_process_io(ctx: ModelContext) -> list[ValidationIssue]:
    """A sub-process has no input/output specification of its own (EXT079)."""
    return [
        ctx.issue(
            "EXT079",
            f"the sub-process '{ctx.node_id(sub)}' cannot have an ioSpecification",
            sub,
        )
        for sub in ctx.bpmn_elements(*SUB_PROCESSES)
        if child(sub, "ioSpecification") is not None
    ]


def check_cancel_end_events(ctx: ModelContext) -> list[ValidationIssue]:
    """A cancel end event lies directly in a transaction (EXT106)."""
    issues: list[ValidationIssue] = []
    for event in ctx.bpmn_elements("endEvent"):
        if "cancel" not in ctx.definition_kinds(event):
            continue
        scope = scope_of(event)
        if scope is None or local(scope) != "transaction":
            message = f"the cancel end event '{ctx.node_id(event)}' must lie in a transaction"
            issues.append(ctx.issue("EXT106", message, event))
    return issues


RULES = [
    check_event_sub_processes,
    check_ad_hoc_contents,
    check_sub_process_io,
    check_cancel_end_events,
]
