"""Events of the work an instance hands out: jobs, incidents, user tasks, decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from legato.engine.event_base import Event, register
from legato.engine.kinds import DelegationState, IncidentPhase


@register
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


@register
@dataclass(slots=True, kw_only=True)
class JobCompleted(Event):
    """A job's handler finished successfully."""

    job_key: int
    variables: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(slots=True, kw_only=True)
class JobFailed(Event):
    """A job's attempt failed; it is retried at ``retry_at`` while ``retries`` remain."""

    job_key: int
    retries: int
    error_message: str
    retry_at: datetime | None = None
    element_id: str | None = None
    error_details: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class JobRetriesUpdated(Event):
    """An operator gave a job new attempts."""

    job_key: int
    retries: int


@register
@dataclass(slots=True, kw_only=True)
class JobCanceled(Event):
    """A job's element instance ended without it (terminated)."""

    job_key: int


@register
@dataclass(slots=True, kw_only=True)
class IncidentRaised(Event):
    """An element instance is stuck until an operator resolves the incident."""

    incident_key: int
    element_instance_key: int
    element_id: str
    error_type: str
    message: str
    phase: IncidentPhase = "activate"
    """What is re-done when it is resolved: ``activate`` or ``complete``; ``job`` for jobs."""
    job_key: int | None = None
    details: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class IncidentResolved(Event):
    """An operator resolved an incident; the stuck step is tried again."""

    incident_key: int
    by: str | None = None


@register
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


@register
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
    delegation_state: DelegationState | None = None
    by: str | None = None


@register
@dataclass(slots=True, kw_only=True)
class UserTaskCompleted(Event):
    """A person completed a task."""

    user_task_key: int
    completed_by: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(slots=True, kw_only=True)
class UserTaskCanceled(Event):
    """A task's element instance was terminated."""

    user_task_key: int


@register
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


__all__ = [
    "DecisionEvaluated",
    "IncidentRaised",
    "IncidentResolved",
    "JobCanceled",
    "JobCompleted",
    "JobCreated",
    "JobFailed",
    "JobRetriesUpdated",
    "UserTaskAssigned",
    "UserTaskCanceled",
    "UserTaskCompleted",
    "UserTaskCreated",
]
