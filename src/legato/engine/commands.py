"""Commands: what is asked of an instance. Each is processed by :func:`legato.engine.step`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of the commands; every command targets one instance."""

    instance_key: int


NEW_INSTANCE = 0
"""The instance key of a start whose key the executor assigns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartInstance(Command):
    """Create an instance of a deployed process and run it to its first wait states."""

    definition_key: int
    variables: dict[str, Any] = field(default_factory=dict)
    business_key: str | None = None
    start_element_id: str | None = None
    parent_instance_key: int | None = None
    parent_element_instance_key: int | None = None
    version_reason: str | None = None
    """Why the instance gets this version (recorded on its ``InstanceCreated`` event)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteJob(Command):
    """A job's handler succeeded; ``variables`` are its result."""

    job_key: int
    variables: dict[str, Any] = field(default_factory=dict)
    local_variables: dict[str, Any] = field(default_factory=dict)
    """Set in the job's element instance scope (after ``variables``), before it completes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FailJob(Command):
    """A job's attempt failed.

    A retryable failure is tried again after the backoff while attempts remain; a
    non-retryable one (or the last attempt) raises an incident.
    """

    job_key: int
    error_message: str
    details: str | None = None
    retryable: bool = True
    retry_after: timedelta | None = None
    """Overrides the backoff for this attempt."""
    retries: int | None = None
    """The attempts left after this failure, as the worker decides (Camunda's semantics):
    0 raises the incident at once, more makes the job due again after ``retry_after`` (at
    once without it). None: one attempt fewer, with the retry policy's backoff."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateJobRetries(Command):
    """Set the attempts a job has left (an operator or a worker).

    A failed job (waiting in an incident) given retries is due again and its incident is
    resolved; a job set to 0 retries stops with an incident, as when it fails its last
    attempt.
    """

    job_key: int
    retries: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrowError(Command):
    """A job's handler reported a BPMN error."""

    job_key: int
    error_code: str
    error_message: str = ""
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteUserTask(Command):
    """A person completed a user task."""

    user_task_key: int
    variables: dict[str, Any] = field(default_factory=dict)
    completed_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignUserTask(Command):
    """Change who holds an open user task.

    ``action`` says how: ``assign`` (or ``claim``, which refuses a task another user holds,
    as ``allow_override=False`` does), ``unclaim`` (no assignee), ``delegate`` (the assignee
    becomes the owner and ``assignee`` works on it: delegation ``PENDING``) or ``resolve``
    (back to the owner: delegation ``RESOLVED``, ``variables`` set as a completion would).
    """

    user_task_key: int
    action: str = "assign"
    assignee: str | None = None
    allow_override: bool = True
    by: str | None = None
    """The user who asked (for the history)."""
    variables: dict[str, Any] = field(default_factory=dict)


USER_TASK_ACTIONS = ("assign", "claim", "unclaim", "delegate", "resolve")
"""The values of :attr:`AssignUserTask.action`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVariables(Command):
    """Set variables in a scope (the root when ``scope_key`` is None), e.g. to fix data."""

    variables: dict[str, Any]
    scope_key: int | None = None
    local: bool = True
    by: str | None = None
    """Who changed them: an operator's change is recorded with the old and new values."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveIncident(Command):
    """Retry what an incident stopped; a job incident needs ``retries`` > 0 (default 1)."""

    incident_key: int
    retries: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    """Set in the root scope first (an operator's fix, recorded as by :class:`SetVariables`)."""
    by: str | None = None
    """Who retried it (for the history)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelInstance(Command):
    """Terminate every element of the instance (and of its called children)."""

    reason: str = "cancelled"
    by: str | None = None
    """Who cancelled it (for the history)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SuspendInstance(Command):
    """Hold an instance where it is (and its called children): its jobs are handed to no
    worker and their results refused, its timers do not fire, no message or signal reaches
    it and its user tasks cannot be completed, until it is resumed. It can still be
    cancelled and its variables changed."""

    by: str | None = None
    """Who suspended it (for the history)."""
    from_parent: bool = False
    """Passed down from a calling instance: no error if this one is suspended already."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrateInstance(Command):
    """Move a running instance to another process version (see
    :mod:`legato.engine.migration`): every active element to the element ``mappings`` names
    for it, or to the element of the same id; refused, changing nothing, when the instance
    cannot move as planned."""

    target_definition_key: int
    mappings: tuple[tuple[str, str], ...] = ()
    """``(source element id, target element id)`` where the ids differ."""
    variables: tuple[tuple[str, str], ...] = ()
    """``(name, FEEL expression)``: root variables set after the move, each expression
    evaluated in the root scope."""
    recreate_timers: bool = False
    """Timers whose definition differs in the target are set anew from the target's
    definition (from now); by default every timer keeps its due time."""
    by: str | None = None
    """Who migrated it (for the history)."""


@dataclass(frozen=True, slots=True)
class StartBefore:
    """A modification instruction: a new token enters ``element_id`` (see
    :mod:`legato.engine.modification`)."""

    element_id: str
    variables: dict[str, Any] = field(default_factory=dict)
    """Set in the scope the new token runs in (the instance's root for a top-level element)
    before it enters the element."""


@dataclass(frozen=True, slots=True)
class StartAfter:
    """A modification instruction: a new token leaves ``element_id`` along its one outgoing
    sequence flow, as if the element had just completed."""

    element_id: str
    variables: dict[str, Any] = field(default_factory=dict)
    """Set in the scope the new token runs in before it takes the flow."""


@dataclass(frozen=True, slots=True)
class CancelElement:
    """A modification instruction: every active token at ``element_id`` ends."""

    element_id: str


@dataclass(frozen=True, slots=True)
class CancelElementInstance:
    """A modification instruction: one active element instance ends."""

    element_instance_key: int


Instruction = StartBefore | StartAfter | CancelElement | CancelElementInstance
"""One instruction of :class:`ModifyInstance`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModifyInstance(Command):
    """Start and cancel tokens of a running instance by hand, all instructions together or
    none (see :mod:`legato.engine.modification`), e.g. to move on an instance a model bug
    left stuck."""

    instructions: tuple[Instruction, ...]
    by: str | None = None
    """Who modified it (for the history)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeInstance(Command):
    """Let a suspended instance (and its called children) go on; timers that fell due
    meanwhile fire, buffered messages may correlate."""

    by: str | None = None
    """Who resumed it (for the history)."""
    from_parent: bool = False
    """Passed down from a calling instance: no error if this one is not suspended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteCallActivity(Command):
    """A called child instance completed; its variables go back to the call activity."""

    element_instance_key: int
    child_instance_key: int
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerTimer(Command):
    """A timer of the instance is due."""

    timer_key: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CorrelateMessage(Command):
    """A published message matches a subscription of the instance."""

    subscription_key: int
    name: str
    correlation_key: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    message_key: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveSignal(Command):
    """A broadcast signal matches a subscription of the instance."""

    subscription_key: int
    name: str
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrowErrorFromChild(Command):
    """A called child instance threw an error it did not catch; the call activity rethrows."""

    element_instance_key: int
    child_instance_key: int
    error_code: str
    error_message: str = ""
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalateFromChild(Command):
    """A called child instance threw an escalation it did not catch; the call activity
    rethrows it."""

    element_instance_key: int
    child_instance_key: int
    escalation_code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishMessage:
    """A message a process throws (an end or intermediate throw event without a job)."""

    name: str
    correlation_key: str | None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastSignal:
    """A signal a process throws (its own catch events have heard it already)."""

    name: str
    variables: dict[str, Any] = field(default_factory=dict)
    source_instance_key: int | None = None
