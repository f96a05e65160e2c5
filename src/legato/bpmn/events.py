"""Event definitions: timers, messages, signals, errors, escalations and the rest."""

from __future__ import annotations

from collections.abc import Callable

from legato.bpmn._context import ReadContext, reference_name
from legato.bpmn._dom import (
    CAMUNDA_NS,
    ZEEBE_NS,
    Element,
    attribute,
    bpmn_child,
    bpmn_children,
    bpmn_name,
    extension,
    flag,
    text_of,
)
from legato.model.elements import (
    CancelEventDefinition,
    CompensateEventDefinition,
    ConditionalEventDefinition,
    ErrorEventDefinition,
    EscalationEventDefinition,
    EventDefinition,
    LinkEventDefinition,
    MessageEventDefinition,
    SignalEventDefinition,
    TerminateEventDefinition,
    TimerEventDefinition,
)

__all__ = ["event_definition_by_ref", "message_definition", "read_event_definitions"]

_Reader = Callable[[ReadContext, Element, Element], EventDefinition | None]


def read_event_definitions(context: ReadContext, event: Element) -> tuple[EventDefinition, ...]:
    """The event definitions of an event, inline or by ``eventDefinitionRef``, in order."""
    result: list[EventDefinition] = []
    for child in bpmn_children(event):
        name = bpmn_name(child)
        if name == "eventDefinitionRef":
            reference = text_of(child)
            target = context.index.lookup(context.index.event_definitions, reference)
            if target is None:
                context.problem(
                    "event-definition-ref", f"no event definition with id {reference!r}", event
                )
                continue
            child, name = target, bpmn_name(target)
        reader = _READERS.get(name or "")
        if reader is None:
            if name and name.endswith("EventDefinition"):
                context.problem("unsupported-event", f"{name} is not supported", event)
            continue
        definition = reader(context, child, event)
        if definition is not None:
            result.append(definition)
    return tuple(result)


def event_definition_by_ref(
    context: ReadContext, reference: str | None, owner: Element, what: str
) -> EventDefinition | None:
    """The top-level event definition with id ``reference`` (None, with a problem naming
    ``what``, when there is none)."""
    if reference is None:
        return None
    target = context.index.lookup(context.index.event_definitions, reference)
    reader = _READERS.get(bpmn_name(target) or "") if target is not None else None
    if target is None or reader is None:
        context.problem("event-definition-ref", f"{what}: no event definition {reference!r}", owner)
        return None
    return reader(context, target, owner)


def message_definition(
    context: ReadContext, message_ref: str | None, owner: Element
) -> MessageEventDefinition:
    """A message by reference, with the correlation key of its ``zeebe:subscription``."""
    message = context.index.lookup(context.index.messages, message_ref)
    correlation = None
    if message is not None:
        subscription = extension(message, ZEEBE_NS, "subscription")
        if subscription is not None:
            correlation = context.value(
                subscription.get("correlationKey"), owner, "correlation key"
            )
    return MessageEventDefinition(reference_name(message, message_ref), correlation)


def _timer(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    """A timer; without a date, duration or cycle it is kept (as drawn) but is a problem."""
    values = {
        name: context.value(text_of(bpmn_child(definition, name)), event, f"timer {name}")
        for name in ("timeDate", "timeDuration", "timeCycle")
        if text_of(bpmn_child(definition, name)) is not None
    }
    if not values:
        context.problem("timer-definition", "the timer has no date, duration or cycle", event)
    elif len(values) > 1:
        context.problem(
            "timer-definition", "the timer has more than one of date, duration and cycle", event
        )
    return TimerEventDefinition(
        time_date=values.get("timeDate"),
        time_duration=values.get("timeDuration"),
        time_cycle=values.get("timeCycle"),
    )


def _message(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    return message_definition(context, attribute(definition, "messageRef"), event)


def _signal(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    reference = attribute(definition, "signalRef")
    signal = context.index.lookup(context.index.signals, reference)
    return SignalEventDefinition(reference_name(signal, reference))


def _error(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    """The error's code; an error without a code is known by its name (or the reference)."""
    reference = attribute(definition, "errorRef")
    error = context.index.lookup(context.index.errors, reference)
    code = attribute(error, "errorCode") if error is not None else None
    name = attribute(error, "name") if error is not None else None
    return ErrorEventDefinition(
        error_code=code or name or (reference if error is None else None),
        error_name=name,
        code_variable=attribute(definition, "errorCodeVariable", CAMUNDA_NS),
        message_variable=attribute(definition, "errorMessageVariable", CAMUNDA_NS),
    )


def _escalation(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    reference = attribute(definition, "escalationRef")
    escalation = context.index.lookup(context.index.escalations, reference)
    code = attribute(escalation, "escalationCode") if escalation is not None else None
    name = attribute(escalation, "name") if escalation is not None else None
    return EscalationEventDefinition(
        escalation_code=code or name or (reference if escalation is None else None),
        escalation_name=name,
        code_variable=attribute(definition, "escalationCodeVariable", CAMUNDA_NS),
    )


def _terminate(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    return TerminateEventDefinition()


def _cancel(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    return CancelEventDefinition()


def _compensate(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    return CompensateEventDefinition(
        activity_ref=attribute(definition, "activityRef"),
        wait_for_completion=flag(definition, "waitForCompletion", True),
    )


def _conditional(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    condition = bpmn_child(definition, "condition")
    if text_of(condition) is None:
        context.problem("conditional-event", "the conditional event has no condition", event)
    return ConditionalEventDefinition(
        context.formal_expression(condition, event, "the event condition")
    )


def _link(context: ReadContext, definition: Element, event: Element) -> EventDefinition:
    name = attribute(definition, "name") or attribute(event, "name")
    if name is None:
        context.problem("link-name", "the link event has no name", event)
    return LinkEventDefinition(name or "")


_READERS: dict[str, _Reader] = {
    "timerEventDefinition": _timer,
    "messageEventDefinition": _message,
    "signalEventDefinition": _signal,
    "errorEventDefinition": _error,
    "escalationEventDefinition": _escalation,
    "terminateEventDefinition": _terminate,
    "cancelEventDefinition": _cancel,
    "compensateEventDefinition": _compensate,
    "conditionalEventDefinition": _conditional,
    "linkEventDefinition": _link,
}
