"""Commands about jobs: a worker completes, fails or throws an error from one; an operator
changes its retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.processing import Processing
from legato.engine.processors.errors import throw_error
from legato.engine.state import ElementInstance
from legato.engine.values import checked_variables
from legato.errors import InvalidCommandError


def _element_for_job(p: Processing, job_key: int) -> ElementInstance:
    job = p.state.jobs.get(job_key)
    if job is None:
        _not_active(job_key)
    return p.state.elements[job.element_instance_key]


def _not_active(job_key: int) -> NoReturn:
    raise InvalidCommandError(f"job {job_key} is not active (completed, cancelled or unknown)")


def complete_job(p: Processing, command: cmd.CompleteJob) -> None:
    job = p.state.jobs.get(command.job_key)  # _element_for_job(), without a call
    if job is None:
        _not_active(command.job_key)
    instance = p.state.elements[job.element_instance_key]
    variables = checked_variables(command.variables) if command.variables else {}
    local = checked_variables(command.local_variables) if command.local_variables else None
    p.emit(ev.JobCompleted(at=p.ctx.now, job_key=command.job_key, variables=variables))
    if variables:
        take_result(p, instance, variables)
    if local:
        for name, value in local.items():
            p.set_local(instance.key, name, value)
    p.complete(instance)


def take_result(p: Processing, instance: ElementInstance, variables: dict[str, Any]) -> None:
    """Result variables: local to the element when it maps outputs, else propagated."""
    if p.plan.nodes[instance.element_id].element.output_mappings:
        for name, value in variables.items():
            p.set_local(instance.key, name, value)
    else:
        p.set_all_propagating(instance.key, variables)


def fail_job(p: Processing, command: cmd.FailJob) -> None:
    instance = _element_for_job(p, command.job_key)
    job = p.state.jobs[command.job_key]
    if job.failed:
        raise InvalidCommandError(
            f"job {command.job_key} has failed already and waits for an operator"
        )
    if command.retries is not None and command.retries < 0:
        raise InvalidCommandError(f"retries must not be negative, not {command.retries}")
    if command.retries is not None:
        # The worker decides how many attempts are left (Camunda's failure semantics).
        retries = command.retries if command.retryable else 0
    else:
        retries = job.retries - 1 if command.retryable else 0
    if retries > 0:
        if command.retry_after is not None:
            delay = command.retry_after
        elif command.retries is not None:
            delay = timedelta(0)
        else:
            policy = p.retry_policy(p.process.element(instance.element_id))
            delay = p.backoff(policy, max(policy.max_attempts - retries, 1))
        p.emit(
            ev.JobFailed(
                at=p.ctx.now,
                job_key=command.job_key,
                retries=retries,
                error_message=command.error_message,
                retry_at=p.ctx.now + delay,
                element_id=instance.element_id,
                error_details=command.details,
            )
        )
        return
    p.emit(
        ev.JobFailed(
            at=p.ctx.now,
            job_key=command.job_key,
            retries=0,
            error_message=command.error_message,
            element_id=instance.element_id,
            error_details=command.details,
        )
    )
    p.raise_incident(
        instance,
        "job_failed",
        command.error_message,
        "job",
        job_key=command.job_key,
        details=command.details,
    )


def update_job_retries(p: Processing, command: cmd.UpdateJobRetries) -> None:
    instance = _element_for_job(p, command.job_key)
    job = p.state.jobs[command.job_key]
    if command.retries < 0:
        raise InvalidCommandError(f"retries must not be negative, not {command.retries}")
    if job.failed:
        if command.retries == 0:
            return  # it waits for an operator already
        p.emit(ev.JobRetriesUpdated(at=p.ctx.now, job_key=command.job_key, retries=command.retries))
        for incident in list(p.state.incidents.values()):
            if incident.job_key == command.job_key:
                p.emit(ev.IncidentResolved(at=p.ctx.now, incident_key=incident.incident_key))
        return
    p.emit(ev.JobRetriesUpdated(at=p.ctx.now, job_key=command.job_key, retries=command.retries))
    if command.retries == 0:
        p.raise_incident(
            instance,
            "job_failed",
            f"the retries of job {command.job_key} were set to 0",
            "job",
            job_key=command.job_key,
        )


def throw_error_from_job(p: Processing, command: cmd.ThrowError) -> None:
    instance = _element_for_job(p, command.job_key)
    variables = checked_variables(command.variables)
    if throw_error(p, instance, command.error_code, command.error_message, variables):
        return
    state = p.state
    if state.parent_instance_key is not None and state.parent_element_instance_key is not None:
        p.follow_ups.append(
            cmd.ThrowErrorFromChild(
                instance_key=state.parent_instance_key,
                element_instance_key=state.parent_element_instance_key,
                child_instance_key=state.instance_key,
                error_code=command.error_code,
                error_message=command.error_message,
                variables=variables,
            )
        )
        # The job is done with: the calling instance decides (it catches the error, which
        # cancels this instance, or it raises the incident).
        p.emit(
            ev.JobFailed(
                at=p.ctx.now,
                job_key=command.job_key,
                retries=0,
                error_message=f"BPMN error '{command.error_code}' passed to the calling instance",
                element_id=instance.element_id,
            )
        )
        return
    message = f"unhandled BPMN error '{command.error_code}'"
    if command.error_message:
        message += f": {command.error_message}"
    p.emit(
        ev.JobFailed(
            at=p.ctx.now,
            job_key=command.job_key,
            retries=0,
            error_message=message,
            element_id=instance.element_id,
        )
    )
    p.raise_incident(instance, "unhandled_error", message, "job", job_key=command.job_key)
