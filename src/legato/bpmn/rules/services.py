"""Rules about tasks bound to messages and operations: service, send and receive tasks."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import ModelContext, child, children, text_of
from legato.bpmn.rules.items import item_of, same_item
from legato.errors import ValidationIssue


def _message(ctx: ModelContext, operation: etree._Element, name: str) -> etree._Element | None:
    ref = child(operation, name)
    return ctx.target(ref, text_of(ref)) if ref is not None else None


def _spec_parts(task: etree._Element, name: str) -> list[etree._Element]:
    spec = child(task, "ioSpecification")
    return children(spec, name) if spec is not None else []


def _data_issue(
    ctx: ModelContext,
    task: etree._Element,
    message: etree._Element | None,
    direction: str,
    rules: tuple[str, str, str],
) -> list[ValidationIssue]:
    """The task has one data input (output) whose item is the message's item."""
    if message is None:
        return []
    data_name, set_name = (
        ("dataInput", "inputSet") if direction == "in" else ("dataOutput", "outputSet")
    )
    count_rule, set_rule, item_rule = rules
    data, sets = _spec_parts(task, data_name), _spec_parts(task, set_name)
    if len(sets) > 1:
        return [ctx.issue(set_rule, f"the task may have at most one {set_name}", task)]
    if len(data) != 1:
        text = f"the task needs exactly one {data_name} for message '{ctx.node_id(message)}'"
        return [ctx.issue(count_rule, text, task)]
    if not same_item(item_of(ctx, data[0]), item_of(ctx, message)):
        text = f"the {data_name} does not carry the item of message '{ctx.node_id(message)}'"
        return [ctx.issue(item_rule, text, task)]
    return []


def check_service_tasks(ctx: ModelContext) -> list[ValidationIssue]:
    """A service task's data match its operation's messages (EXT042-EXT045)."""
    issues: list[ValidationIssue] = []
    for task in ctx.bpmn_elements("serviceTask"):
        operation = ctx.target(task, task.get("operationRef"))
        if operation is None:
            continue
        incoming = _message(ctx, operation, "inMessageRef")
        outgoing = _message(ctx, operation, "outMessageRef")
        issues.extend(_data_issue(ctx, task, incoming, "in", ("EXT042", "EXT042", "EXT044")))
        issues.extend(_data_issue(ctx, task, outgoing, "out", ("EXT043", "EXT043", "EXT045")))
    return issues


def check_message_tasks(ctx: ModelContext) -> list[ValidationIssue]:
    """Send (EXT047, EXT048) and receive (EXT050, EXT052) task data match their message."""
    issues: list[ValidationIssue] = []
    for task in ctx.bpmn_elements("sendTask"):
        message = ctx.target(task, task.get("messageRef"))
        if message is not None and child(task, "ioSpecification") is not None:
            issues.extend(_data_issue(ctx, task, message, "in", ("EXT047", "EXT047", "EXT048")))
    for task in ctx.bpmn_elements("receiveTask"):
        message = ctx.target(task, task.get("messageRef"))
        if message is not None and child(task, "ioSpecification") is not None:
            issues.extend(_data_issue(ctx, task, message, "out", ("EXT050", "EXT050", "EXT052")))
    return issues


RULES = [check_service_tasks, check_message_tasks]
