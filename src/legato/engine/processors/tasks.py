"""Tasks: immediate ones, job worker tasks, FEEL scripts, user tasks."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time
from typing import Any

from legato.engine import events as ev
from legato.engine import values
from legato.engine.commands import PublishMessage
from legato.engine.incident import IncidentError
from legato.engine.processors.base import ActivityProcessor
from legato.engine.processors.waits import correlation_value
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import (
    Activity,
    BusinessRuleTask,
    Expression,
    FlowNode,
    JobWorkerTask,
    RetryPolicy,
    ScriptTask,
    SendTask,
    UserTask,
)


class JobWorkerProcessor(ActivityProcessor):
    """Service, send, business rule and non-FEEL script tasks: create a job and wait."""

    def execute(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        assert isinstance(element, JobWorkerTask)
        if isinstance(element, ScriptTask) and element.script is not None:
            self._run_script(p, instance, element, element.script)
            return
        if element.job_type is None and isinstance(element, SendTask) and element.message_name:
            key = None
            if element.correlation_key is not None:
                key = correlation_value(p.evaluate(element.correlation_key, instance.key))
            variables = p.variables_of(instance.key) if element.input_mappings else {}
            p.messages.append(
                PublishMessage(name=element.message_name, correlation_key=key, variables=variables)
            )
            p.complete(instance)
            return
        if element.job_type is None:
            if isinstance(element, BusinessRuleTask) and element.decision_id:
                _evaluate_decision(p, instance, element, element.decision_id)
                return
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


def _evaluate_decision(
    p: Processing, instance: ElementInstance, element: BusinessRuleTask, decision_id: str
) -> None:
    """Evaluate the latest version of the decision with the variables the task sees."""
    deployed = p.ctx.definitions.decision(decision_id)
    if deployed is None:
        raise IncidentError("decision", f"no decision '{decision_id}' is deployed")
    variables = p.variables_of(instance.key)
    result = deployed.model.evaluate(
        deployed.decision_id, variables, now=p.ctx.now, context=variables
    )
    if result.errors:
        raise IncidentError(
            "decision",
            f"decision '{decision_id}' (version {deployed.version}) failed: "
            + "; ".join(result.errors),
        )
    try:
        value = values.normalize(result.value)
    except values.UnstorableValueError as exc:
        raise IncidentError(
            "decision", f"decision '{decision_id}' gave a result that cannot be stored: {exc}"
        ) from None
    p.emit(
        ev.DecisionEvaluated(
            at=p.ctx.now,
            element_instance_key=instance.key,
            element_id=element.element_id,
            decision_id=deployed.decision_id,
            decision_key=deployed.definition_key,
            version=deployed.version,
            result=value,
            matched_rules=[m.rule_id or f"{m.table}#{m.index}" for m in result.matched_rules],
        )
    )
    if element.result_variable:
        p.set_propagating(instance.key, element.result_variable, value)
    p.complete(instance)


def create_job(
    p: Processing,
    instance: ElementInstance,
    element: FlowNode,
    job_type_expression: Expression | None = None,
) -> None:
    """Create the job of a job worker task (or of a message throw event with a job type)."""
    expression = job_type_expression or getattr(element, "job_type", None)
    assert expression is not None
    if expression.compiled is None:  # a constant (most job types): what evaluate() gives
        job_type = expression.constant
    else:
        job_type = p.evaluate(expression, instance.key)
    if not isinstance(job_type, str) or not job_type:
        raise IncidentError("job", f"job type of '{element.element_id}' evaluated to {job_type!r}")
    policy = getattr(element, "retry_policy", None)  # p.retry_policy(element), without a call
    if not isinstance(policy, RetryPolicy):
        policy = p.ctx.default_retry_policy
    retries = policy.max_attempts
    retries_expression = getattr(element, "retries", None)
    if retries_expression is not None:
        retries = _as_int(p.evaluate(retries_expression, instance.key), "retries")
    p.emit(
        ev.JobCreated(
            at=p.ctx.now,
            job_key=p.ctx.new_key(),
            element_instance_key=instance.key,
            element_id=element.element_id,
            job_type=job_type,
            retries=max(retries, 1),
            headers=dict(getattr(element, "headers", ())),
            priority=getattr(element, "priority", 0),
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
                priority=_priority(p, element.priority, instance.key),
                form_id=element.form_id,
                linked_form_key=_linked_form_key(p, element),
                external_form_reference=_optional_str(
                    p, element.external_form_reference, instance.key
                ),
            )
        )

    def on_terminate(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        if instance.user_task_key is not None:
            p.emit(ev.UserTaskCanceled(at=p.ctx.now, user_task_key=instance.user_task_key))


def _priority(p: Processing, expression: Expression | None, scope_key: int) -> int:
    if expression is None:
        return 50
    priority = _as_int(p.evaluate(expression, scope_key), "priority")
    if not 0 <= priority <= 100:
        raise IncidentError("expression", f"priority must be from 0 to 100, got {priority}")
    return priority


def _linked_form_key(p: Processing, element: UserTask) -> int | None:
    """The deployed version of the linked form, bound now: the latest one, or the latest
    with the link's version tag (``versionTag``), or the numbered one (Camunda 7's
    ``version``)."""
    if element.form_id is None or element.embedded_form is not None:
        return None
    binding, tag = element.form_binding, element.form_version_tag
    if binding not in ("versionTag", "version"):
        return p.ctx.definitions.latest_form_key(element.form_id)
    if tag is None:
        raise IncidentError("form", f"the form link of '{element.element_id}' names no version")
    if binding == "versionTag":
        return p.ctx.definitions.latest_form_key(element.form_id, version_tag=tag)
    if not tag.isdigit():
        raise IncidentError("form", f"form version {tag!r} of '{element.element_id}' is no number")
    return p.ctx.definitions.latest_form_key(element.form_id, version=int(tag))


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
    """A due or follow-up date: a date and time (UTC when it names no zone), or a date
    (its midnight, UTC), or ISO 8601 text of either."""
    if expression is None:
        return None
    value = p.evaluate(expression, scope_key)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise IncidentError("expression", f"expected a date and time, got {value!r}")
