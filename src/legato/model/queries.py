"""Questions about a process model that the engine and the runtime ask: pure, no state.

What an event waits for, whether it interrupts its owner, which start events an event
sub-process has, which sub-process handles compensation: the answers depend only on the
model, so they live beside it.
"""

from __future__ import annotations

from legato.model.elements import (
    Activity,
    BoundaryEvent,
    CompensateEventDefinition,
    ComplexGateway,
    ConditionalEventDefinition,
    Event,
    EventDefinition,
    FlowNode,
    InclusiveGateway,
    MessageEventDefinition,
    ParallelGateway,
    ReceiveTask,
    SignalEventDefinition,
    StartEvent,
    SubProcess,
    TimerEventDefinition,
)
from legato.model.process import ProcessDefinition

WAITABLE = (
    TimerEventDefinition,
    MessageEventDefinition,
    SignalEventDefinition,
    ConditionalEventDefinition,
)
"""The event definitions an element instance can wait for."""


def definition_of(element: FlowNode) -> EventDefinition | None:
    """The (first) event definition of an event, or a receive task's message."""
    if isinstance(element, ReceiveTask):
        return element.message
    if isinstance(element, Event) and element.event_definitions:
        return element.event_definitions[0]
    return None


def is_interrupting(element: FlowNode) -> bool:
    """Whether triggering ``element`` ends what its owner was doing."""
    if isinstance(element, BoundaryEvent):
        return element.cancel_activity
    if isinstance(element, StartEvent):
        return element.is_interrupting
    return True


def is_parallel_multiple(element: FlowNode) -> bool:
    """Whether ``element`` is a parallel multiple event: every one of its definitions must
    occur (once each, in any order) before it is triggered."""
    if not isinstance(element, Event):
        return False
    return element.parallel_multiple and len(element.event_definitions) > 1


def waits_for_something(element: FlowNode) -> bool:
    """Whether the event is triggered by a timer, message, signal or condition."""
    if isinstance(element, Event):
        return any(isinstance(d, WAITABLE) for d in element.event_definitions)
    return isinstance(definition_of(element), WAITABLE)


def joins(element: FlowNode) -> bool:
    """Whether tokens arriving at ``element`` wait for each other before it is entered."""
    if isinstance(element, (ParallelGateway, InclusiveGateway, ComplexGateway)):
        return len(element.incoming) > 1
    return isinstance(element, Activity) and element.start_quantity > 1


def event_sub_processes(process: ProcessDefinition, scope_id: str) -> list[SubProcess]:
    """The event sub-processes directly inside the scope ``scope_id``."""
    found = []
    for child_id in process.children.get(scope_id, ()):
        child = process.element(child_id)
        if isinstance(child, SubProcess) and child.triggered_by_event:
            found.append(child)
    return found


def start_events(process: ProcessDefinition, scope_id: str) -> list[StartEvent]:
    """The start events directly inside the scope ``scope_id``."""
    found = []
    for child_id in process.children.get(scope_id, ()):
        child = process.element(child_id)
        if isinstance(child, StartEvent):
            found.append(child)
    return found


def event_sub_process_starts(process: ProcessDefinition, scope_id: str) -> list[StartEvent]:
    """The start events of the event sub-processes directly inside ``scope_id``."""
    return [
        start
        for sub_process in event_sub_processes(process, scope_id)
        for start in start_events(process, sub_process.element_id)
    ]


def compensation_start(process: ProcessDefinition, sub_process_id: str) -> StartEvent | None:
    """The compensation start event of an event sub-process, if it has one."""
    for start in start_events(process, sub_process_id):
        if isinstance(definition_of(start), CompensateEventDefinition):
            return start
    return None


def compensation_sub_process(process: ProcessDefinition, scope_id: str) -> SubProcess | None:
    """The event sub-process of the sub-process ``scope_id`` that a compensation start event
    starts, if any."""
    for sub_process in event_sub_processes(process, scope_id):
        if compensation_start(process, sub_process.element_id) is not None:
            return sub_process
    return None


__all__ = [
    "WAITABLE",
    "compensation_start",
    "compensation_sub_process",
    "definition_of",
    "event_sub_process_starts",
    "event_sub_processes",
    "is_interrupting",
    "is_parallel_multiple",
    "joins",
    "start_events",
    "waits_for_something",
]
