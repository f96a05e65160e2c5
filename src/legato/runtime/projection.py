"""Keeps the query tables (jobs, user tasks, incidents, instance summary) in step with events.

Runs inside the command's transaction, so the rows and the history never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from legato.engine import events as ev
from legato.engine.state import InstanceState
from legato.store.ports import Transaction
from legato.store.records import HistoryRecord, IncidentRecord, JobRecord, UserTaskRecord


class BatchWrites:
    """Row changes of a batch of commands, written together when the batch ends.

    Jobs and history rows are the bulk of the writes; collecting them turns hundreds of
    statements into a few ``executemany`` calls. A job created and finished within the same
    batch never reaches the table. User tasks and incidents are rare and written at once.
    """

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self.history: list[HistoryRecord] = []
        self.new_jobs: dict[int, JobRecord] = {}
        self.finished_jobs: list[int] = []
        self.user_tasks: dict[int, UserTaskRecord] = {}
        self.incidents: dict[int, IncidentRecord] = {}

    def user_task(self, key: int) -> UserTaskRecord | None:
        """A user task as it will be after this batch."""
        return self.user_tasks.get(key) or self.tx.get_user_task(key)

    def incident(self, key: int) -> IncidentRecord | None:
        """An incident as it will be after this batch."""
        return self.incidents.get(key) or self.tx.get_incident(key)

    def flush(self) -> None:
        """Write what was collected (after the instance rows the others refer to)."""
        self.tx.append_history(self.history)
        self.tx.insert_jobs(list(self.new_jobs.values()))
        self.tx.delete_jobs(self.finished_jobs)
        for task in self.user_tasks.values():
            self.tx.upsert_user_task(task)
        for incident in self.incidents.values():
            self.tx.upsert_incident(incident)
        self.history, self.new_jobs, self.finished_jobs = [], {}, []
        self.user_tasks, self.incidents = {}, {}


def project(writes: BatchWrites, state: InstanceState, events: Sequence[ev.Event]) -> None:
    """Queue or write the row changes that ``events`` imply."""
    for event in events:
        if isinstance(event, ev.JobCreated):
            writes.new_jobs[event.job_key] = JobRecord(
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
        elif isinstance(event, (ev.JobCompleted, ev.JobCanceled)):
            if writes.new_jobs.pop(event.job_key, None) is None:
                writes.finished_jobs.append(event.job_key)
        elif isinstance(event, (ev.JobFailed, ev.JobRetriesUpdated)):
            _job_changed(writes, event)
        else:
            _project_other(writes, state, event)


def _job_changed(writes: BatchWrites, event: ev.JobFailed | ev.JobRetriesUpdated) -> None:
    job = writes.new_jobs.get(event.job_key) or writes.tx.get_job(event.job_key)
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
    if event.job_key in writes.new_jobs:
        writes.new_jobs[event.job_key] = job
    else:
        writes.tx.update_job(job)


def _project_other(writes: BatchWrites, state: InstanceState, event: ev.Event) -> None:
    if isinstance(event, ev.UserTaskCreated):
        writes.user_tasks[event.user_task_key] = UserTaskRecord(
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
    elif isinstance(event, (ev.UserTaskCompleted, ev.UserTaskCanceled)):
        task = writes.user_task(event.user_task_key)
        if task is not None:
            completed = isinstance(event, ev.UserTaskCompleted)
            writes.user_tasks[task.user_task_key] = dataclasses.replace(
                task,
                state="completed" if completed else "canceled",
                completed_at=event.at,
                completed_by=event.completed_by
                if isinstance(event, ev.UserTaskCompleted)
                else None,
            )
    elif isinstance(event, ev.IncidentRaised):
        writes.incidents[event.incident_key] = IncidentRecord(
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
    elif isinstance(event, ev.IncidentResolved):
        incident = writes.incident(event.incident_key)
        if incident is not None:
            writes.incidents[incident.incident_key] = dataclasses.replace(
                incident, state="resolved", resolved_at=event.at
            )
