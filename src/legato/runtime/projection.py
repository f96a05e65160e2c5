"""Keeps the query tables (jobs, user tasks, incidents, instance summary) in step with events.

Runs inside the command's transaction, so the rows and the history never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from legato.engine import events as ev
from legato.engine.state import InstanceState
from legato.store.ports import Transaction
from legato.store.records import IncidentRecord, JobRecord, UserTaskRecord


def project(
    tx: Transaction, state: InstanceState, events: Sequence[ev.Event], now: datetime
) -> None:
    """Write the row changes that ``events`` imply."""
    new_jobs: list[JobRecord] = []
    finished_jobs: list[int] = []
    for event in events:
        if isinstance(event, ev.JobCreated):
            new_jobs.append(
                JobRecord(
                    job_key=event.job_key,
                    instance_key=state.instance_key,
                    element_instance_key=event.element_instance_key,
                    element_id=event.element_id,
                    job_type=event.job_type,
                    retries=event.retries,
                    due_at=event.at,
                    headers=dict(event.headers),
                    created_at=event.at,
                )
            )
        elif isinstance(event, (ev.JobCompleted, ev.JobCanceled)):
            if _drop_new(new_jobs, event.job_key):
                continue
            finished_jobs.append(event.job_key)
        elif isinstance(event, (ev.JobFailed, ev.JobRetriesUpdated)):
            _flush(tx, new_jobs, finished_jobs)
            _job_changed(tx, event)
        else:
            _flush(tx, new_jobs, finished_jobs)
            _project_other(tx, state, event)
    _flush(tx, new_jobs, finished_jobs)


def _drop_new(new_jobs: list[JobRecord], job_key: int) -> bool:
    for index, job in enumerate(new_jobs):
        if job.job_key == job_key:
            del new_jobs[index]
            return True
    return False


def _flush(tx: Transaction, new_jobs: list[JobRecord], finished_jobs: list[int]) -> None:
    if new_jobs:
        tx.insert_jobs(list(new_jobs))
        new_jobs.clear()
    if finished_jobs:
        tx.delete_jobs(list(finished_jobs))
        finished_jobs.clear()


def _job_changed(tx: Transaction, event: ev.JobFailed | ev.JobRetriesUpdated) -> None:
    job = tx.get_job(event.job_key)
    if job is None:
        return
    if isinstance(event, ev.JobFailed):
        job = dataclasses.replace(
            job,
            retries=event.retries,
            state="activatable" if event.retries > 0 else "failed",
            due_at=event.retry_at or event.at,
            worker=None,
            lease_until=None,
            error_message=event.error_message,
        )
    else:
        job = dataclasses.replace(
            job,
            retries=event.retries,
            state="activatable",
            due_at=event.at,
            worker=None,
            lease_until=None,
        )
    tx.update_job(job)


def _project_other(tx: Transaction, state: InstanceState, event: ev.Event) -> None:
    if isinstance(event, ev.UserTaskCreated):
        tx.upsert_user_task(
            UserTaskRecord(
                user_task_key=event.user_task_key,
                instance_key=state.instance_key,
                element_instance_key=event.element_instance_key,
                element_id=event.element_id,
                name=event.name,
                state="created",
                created_at=event.at,
                assignee=event.assignee,
                candidate_groups=tuple(event.candidate_groups),
                candidate_users=tuple(event.candidate_users),
                form_key=event.form_key,
                due_at=event.due_at,
                follow_up_at=event.follow_up_at,
                priority=event.priority,
            )
        )
    elif isinstance(event, (ev.UserTaskCompleted, ev.UserTaskCanceled)):
        task = tx.get_user_task(event.user_task_key)
        if task is not None:
            completed = isinstance(event, ev.UserTaskCompleted)
            tx.upsert_user_task(
                dataclasses.replace(
                    task,
                    state="completed" if completed else "canceled",
                    completed_at=event.at,
                    completed_by=event.completed_by
                    if isinstance(event, ev.UserTaskCompleted)
                    else None,
                )
            )
    elif isinstance(event, ev.IncidentRaised):
        tx.upsert_incident(
            IncidentRecord(
                incident_key=event.incident_key,
                instance_key=state.instance_key,
                element_instance_key=event.element_instance_key,
                element_id=event.element_id,
                error_type=event.error_type,
                message=event.message,
                created_at=event.at,
                job_key=event.job_key,
                details=event.details,
            )
        )
    elif isinstance(event, ev.IncidentResolved):
        incident = tx.get_incident(event.incident_key)
        if incident is not None:
            tx.upsert_incident(
                dataclasses.replace(incident, state="resolved", resolved_at=event.at)
            )
