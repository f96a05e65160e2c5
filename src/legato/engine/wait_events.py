"""Events of waiting and throwing: timers, subscriptions, messages, signals, conditions,
errors, escalations and compensation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from legato.engine.event_base import Event, register
from legato.engine.kinds import SubscriptionKind


@register
@dataclass(slots=True, kw_only=True)
class TimerScheduled(Event):
    """A timer was set for an element instance that waits on it."""

    timer_key: int
    element_instance_key: int
    element_id: str
    due_at: datetime
    repetitions: int | None = None
    cycle: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class TimerTriggered(Event):
    """A timer fired."""

    timer_key: int
    element_id: str


@register
@dataclass(slots=True, kw_only=True)
class TimerCanceled(Event):
    """A timer's element instance stopped waiting on it."""

    timer_key: int


@register
@dataclass(slots=True, kw_only=True)
class SubscriptionOpened(Event):
    """An element instance waits for a message, a signal or a condition."""

    subscription_key: int
    kind: SubscriptionKind
    """``message``, ``signal`` or ``conditional``."""
    name: str
    element_instance_key: int
    element_id: str
    correlation_key: str | None = None
    interrupting: bool = True


@register
@dataclass(slots=True, kw_only=True)
class SubscriptionClosed(Event):
    """A subscription ended (its element instance stopped waiting)."""

    subscription_key: int


@register
@dataclass(slots=True, kw_only=True)
class MessageCorrelated(Event):
    """A message reached a waiting element."""

    subscription_key: int
    name: str
    element_id: str
    correlation_key: str | None = None
    message_key: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(slots=True, kw_only=True)
class SignalReceived(Event):
    """A broadcast signal reached a waiting element."""

    subscription_key: int
    name: str
    element_id: str
    variables: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(slots=True, kw_only=True)
class ConditionMet(Event):
    """A conditional event's condition became true."""

    subscription_key: int
    element_id: str


@register
@dataclass(slots=True, kw_only=True)
class ErrorThrown(Event):
    """A BPMN error was thrown; ``catch_element_id`` is where it is caught (None: nowhere)."""

    element_instance_key: int
    element_id: str
    error_code: str
    message: str = ""
    catch_element_id: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class EscalationThrown(Event):
    """An escalation was thrown; ``catch_element_id`` is where it is caught (None: nowhere)."""

    element_instance_key: int
    element_id: str
    escalation_code: str
    catch_element_id: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class CompensationRecorded(Event):
    """An activity with a compensation handler completed: it can be undone in its scope."""

    scope_key: int
    element_id: str
    handler_id: str
    stash_key: int = 0
    """For a sub-process undone by its compensation event sub-process: where the work done
    inside it is kept until then (0 otherwise)."""


@register
@dataclass(slots=True, kw_only=True)
class CompensationStashed(Event):
    """A sub-process with a compensation event sub-process completed: what can be undone
    inside it is kept (under its key) for that event sub-process."""

    scope_key: int


@register
@dataclass(slots=True, kw_only=True)
class CompensationMoved(Event):
    """A sub-process completed: what can be undone inside it moves to the enclosing scope."""

    from_scope_key: int
    to_scope_key: int


@register
@dataclass(slots=True, kw_only=True)
class CompensationStarted(Event):
    """A compensation throw event starts undoing: the handlers to run, in this order."""

    element_instance_key: int
    scope_key: int
    handlers: list[str]
    element_ids: list[str]
    stash_keys: list[int] = field(default_factory=list)


@register
@dataclass(slots=True, kw_only=True)
class CompensationHandlerStarted(Event):
    """A compensation handler instance started for a compensation throw event."""

    handler_instance_key: int
    throw_instance_key: int
    stash_key: int = 0


__all__ = [
    "CompensationHandlerStarted",
    "CompensationMoved",
    "CompensationRecorded",
    "CompensationStarted",
    "CompensationStashed",
    "ConditionMet",
    "ErrorThrown",
    "EscalationThrown",
    "MessageCorrelated",
    "SignalReceived",
    "SubscriptionClosed",
    "SubscriptionOpened",
    "TimerCanceled",
    "TimerScheduled",
    "TimerTriggered",
]
