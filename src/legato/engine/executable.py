"""What this version of the engine can execute, checked when a process is deployed.

A model that uses an element the engine cannot run yet is refused at deployment with an issue
naming the element, rather than deployed and then stuck at run time. Static timer expressions
are read here too, so an unreadable duration or cron expression is refused with its element.
"""

from __future__ import annotations

from datetime import UTC, datetime

from legato.engine import timers
from legato.engine.processors.multi_instance import THROWABLE
from legato.errors import SourceLocation, ValidationIssue
from legato.model import (
    Activity,
    BoundaryEvent,
    BusinessRuleTask,
    CancelEventDefinition,
    CompensateEventDefinition,
    ConditionalEventDefinition,
    EndEvent,
    EscalationEventDefinition,
    Event,
    FlowNode,
    MessageEventDefinition,
    MultiInstanceLoop,
    ProcessDefinition,
    ReceiveTask,
    SignalEventDefinition,
    StartEvent,
    SubProcess,
    TimerEventDefinition,
    Transaction,
)
from legato.model.queries import WAITABLE

_LATER = "is not executable in this version of Legato"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def unsupported(process: ProcessDefinition) -> list[ValidationIssue]:
    """The elements of ``process`` this engine cannot execute, as validation issues."""
    issues = []
    for element in process.elements.values():
        location = SourceLocation(process.source_file, element.line, element.element_id)
        reason = _reason(process, element)
        if reason is not None:
            issues.append(ValidationIssue("not-executable", f"{reason} {_LATER}", location))
        problem = _timer_problem(element)
        if problem is not None:
            issues.append(ValidationIssue("timer", problem, location))
    return issues


def _reason(process: ProcessDefinition, element: FlowNode) -> str | None:
    if isinstance(element, Activity) and isinstance(element.loop, MultiInstanceLoop):
        loop = element.loop
        thrown = [
            loop.none_behavior_event,
            loop.one_behavior_event,
            *(d for b in loop.complex_behaviors for d in b.event_definitions),
        ]
        if any(d is not None and not isinstance(d, THROWABLE) for d in thrown):
            return (
                f"multi-instance behavior of '{element.element_id}' throwing an event that is "
                "not a signal, escalation, message or error"
            )
    if (
        isinstance(element, BusinessRuleTask)
        and element.job_type is None
        and not element.decision_id
    ):
        return f"business rule task '{element.element_id}' without a decision or a job"
    # EXT.049: an instantiating receive task has no incoming sequence flow.
    if (
        isinstance(element, ReceiveTask)
        and element.instantiate
        and (element.scope_id != process.process_id or element.incoming)
    ):
        return (
            f"receive task '{element.element_id}' with instantiate=\"true\" inside a "
            "sub-process or with an incoming sequence flow"
        )
    if not isinstance(element, Event):
        return None
    definitions = element.event_definitions
    if len(definitions) > 1 and element.parallel_multiple:
        if isinstance(element, StartEvent) and element.scope_id == process.process_id:
            # Its events would have to be gathered before there is an instance to hold them.
            return f"parallel multiple start event '{element.element_id}' of a process"
        if not all(isinstance(d, WAITABLE) for d in definitions):
            return (
                f"parallel multiple event '{element.element_id}' with events other than "
                "timers, messages, signals and conditions"
            )
    if len(definitions) > 1 and not all(
        isinstance(
            d,
            (
                TimerEventDefinition,
                MessageEventDefinition,
                SignalEventDefinition,
                ConditionalEventDefinition,
                EscalationEventDefinition,
            ),
        )
        for d in definitions
    ):
        return f"event '{element.element_id}' with several event definitions of these kinds"
    if definitions and isinstance(definitions[0], CancelEventDefinition):
        scope = process.elements.get(element.scope_id)
        if isinstance(element, EndEvent) and not (
            isinstance(scope, Transaction)
            and any(
                isinstance(b, BoundaryEvent) and _is_cancel(b)
                for b in (process.elements[i] for i in scope.boundary_events)
            )
        ):
            return (
                f"cancel end event '{element.element_id}' outside a transaction with a cancel "
                "boundary event"
            )
    compensates = bool(definitions) and isinstance(definitions[0], CompensateEventDefinition)
    if compensates and isinstance(element, BoundaryEvent) and not element.compensation_handler:
        return f"compensation boundary event '{element.element_id}' without a handler"
    top_level = element.scope_id == process.process_id
    scope = process.elements.get(element.scope_id)
    in_event_sub_process = isinstance(scope, SubProcess) and scope.triggered_by_event
    if (
        isinstance(element, StartEvent)
        and not top_level
        and definitions
        and not in_event_sub_process
    ):
        return f"start event '{element.element_id}' with a trigger inside a sub-process"
    if isinstance(element, BoundaryEvent) and element.attached_to not in process.elements:
        return f"boundary event '{element.element_id}' attached to nothing"
    return None


def _is_cancel(event: BoundaryEvent) -> bool:
    return any(isinstance(d, CancelEventDefinition) for d in event.event_definitions)


def _timer_problem(element: FlowNode) -> str | None:
    if not isinstance(element, Event):
        return None
    for definition in element.event_definitions:
        if not isinstance(definition, TimerEventDefinition):
            continue
        try:
            if definition.time_date is not None and definition.time_date.is_static:
                timers.at_date(definition.time_date.constant)
            elif definition.time_duration is not None and definition.time_duration.is_static:
                timers.after_duration(definition.time_duration.constant, _EPOCH)
            elif definition.time_cycle is not None and definition.time_cycle.is_static:
                timers.cycle(definition.time_cycle.constant, _EPOCH)
        except timers.TimerError as exc:
            return f"timer '{element.element_id}': {exc}"
    return None
