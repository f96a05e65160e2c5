"""What this version of the engine can execute, checked when a process is deployed.

A model that uses an element the engine cannot run yet is refused at deployment with an issue
naming the element, rather than deployed and then stuck at run time.
"""

from __future__ import annotations

from legato.errors import SourceLocation, ValidationIssue
from legato.model import (
    BoundaryEvent,
    BusinessRuleTask,
    EndEvent,
    Event,
    EventBasedGateway,
    FlowNode,
    IntermediateCatchEvent,
    LinkEventDefinition,
    ProcessDefinition,
    ReceiveTask,
    StartEvent,
    SubProcess,
    TerminateEventDefinition,
)

_LATER = "is not executable in this version of Legato"


def unsupported(process: ProcessDefinition) -> list[ValidationIssue]:
    """The elements of ``process`` this engine cannot execute, as validation issues."""
    issues = []
    for element in process.elements.values():
        reason = _reason(element)
        if reason is not None:
            location = SourceLocation(process.source_file, element.line, element.element_id)
            issues.append(ValidationIssue("not-executable", f"{reason} {_LATER}", location))
    return issues


def _reason(element: FlowNode) -> str | None:
    if isinstance(element, BoundaryEvent):
        return f"boundary event '{element.element_id}'"
    if isinstance(element, SubProcess) and element.triggered_by_event:
        return f"event sub-process '{element.element_id}'"
    if isinstance(element, EventBasedGateway):
        return f"event-based gateway '{element.element_id}'"
    if isinstance(element, ReceiveTask):
        return f"receive task '{element.element_id}'"
    if isinstance(element, BusinessRuleTask) and element.job_type is None:
        return f"business rule task '{element.element_id}' (DMN decision)"
    if isinstance(element, Event):
        return _event_reason(element)
    return None


def _event_reason(event: Event) -> str | None:
    for definition in event.event_definitions:
        if isinstance(definition, LinkEventDefinition):
            continue
        if isinstance(definition, TerminateEventDefinition) and isinstance(event, EndEvent):
            continue
        kind = type(definition).__name__.removesuffix("EventDefinition").lower()
        role = (
            "start"
            if isinstance(event, StartEvent)
            else "catch"
            if isinstance(event, IntermediateCatchEvent)
            else "throw"
        )
        return f"{kind} {role} event '{event.element_id}'"
    return None
