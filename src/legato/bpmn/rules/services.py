"""Rules about tasks bound to messages and operations: service, send and receive tasks."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from legato.bpmn.rules.context import ModelContext, child, children, local, text_of
from legato.bpmn.rules.items import item_of, same_item
from legato.errors import ValidationIssue


def _message(ctx: ModelContext, operation: etree._Element, name: str) -> etree._Element | None:
    ref = child(operation, name)
    return ctx.target(ref, text_of(ref)) if ref is not None else None


def _spec_parts(task: etree._Element, name: str) -> list[etree._Element]:
    spec = child(task, "ioSpecification")
    return children(spec, name) if spec is not None else []


@dataclass(frozen=True, slots=True)
class DataRules:
    """The rules a task's data break, for one direction of one kind of task."""

    direction: str
    """``in`` (data inputs, input sets) or ``out``."""
    sets: str
    """Too many sets."""
    count: str
    """More than one data input (output)."""
    item: str
    """The data input (output) does not carry the message's item."""


SERVICE_IN = DataRules("in", "EXT042", "EXT044", "EXT044")
SERVICE_OUT = DataRules("out", "EXT043", "EXT045", "EXT045")
SEND = DataRules("in", "EXT046", "EXT047", "EXT048")
RECEIVE = DataRules("out", "EXT050", "EXT051", "EXT052")


def _data_issue(
    ctx: ModelContext, task: etree._Element, message: etree._Element, rules: DataRules
) -> list[ValidationIssue]:
    """The task has at most one set and data input (output), carrying the message's item."""
    data_name, set_name = (
        ("dataInput", "inputSet") if rules.direction == "in" else ("dataOutput", "outputSet")
    )
    data, sets = _spec_parts(task, data_name), _spec_parts(task, set_name)
    message_id = ctx.node_id(message)
    if len(sets) > 1:
        return [ctx.issue(rules.sets, f"the task may have at most one {set_name}", task)]
    if len(data) > 1:
        text = f"the task may have only one {data_name}, for message '{message_id}'"
        return [ctx.issue(rules.count, text, task)]
    item = item_of(ctx, message)
    if (data or item is not None) and not same_item(item_of(ctx, data[0]) if data else None, item):
        text = f"the task's {data_name} does not carry the item of message '{message_id}'"
        return [ctx.issue(rules.item, text, task)]
    return []


def _service_issues(
    ctx: ModelContext, task: etree._Element, operation: etree._Element
) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    input_sets = len(_spec_parts(task, "inputSet"))
    if input_sets != 1:
        text = f"a service task with an operation needs exactly one inputSet, not {input_sets}"
        issues.append(ctx.issue("EXT042", text, task))
    if len(_spec_parts(task, "outputSet")) > 1:
        issues.append(ctx.issue("EXT043", "the task may have at most one outputSet", task))
    if issues:
        return issues
    incoming = _message(ctx, operation, "inMessageRef")
    outgoing = _message(ctx, operation, "outMessageRef")
    if incoming is not None:
        issues.extend(_data_issue(ctx, task, incoming, SERVICE_IN))
    if outgoing is not None:
        issues.extend(_data_issue(ctx, task, outgoing, SERVICE_OUT))
    return issues


def check_service_tasks(ctx: ModelContext) -> list[ValidationIssue]:
    """A service task's data match its operation's messages (EXT042-EXT045)."""
    issues: list[ValidationIssue] = []
    for task in ctx.bpmn_elements("serviceTask"):
        operation = ctx.target(task, task.get("operationRef"))
        if operation is not None and local(operation) == "operation" and ctx.is_executable(task):
            issues.extend(_service_issues(ctx, task, operation))
    return issues


def check_message_tasks(ctx: ModelContext) -> list[ValidationIssue]:
    """Send (EXT046-EXT048) and receive (EXT050-EXT052) task data match their message."""
    issues: list[ValidationIssue] = []
    for kind, rules in (("sendTask", SEND), ("receiveTask", RECEIVE)):
        for task in ctx.bpmn_elements(kind):
            message = ctx.target(task, task.get("messageRef"))
            if message is None or not ctx.is_executable(task):
                continue
            if child(task, "ioSpecification") is not None:
                issues.extend(_data_issue(ctx, task, message, rules))
    return issues


RULES = [check_service_tasks, check_message_tasks]
