"""Events: what happened to an instance. They are its history and the only input of appliers.

Every event is a dataclass whose fields are JSON-compatible after value encoding, so the
stored history can be replayed into the stored state.

Events are values: nothing changes one after it was emitted. They are not ``frozen`` only
because a frozen dataclass sets each field through ``object.__setattr__``, which made building
them a noticeable part of every command; declare new events with the same decorator as the
others (a frozen subclass of the non-frozen base is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar


@dataclass(slots=True, kw_only=True)
class Event:
    """Base of the events; ``at`` is when it happened (the engine clock)."""

    type_name: ClassVar[str]
    at: datetime

    def payload(self) -> dict[str, Any]:
        """The event's fields except ``at`` (values not yet encoded)."""
        return {name: getattr(self, name) for name in payload_fields(type(self))}


_EVENT_TYPES: dict[str, type[Event]] = {}


_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def payload_fields(cls: type[Event]) -> tuple[str, ...]:
    """The names of the fields of an event class except ``at``, in declaration order."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls) if f.name != "at")
    return names


def _register(cls: type[Event]) -> type[Event]:
    cls.type_name = cls.__name__
    _EVENT_TYPES[cls.__name__] = cls
    return cls


def event_type(name: str) -> type[Event]:
    """The event class with this name (KeyError if unknown)."""
    return _EVENT_TYPES[name]


@_register
@dataclass(slots=True, kw_only=True)
class InstanceCreated(Event):
    """A process instance was created (its root scope is ``instance_key``)."""

    instance_key: int
    definition_key: int
    process_id: str
    version: int
    business_key: str | None = None
    parent_instance_key: int | None = None
    parent_element_instance_key: int | None = None


@_register
@dataclass(slots=True, kw_only=True)
class InstanceCompleted(Event):
    """Every path of the instance ended."""


@_register
@dataclass(slots=True, kw_only=True)
class InstanceTerminated(Event):
    """The instance was cancelled or ended by a terminate end event of its root scope."""

    reason: str = ""
    by: str | None = None
    """Who cancelled it (None: the process itself, or no one named)."""


@_register
@dataclass(slots=True, kw_only=True)
class InstanceSuspended(Event):
    """An operator suspended the instance: it takes no work until resumed."""

    by: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class InstanceResumed(Event):
    """An operator resumed a suspended instance."""

    by: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class ElementActivated(Event):
    """A token entered an element; ``key`` is the new element instance."""

    key: int
    element_id: str
    element_kind: str
    parent_key: int
    flow_id: str | None = None
    loop_counter: int = 0
    is_mi_body: bool = False


@_register
@dataclass(slots=True, kw_only=True)
class ElementCompleted(Event):
    """An element instance finished its work normally."""

    key: int
    element_id: str


@_register
@dataclass(slots=True, kw_only=True)
class ElementTerminated(Event):
    """An element instance was ended before finishing its work."""

    key: int
    element_id: str


@_register
@dataclass(slots=True, kw_only=True)
class JoinTokenArrived(Event):
    """A token arrived at a joining gateway and waits there."""

    scope_key: int
    element_id: str
    flow_id: str


@_register
@dataclass(slots=True, kw_only=True)
class JoinTokensConsumed(Event):
    """A joining gateway fired and consumed the waiting tokens (flow id -> count)."""

    scope_key: int
    element_id: str
    consumed: dict[str, int]


@_register
@dataclass(slots=True, kw_only=True)
class VariableSet(Event):
    """A variable was created or changed in a scope (an element instance key)."""

    scope_key: int
    name: str
    value: Any


@_register
@dataclass(slots=True, kw_only=True)
class VariablesEdited(Event):
    """Someone outside the process changed variables of a scope (an operator's fix).

    ``changes`` maps each name to ``{"old": value, "new": value}`` (``old`` is None for a
    variable the scope did not have); the :class:`VariableSet` events that follow change
    the state.
    """

    scope_key: int
    changes: dict[str, dict[str, Any]]
    by: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class MultiInstanceStarted(Event):
    """A multi-instance body fixed its input: ``items`` (or None) and the instance count."""

    key: int
    count: int
    items: list[Any] | None = None


@_register
@dataclass(slots=True, kw_only=True)
class JobCreated(Event):
    """A job was created for an element instance."""

    job_key: int
    element_instance_key: int
    element_id: str
    job_type: str
    retries: int
    headers: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    """Higher first for workers that fetch by priority (``camunda:taskPriority``)."""


@_register
@dataclass(slots=True, kw_only=True)
class JobCompleted(Event):
    """A job's handler finished successfully."""

    job_key: int
    variables: dict[str, Any] = field(default_factory=dict)


@_register
@dataclass(slots=True, kw_only=True)
class JobFailed(Event):
    """A job's attempt failed; it is retried at ``retry_at`` while ``retries`` remain."""

    job_key: int
    retries: int
    error_message: str
    retry_at: datetime | None = None
    element_id: str | None = None
    error_details: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class JobRetriesUpdated(Event):
    """An operator gave a job new attempts."""

    job_key: int
    retries: int


@_register
@dataclass(slots=True, kw_only=True)
class JobCanceled(Event):
    """A job's element instance ended without it (terminated)."""

    job_key: int


@_register
@dataclass(slots=True, kw_only=True)
class IncidentRaised(Event):
    """An element instance is stuck until an operator resolves the incident."""

    incident_key: int
    element_instance_key: int
    element_id: str
    error_type: str
    message: str
    phase: str = "activate"
    """What is re-done when it is resolved: ``activate`` or ``complete``; ``job`` for jobs."""
    job_key: int | None = None
    details: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class IncidentResolved(Event):
    """An operator resolved an incident; the stuck step is tried again."""

    incident_key: int
    by: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class UserTaskCreated(Event):
    """A task for a person was created."""

    user_task_key: int
    element_instance_key: int
    element_id: str
    name: str | None = None
    assignee: str | None = None
    candidate_groups: list[str] = field(default_factory=list)
    candidate_users: list[str] = field(default_factory=list)
    form_key: str | None = None
    due_at: datetime | None = None
    follow_up_at: datetime | None = None
    priority: int = 50
    form_id: str | None = None
    """The id of the linked Camunda form (``zeebe:formDefinition formId``, ``camunda:formRef``
    or the embedded ``camunda-forms:bpmn:`` form's id)."""
    linked_form_key: int | None = None
    """The deployed form version bound when the task was created (None: none deployed, or
    the form is embedded in the process)."""
    external_form_reference: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class UserTaskAssigned(Event):
    """Who holds a user task changed (assigned, claimed, unclaimed, delegated, resolved).

    The fields are the task's people after the change.
    """

    user_task_key: int
    action: str
    """``assign``, ``claim``, ``unclaim``, ``delegate`` or ``resolve``."""
    element_id: str | None = None
    """The user task's element (for the history)."""
    assignee: str | None = None
    owner: str | None = None
    delegation_state: str | None = None
    by: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class UserTaskCompleted(Event):
    """A person completed a task."""

    user_task_key: int
    completed_by: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@_register
@dataclass(slots=True, kw_only=True)
class UserTaskCanceled(Event):
    """A task's element instance was terminated."""

    user_task_key: int


@_register
@dataclass(slots=True, kw_only=True)
class CallActivityChildStarted(Event):
    """A call activity started its child instance."""

    element_instance_key: int
    child_instance_key: int


@_register
@dataclass(slots=True, kw_only=True)
class TimerScheduled(Event):
    """A timer was set for an element instance that waits on it."""

    timer_key: int
    element_instance_key: int
    element_id: str
    due_at: datetime
    repetitions: int | None = None
    cycle: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class TimerTriggered(Event):
    """A timer fired."""

    timer_key: int
    element_id: str


@_register
@dataclass(slots=True, kw_only=True)
class TimerCanceled(Event):
    """A timer's element instance stopped waiting on it."""

    timer_key: int


@_register
@dataclass(slots=True, kw_only=True)
class SubscriptionOpened(Event):
    """An element instance waits for a message, a signal or a condition."""

    subscription_key: int
    kind: str
    """``message``, ``signal`` or ``conditional``."""
    name: str
    element_instance_key: int
    element_id: str
    correlation_key: str | None = None
    interrupting: bool = True


@_register
@dataclass(slots=True, kw_only=True)
class SubscriptionClosed(Event):
    """A subscription ended (its element instance stopped waiting)."""

    subscription_key: int


@_register
@dataclass(slots=True, kw_only=True)
class MessageCorrelated(Event):
    """A message reached a waiting element."""

    subscription_key: int
    name: str
    element_id: str
    correlation_key: str | None = None
    message_key: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@_register
@dataclass(slots=True, kw_only=True)
class SignalReceived(Event):
    """A broadcast signal reached a waiting element."""

    subscription_key: int
    name: str
    element_id: str
    variables: dict[str, Any] = field(default_factory=dict)


@_register
@dataclass(slots=True, kw_only=True)
class ConditionMet(Event):
    """A conditional event's condition became true."""

    subscription_key: int
    element_id: str


@_register
@dataclass(slots=True, kw_only=True)
class ErrorThrown(Event):
    """A BPMN error was thrown; ``catch_element_id`` is where it is caught (None: nowhere)."""

    element_instance_key: int
    element_id: str
    error_code: str
    message: str = ""
    catch_element_id: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class EscalationThrown(Event):
    """An escalation was thrown; ``catch_element_id`` is where it is caught (None: nowhere)."""

    element_instance_key: int
    element_id: str
    escalation_code: str
    catch_element_id: str | None = None


@_register
@dataclass(slots=True, kw_only=True)
class CompensationRecorded(Event):
    """An activity with a compensation handler completed: it can be undone in its scope."""

    scope_key: int
    element_id: str
    handler_id: str
    stash_key: int = 0
    """For a sub-process undone by its compensation event sub-process: where the work done
    inside it is kept until then (0 otherwise)."""


@_register
@dataclass(slots=True, kw_only=True)
class CompensationStashed(Event):
    """A sub-process with a compensation event sub-process completed: what can be undone
    inside it is kept (under its key) for that event sub-process."""

    scope_key: int


@_register
@dataclass(slots=True, kw_only=True)
class CompensationMoved(Event):
    """A sub-process completed: what can be undone inside it moves to the enclosing scope."""

    from_scope_key: int
    to_scope_key: int


@_register
@dataclass(slots=True, kw_only=True)
class CompensationStarted(Event):
    """A compensation throw event starts undoing: the handlers to run, in this order."""

    element_instance_key: int
    scope_key: int
    handlers: list[str]
    element_ids: list[str]
    stash_keys: list[int] = field(default_factory=list)


@_register
@dataclass(slots=True, kw_only=True)
class CompensationHandlerStarted(Event):
    """A compensation handler instance started for a compensation throw event."""

    handler_instance_key: int
    throw_instance_key: int
    stash_key: int = 0


@_register
@dataclass(slots=True, kw_only=True)
class DecisionEvaluated(Event):
    """A business rule task evaluated a DMN decision."""

    element_instance_key: int
    element_id: str
    decision_id: str
    decision_key: int
    version: int
    result: Any
    matched_rules: list[str] = field(default_factory=list)
