"""Appliers of the events of the work an instance hands out: jobs, incidents, user tasks."""

from __future__ import annotations

from legato.engine import events as ev
from legato.engine.applier_base import Applier, registrar
from legato.engine.state import IncidentState, InstanceState, JobState, TaskPeople

APPLIERS: dict[type[ev.Event], Applier] = {}
"""This module's appliers by event class (gathered by :mod:`~legato.engine.appliers`)."""
_applies = registrar(APPLIERS)


@_applies(ev.JobCreated)
def _job_created(state: InstanceState, event: ev.JobCreated) -> None:
    state.jobs[event.job_key] = JobState(
        event.job_key, event.element_instance_key, event.job_type, event.retries
    )
    state.elements[event.element_instance_key].job_key = event.job_key
    state.encoded.elements_encoded.pop(event.element_instance_key, None)  # element_changed()


@_applies(ev.JobCompleted)
@_applies(ev.JobCanceled)
def _job_ended(state: InstanceState, event: ev.JobCompleted | ev.JobCanceled) -> None:
    job = state.jobs.pop(event.job_key)
    element = state.elements.get(job.element_instance_key)
    if element is not None:
        element.job_key = None
        state.encoded.elements_encoded.pop(element.key, None)  # element_changed()


@_applies(ev.JobFailed)
def _job_failed(state: InstanceState, event: ev.JobFailed) -> None:
    job = state.jobs[event.job_key]
    job.retries = event.retries
    job.failed = event.retries <= 0


@_applies(ev.JobRetriesUpdated)
def _job_retries(state: InstanceState, event: ev.JobRetriesUpdated) -> None:
    job = state.jobs[event.job_key]
    job.retries = event.retries
    job.failed = event.retries <= 0


@_applies(ev.IncidentRaised)
def _incident_raised(state: InstanceState, event: ev.IncidentRaised) -> None:
    state.incidents[event.incident_key] = IncidentState(
        event.incident_key,
        event.element_instance_key,
        event.element_id,
        event.error_type,
        event.message,
        event.phase,
        event.job_key,
    )
    element = state.elements.get(event.element_instance_key)
    if element is not None:
        element.incident_key = event.incident_key
        state.encoded.element_changed(element.key)


@_applies(ev.IncidentResolved)
def _incident_resolved(state: InstanceState, event: ev.IncidentResolved) -> None:
    incident = state.incidents.pop(event.incident_key)
    element = state.elements.get(incident.element_instance_key)
    if element is not None:
        element.incident_key = None
        state.encoded.element_changed(element.key)


@_applies(ev.UserTaskCreated)
def _user_task_created(state: InstanceState, event: ev.UserTaskCreated) -> None:
    state.user_tasks[event.user_task_key] = event.element_instance_key
    state.elements[event.element_instance_key].user_task_key = event.user_task_key
    state.encoded.element_changed(event.element_instance_key)
    if event.assignee is not None:
        state.task_people[event.user_task_key] = TaskPeople(assignee=event.assignee)


@_applies(ev.UserTaskAssigned)
def _user_task_assigned(state: InstanceState, event: ev.UserTaskAssigned) -> None:
    people = TaskPeople(event.assignee, event.owner, event.delegation_state)
    if people == TaskPeople():
        state.task_people.pop(event.user_task_key, None)
    else:
        state.task_people[event.user_task_key] = people


def _drop_user_task(state: InstanceState, user_task_key: int) -> None:
    element_key = state.user_tasks.pop(user_task_key)
    state.task_people.pop(user_task_key, None)
    element = state.elements.get(element_key)
    if element is not None:
        element.user_task_key = None
        state.encoded.element_changed(element.key)


@_applies(ev.UserTaskCompleted)
def _user_task_completed(state: InstanceState, event: ev.UserTaskCompleted) -> None:
    _drop_user_task(state, event.user_task_key)


@_applies(ev.UserTaskCanceled)
def _user_task_canceled(state: InstanceState, event: ev.UserTaskCanceled) -> None:
    _drop_user_task(state, event.user_task_key)
