"""Rules about the payload side of events: messages, conditions and event data."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    EVENTS,
    ModelContext,
    child,
    children,
    is_formal,
    local,
    text_of,
)
from legato.bpmn.rules.expressions import reads_as_prose
from legato.bpmn.rules.items import item_of, same_item
from legato.errors import ValidationIssue


def _message_issue(ctx: ModelContext, definition: etree._Element) -> ValidationIssue | None:
    owner = definition.getparent()
    where = owner if owner is not None and local(owner) in EVENTS else definition
    message_ref = (definition.get("messageRef") or "").strip()
    has_operation = child(definition, "operationRef") is not None
    if not message_ref:
        text = "a message event of an executable process must name its message (messageRef)"
        return ctx.issue("EXT127", text, where)
    message = ctx.target(definition, message_ref)
    if message is not None and item_of(ctx, message) is not None and not has_operation:
        text = (
            f"the message '{message_ref}' carries a typed payload, so its event in an "
            "executable process must name the operation (operationRef)"
        )
        return ctx.issue("EXT128", text, where)
    return None


def check_message_definitions(ctx: ModelContext) -> list[ValidationIssue]:
    """Message events of executable processes name message and operation (EXT127, EXT128).

    EXT128 is asked of messages that carry a typed payload (an ``itemRef``): without one, an
    operation has nothing to describe.
    """
    issues: list[ValidationIssue] = []
    for definition in ctx.bpmn_elements("messageEventDefinition"):
        if ctx.process_of(definition) is None or not ctx.is_executable(definition):
            continue
        found = _message_issue(ctx, definition)
        if found is not None:
            issues.append(found)
    for task in ctx.bpmn_elements("sendTask", "receiveTask"):
        if ctx.is_executable(task) and not (task.get("messageRef") or "").strip():
            text = f"the {local(task)} '{ctx.node_id(task)}' must name its message (messageRef)"
            issues.append(ctx.issue("EXT127", text, task))
    return issues


def check_escalation_codes(ctx: ModelContext) -> list[ValidationIssue]:
    """A thrown escalation of an executable process has an escalationCode (EXT011)."""
    issues: list[ValidationIssue] = []
    for event in ctx.bpmn_elements("endEvent", "intermediateThrowEvent"):
        for definition in ctx.event_definitions(event):
            if local(definition) != "escalationEventDefinition" or not ctx.is_executable(event):
                continue
            escalation = ctx.target(definition, definition.get("escalationRef"))
            if escalation is None or not (escalation.get("escalationCode") or "").strip():
                message = f"the escalation thrown by '{ctx.node_id(event)}' needs an escalationCode"
                issues.append(ctx.issue("EXT011", message, event))
    return issues


def check_conditions(ctx: ModelContext) -> list[ValidationIssue]:
    """Conditional events of executable processes have a formal condition (EXT123)."""
    issues: list[ValidationIssue] = []
    for definition in ctx.bpmn_elements("conditionalEventDefinition"):
        if not ctx.is_executable(definition):
            continue
        condition = child(definition, "condition")
        owner = definition.getparent()
        where = owner if owner is not None else definition
        if condition is None or not text_of(condition):
            issues.append(ctx.issue("EXT123", "a conditional event needs a condition", where))
        elif not is_formal(condition) and reads_as_prose(text_of(condition)):
            message = "the condition of a conditional event must be a formal expression"
            issues.append(ctx.issue("EXT123", message, where))
    return issues


def _event_data(event: etree._Element) -> list[etree._Element]:
    return children(event, "dataInput", "dataOutput")


def _payload_items(ctx: ModelContext, event: etree._Element) -> list[etree._Element]:
    """The items the event's definitions carry (message, signal, error, escalation)."""
    attributes = {
        "messageEventDefinition": "messageRef",
        "signalEventDefinition": "signalRef",
        "errorEventDefinition": "errorRef",
        "escalationEventDefinition": "escalationRef",
    }
    items = []
    for definition in ctx.event_definitions(event):
        attribute = attributes.get(local(definition))
        payload = ctx.target(definition, definition.get(attribute)) if attribute else None
        item = item_of(ctx, payload) if payload is not None else None
        if item is not None:
            items.append(item)
    return items


def _event_data_issue(ctx: ModelContext, event: etree._Element) -> ValidationIssue | None:
    data = _event_data(event)
    definitions = ctx.event_definitions(event)
    if definitions and len(data) != len(definitions):
        message = (
            f"the event has {len(data)} data inputs/outputs for {len(definitions)} "
            "event definitions: each definition needs its own"
        )
        return ctx.issue("EXT093", message, event)
    payloads = _payload_items(ctx, event)
    data_items = [item_of(ctx, d) for d in data]
    unmatched = [p for p in payloads if not any(same_item(p, d) for d in data_items)]
    if not unmatched:
        return None
    names = ", ".join(ctx.node_id(p) for p in unmatched)
    message = f"the data inputs/outputs of the event do not match the payload type {names}"
    return ctx.issue("EXT094", message, event)


def check_event_data(ctx: ModelContext) -> list[ValidationIssue]:
    """Event data inputs/outputs match the items of its triggers (EXT093, EXT094)."""
    issues: list[ValidationIssue] = []
    for event in ctx.bpmn_elements(*EVENTS):
        if _event_data(event):
            found = _event_data_issue(ctx, event)
            if found is not None:
                issues.append(found)
    return issues


RULES = [check_message_definitions, check_escalation_codes, check_conditions, check_event_data]
