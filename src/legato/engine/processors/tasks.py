"""Tasks: immediate ones, job worker tasks, FEEL scripts, user tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from legato.engine import events as ev
from legato.engine.processing import IncidentError, Processing
from legato.engine.processors.base import ActivityProcessor
from legato.engine.state import ElementInstance
from legato.model import (
    Activity,
    BusinessRuleTask,
    Expression,
    JobWorkerTask,
    ScriptTask,
    UserTask,
)


class JobWorkerProcessor(ActivityProcessor):
    """Service, send, business rule and non-FEEL script tasks: create a job and wait."""

    def execute(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        assert isinstance(element, JobWorkerTask)
        if isinstance(element, ScriptTask) and element.script is not None:
            self._run_script(p, instance, element, element.script)
            return
        if element.job_type is None:
            if isinstance(element, BusinessRuleTask) and element.decision_id:
                raise IncidentError(
                    "decision",
                    f"decision '{element.decision_id}' cannot be evaluated: no DMN decision "
                    "engine is available in this version",
                )
            raise IncidentError("job", f"element '{element.element_id}' has no job type")
        create_job(p, instance, element)

    def _run_script(
        self, p: Processing, instance: ElementInstance, element: ScriptTask, script: Expression
    ) -> None:
        value = p.evaluate(script, instance.key)
        if element.result_variable:
            p.set_propagating(instance.key, element.result_variable, value)
        p.complete(instance)

    def on_terminate(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        if instance.job_key is not None:
            p.emit(ev.JobCanceled(at=p.ctx.now, job_key=instance.job_key))


def create_job(p: Processing, instance: ElementInstance, element: JobWorkerTask) -> None:
    """Create the job of a job worker task."""
    assert element.job_type is not None
    job_type = p.evaluate(element.job_type, instance.key)
    if not isinstance(job_type, str) or not job_type:
        raise IncidentError("job", f"job type of '{element.element_id}' evaluated to {job_type!r}")
    retries = p.retry_policy(element).max_attempts
    if element.retries is not None:
        retries = _as_int(p.evaluate(element.retries, instance.key), "retries")
    p.emit(
        ev.JobCreated(
            at=p.ctx.now,
            job_key=p.ctx.new_key(),
            element_instance_key=instance.key,
            element_id=element.element_id,
            job_type=job_type,
            retries=max(retries, 1),
            headers=dict(element.headers),
        )
    )


def _as_int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise IncidentError("expression", f"{what} must be a number, got {value!r}") from exc


class UserTaskProcessor(ActivityProcessor):
    """A task for a person: create it and wait until it is completed."""

    def execute(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        assert isinstance(element, UserTask)
        p.emit(
            ev.UserTaskCreated(
                at=p.ctx.now,
                user_task_key=p.ctx.new_key(),
                element_instance_key=instance.key,
                element_id=element.element_id,
                name=element.name,
                assignee=_optional_str(p, element.assignee, instance.key),
                candidate_groups=_str_list(p, element.candidate_groups, instance.key),
                candidate_users=_str_list(p, element.candidate_users, instance.key),
                form_key=element.form_key,
                due_at=_optional_time(p, element.due_date, instance.key),
                follow_up_at=_optional_time(p, element.follow_up_date, instance.key),
                priority=_as_int(p.evaluate(element.priority, instance.key), "priority")
                if element.priority is not None
                else 50,
            )
        )

    def on_terminate(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        if instance.user_task_key is not None:
            p.emit(ev.UserTaskCanceled(at=p.ctx.now, user_task_key=instance.user_task_key))


def _optional_str(p: Processing, expression: Expression | None, scope_key: int) -> str | None:
    if expression is None:
        return None
    value = p.evaluate(expression, scope_key)
    return None if value is None else str(value)


def _str_list(p: Processing, expression: Expression | None, scope_key: int) -> list[str]:
    if expression is None:
        return []
    value = p.evaluate(expression, scope_key)
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise IncidentError("expression", f"expected a list of names, got {value!r}")


def _optional_time(p: Processing, expression: Expression | None, scope_key: int) -> datetime | None:
    if expression is None:
        return None
    value = p.evaluate(expression, scope_key)
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise IncidentError("expression", f"expected a date and time, got {value!r}")
