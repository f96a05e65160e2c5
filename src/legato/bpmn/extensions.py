"""Vendor extensions: Zeebe (Camunda 8), Camunda 7 and Legato's own.

Job types of service-like tasks are resolved in this order:

1. ``zeebe:taskDefinition type`` (with ``retries``);
2. Camunda 7: ``camunda:type="external"`` with ``camunda:topic``; ``camunda:class`` (the full
   class name: ``org.acme.PaymentDelegate``); ``camunda:delegateExpression`` and
   ``camunda:expression`` (the expression's body without ``${ }`` or ``#{ }`` and without a
   trailing argument list: ``${paymentDelegate}`` is ``paymentDelegate``,
   ``${payment.charge(execution)}`` is ``payment.charge``), so a handler is registered
   under the bean, method or class a Camunda 7 delegate used; a ``camunda:connector``'s
   ``connectorId`` or any other ``camunda:type``;
3. plain BPMN: the ``implementation`` attribute when it is a plain name (not ``##WebService``,
   ``##unspecified`` or a URI), else the element id, so a handler can be registered by id.

An extension that is present but incomplete (a task definition without a type, an external
task without a topic) is a problem of the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import isodate

from legato.bpmn._context import ReadContext
from legato.bpmn._dom import (
    CAMUNDA_NS,
    LEGATO_NS,
    ZEEBE_NS,
    Element,
    attribute,
    extension,
    extensions,
    flag,
    tag,
    text_of,
)
from legato.bpmn.juel import is_juel
from legato.model.elements import RetryPolicy
from legato.model.expressions import Expression

__all__ = [
    "JobSettings",
    "business_rule_fields",
    "call_activity_fields",
    "has_job_extension",
    "process_version_tag",
    "read_job",
    "user_task_fields",
]

_URI = re.compile(r"^(##|[A-Za-z][A-Za-z0-9+.-]*:)")


@dataclass(frozen=True, slots=True)
class JobSettings:
    """What a job worker task's extensions say about its jobs."""

    job_type: Expression | None = None
    retries: Expression | None = None
    headers: tuple[tuple[str, str], ...] = ()
    retry_policy: RetryPolicy | None = None
    timeout: timedelta | None = None
    properties: tuple[tuple[str, str], ...] = ()
    priority: int = 0

    def as_fields(self) -> dict[str, Any]:
        """The fields of :class:`~legato.model.elements.JobWorkerTask` these settings fill."""
        return {
            "job_type": self.job_type,
            "retries": self.retries,
            "headers": self.headers,
            "retry_policy": self.retry_policy,
            "timeout": self.timeout,
            "properties": self.properties,
            "priority": self.priority,
        }


def read_job(context: ReadContext, element: Element, *, fallback: bool = True) -> JobSettings:
    """The job settings of a task; ``fallback`` gives a plain task a job type (see module)."""
    definition = extension(element, ZEEBE_NS, "taskDefinition")
    retries = None
    if definition is not None:
        job_type = _zeebe_job_type(context, definition, element)
        retries = context.value(attribute(definition, "retries"), element, "retries")
    else:
        job_type = _camunda_job_type(context, element)
        if job_type is None and fallback:
            job_type = Expression.static(_plain_job_type(element))
    return JobSettings(
        job_type=job_type,
        retries=retries,
        headers=_headers(element),
        retry_policy=_retry_policy(context, element),
        timeout=_timeout(context, element),
        properties=_properties(element),
        priority=_priority(element),
    )


def has_job_extension(element: Element) -> bool:
    """True when a Zeebe task definition or a Camunda 7 implementation is present."""
    if extension(element, ZEEBE_NS, "taskDefinition") is not None:
        return True
    names = ("type", "class", "delegateExpression", "expression")
    return any(element.get(tag(CAMUNDA_NS, name)) for name in names)


def _zeebe_job_type(context: ReadContext, definition: Element, owner: Element) -> Expression | None:
    type_text = attribute(definition, "type")
    if type_text is None:
        context.problem("job-type", "zeebe:taskDefinition has no job type", owner)
        return None
    return context.value(type_text, owner, "the job type")


def _camunda_job_type(context: ReadContext, element: Element) -> Expression | None:
    kind = attribute(element, "type", CAMUNDA_NS)
    if kind == "external":
        topic = attribute(element, "topic", CAMUNDA_NS)
        if topic is None:
            context.problem("job-type", "an external task without camunda:topic", element)
            return None
        return context.value(topic, element, "the topic")
    class_name = attribute(element, "class", CAMUNDA_NS)
    if class_name is not None:
        return Expression.static(class_name)
    for name in ("delegateExpression", "expression"):
        value = attribute(element, name, CAMUNDA_NS)
        if value is not None:
            return Expression.static(delegate_job_type(value))
    connector = extension(element, CAMUNDA_NS, "connector")
    if connector is not None:
        connector_id = text_of(connector.find(tag(CAMUNDA_NS, "connectorId")))
        if connector_id is not None:
            return Expression.static(connector_id)
    return Expression.static(kind) if kind is not None else None


_DELEGATE = re.compile(r"^[$#]\{\s*(?P<body>.*?)\s*\}$", re.DOTALL)
_ARGUMENTS = re.compile(r"\s*\([^()]*\)$")


def delegate_job_type(expression: str) -> str:
    """The job type of a ``camunda:delegateExpression`` or ``camunda:expression``: its body
    without ``${ }`` and without a trailing argument list (the text itself when it is not a
    single expression)."""
    text = expression.strip()
    found = _DELEGATE.match(text)
    if found is None:
        return text
    body = found.group("body")
    return _ARGUMENTS.sub("", body) or body


def _plain_job_type(element: Element) -> str:
    implementation = attribute(element, "implementation")
    if implementation is not None and not _URI.match(implementation):
        return implementation
    return element.get("id") or ""


def _headers(element: Element) -> tuple[tuple[str, str], ...]:
    return tuple(
        (header.get("key", ""), header.get("value", ""))
        for headers in extensions(element, ZEEBE_NS, "taskHeaders")
        for header in headers.iterchildren(tag(ZEEBE_NS, "header"))
    )


def _properties(element: Element) -> tuple[tuple[str, str], ...]:
    """Extension properties (``camunda:properties``, ``zeebe:properties``), which external
    workers may ask for (Camunda 7's ``extensionProperties``)."""
    return tuple(
        (prop.get("name", ""), prop.get("value", ""))
        for namespace in (CAMUNDA_NS, ZEEBE_NS)
        for props in extensions(element, namespace, "properties")
        for prop in props.iterchildren(tag(namespace, "property"))
    )


def _priority(element: Element) -> int:
    """``camunda:taskPriority`` when it is a number (an expression counts as 0)."""
    text = (attribute(element, "taskPriority", CAMUNDA_NS) or "").strip()
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


# ---------------------------------------------------------------------------------------------
# Retries and timeouts


def _duration(
    context: ReadContext, text: str | None, owner: Element, what: str
) -> timedelta | None:
    if text is None:
        return None
    try:
        value = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError):
        value = None
    if not isinstance(value, timedelta):
        context.problem("duration", f"{what} {text!r} is not an ISO 8601 duration in days", owner)
        return None
    return value


def _retry_policy(context: ReadContext, element: Element) -> RetryPolicy | None:
    retry = extension(element, LEGATO_NS, "retry")
    if retry is not None:
        return _legato_retry(context, retry, element)
    cycle = text_of(extension(element, CAMUNDA_NS, "failedJobRetryTimeCycle"))
    if cycle is not None:
        return _camunda_retry(context, cycle, element)
    return None


def _legato_retry(context: ReadContext, retry: Element, owner: Element) -> RetryPolicy | None:
    default = RetryPolicy()
    try:
        attempts = int(retry.get("maxAttempts", default.max_attempts))
        coefficient = float(retry.get("backoffCoefficient", default.backoff_coefficient))
        jitter = float(retry.get("jitter", default.jitter))
    except ValueError as exc:
        context.problem("retry-policy", f"legato:retry has an invalid number: {exc}", owner)
        return None
    initial = _duration(context, retry.get("initialInterval"), owner, "initialInterval")
    maximum = _duration(context, retry.get("maximumInterval"), owner, "maximumInterval")
    if attempts < 1 or coefficient < 1 or not 0 <= jitter <= 1:
        context.problem(
            "retry-policy",
            "legato:retry needs maxAttempts >= 1, backoffCoefficient >= 1, 0 <= jitter <= 1",
            owner,
        )
        return None
    return RetryPolicy(
        max_attempts=attempts,
        initial_interval=initial or default.initial_interval,
        backoff_coefficient=coefficient,
        maximum_interval=maximum or default.maximum_interval,
        jitter=jitter,
    )


def _camunda_retry(context: ReadContext, cycle: str, owner: Element) -> RetryPolicy | None:
    """``R3/PT10M``: 3 attempts in all, 10 minutes apart (as Camunda 7 counts them).

    A list ``PT1M,PT5M,PT10M`` gives one attempt more than it has intervals, and a backoff
    from the first interval towards the largest.
    """
    match = re.fullmatch(r"R(\d+)/(.+)", cycle.strip())
    if match is not None:
        interval = _duration(context, match.group(2), owner, "failedJobRetryTimeCycle")
        if interval is None:
            return None
        return RetryPolicy(
            max_attempts=max(1, int(match.group(1))),
            initial_interval=interval,
            backoff_coefficient=1.0,
            maximum_interval=interval,
            jitter=0.0,
        )
    intervals = [
        _duration(context, part, owner, "failedJobRetryTimeCycle") for part in cycle.split(",")
    ]
    known = [interval for interval in intervals if interval is not None]
    if len(known) != len(intervals):
        return None
    coefficient = (
        known[1] / known[0] if len(known) > 1 and known[0] and known[1] > known[0] else 1.0
    )
    return RetryPolicy(
        max_attempts=len(known) + 1,
        initial_interval=known[0],
        backoff_coefficient=coefficient,
        maximum_interval=max(known),
        jitter=0.0,
    )


def _timeout(context: ReadContext, element: Element) -> timedelta | None:
    timeout = extension(element, LEGATO_NS, "timeout")
    if timeout is None:
        return None
    return _duration(context, timeout.get("duration"), element, "legato:timeout duration")


# ---------------------------------------------------------------------------------------------
# Element kinds


def user_task_fields(context: ReadContext, element: Element) -> dict[str, Any]:
    """Assignment, form and schedule of a user task, Zeebe first, then Camunda 7."""
    zeebe: dict[str, str | None] = {}
    for name, attrs in (
        ("assignmentDefinition", ("assignee", "candidateUsers", "candidateGroups")),
        ("taskSchedule", ("dueDate", "followUpDate")),
        ("priorityDefinition", ("priority",)),
        ("formDefinition", ("formKey", "formId", "externalReference")),
    ):
        found = extension(element, ZEEBE_NS, name)
        for attr in attrs:
            zeebe[attr] = attribute(found, attr) if found is not None else None

    def pick(name: str) -> str | None:
        return zeebe.get(name) or attribute(element, name, CAMUNDA_NS)

    fields: dict[str, Any] = {
        field: context.value(pick(name), element, name)
        for field, name in (
            ("assignee", "assignee"),
            ("candidate_users", "candidateUsers"),
            ("candidate_groups", "candidateGroups"),
            ("due_date", "dueDate"),
            ("follow_up_date", "followUpDate"),
            ("priority", "priority"),
        )
    }
    fields.update(_form_fields(context, element, zeebe))
    return fields


EMBEDDED_FORM_PREFIX = "camunda-forms:bpmn:"
"""A form key naming a form embedded in the process (``zeebe:userTaskForm``)."""


def _form_fields(
    context: ReadContext, element: Element, zeebe: dict[str, str | None]
) -> dict[str, Any]:
    # form_key keeps what earlier versions gave: the first of the Zeebe form attributes.
    form_key = (
        zeebe["formKey"]
        or zeebe["formId"]
        or zeebe["externalReference"]
        or attribute(element, "formKey", CAMUNDA_NS)
    )
    form_id = zeebe["formId"] or attribute(element, "formRef", CAMUNDA_NS)
    definition = extension(element, ZEEBE_NS, "formDefinition")
    binding = (
        attribute(definition, "bindingType") if definition is not None else None
    ) or attribute(element, "formRefBinding", CAMUNDA_NS)
    fields: dict[str, Any] = {
        "form_key": form_key,
        "form_id": form_id,
        "form_binding": binding or "latest",
        "form_version_tag": (
            attribute(definition, "versionTag") if definition is not None else None
        )
        or attribute(element, "formRefVersion", CAMUNDA_NS),
        "external_form_reference": context.value(
            zeebe["externalReference"], element, "the external form reference"
        ),
    }
    if form_key is not None and form_key.startswith(EMBEDDED_FORM_PREFIX):
        embedded_id = form_key.removeprefix(EMBEDDED_FORM_PREFIX)
        fields["form_id"] = form_id or embedded_id
        fields["embedded_form"] = _embedded_form(element, embedded_id)
        if fields["embedded_form"] is None:
            context.problem(
                "form", f"no zeebe:userTaskForm with id '{embedded_id}' in the process", element
            )
    return fields


def _embedded_form(element: Element, form_id: str) -> str | None:
    """The JSON of the ``zeebe:userTaskForm`` with this id in an enclosing element."""
    owner = element.getparent()
    while owner is not None:
        for form in extensions(owner, ZEEBE_NS, "userTaskForm"):
            if form.get("id") == form_id:
                return text_of(form) or ""
        owner = owner.getparent()
    return None


def call_activity_fields(context: ReadContext, element: Element) -> dict[str, Any]:
    """The called process and the variable propagation of a call activity."""
    called = extension(element, ZEEBE_NS, "calledElement")
    fields: dict[str, Any] = {}
    if called is not None:
        process_id = attribute(called, "processId")
        fields["propagate_all_child_variables"] = flag(called, "propagateAllChildVariables", True)
        fields["propagate_all_parent_variables"] = flag(called, "propagateAllParentVariables", True)
    else:
        process_id = attribute(element, "calledElement")
        fields.update(_camunda_propagation(element))
    if process_id is None:
        context.problem("called-element", "the call activity names no process to call", element)
    fields["called_element"] = context.value(process_id, element, "the called element")
    return fields


def _camunda_propagation(element: Element) -> dict[str, Any]:
    """Camunda 7 passes no variables unless ``camunda:in``/``out variables="all"`` says so."""
    fields: dict[str, Any] = {}
    for direction, field in (
        ("in", "propagate_all_parent_variables"),
        ("out", "propagate_all_child_variables"),
    ):
        declared = list(extensions(element, CAMUNDA_NS, direction))
        if declared:
            fields[field] = any(item.get("variables") == "all" for item in declared)
    return fields


def business_rule_fields(context: ReadContext, element: Element) -> dict[str, Any] | None:
    """The decision a business rule task evaluates; None when it runs as a job instead."""
    called = extension(element, ZEEBE_NS, "calledDecision")
    if called is not None:
        decision_id = attribute(called, "decisionId")
        result_variable = attribute(called, "resultVariable")
    else:
        decision_id = attribute(element, "decisionRef", CAMUNDA_NS)
        result_variable = attribute(element, "resultVariable", CAMUNDA_NS)
    if decision_id is None:
        return None
    if not decision_id.startswith("=") and not is_juel(decision_id):
        context.decisions.append(decision_id)
    return {"decision_id": decision_id, "result_variable": result_variable}


def process_version_tag(element: Element) -> str | None:
    """A process's version tag: ``<zeebe:versionTag value="..."/>`` in its extension elements
    (Camunda 8), else its ``camunda:versionTag`` attribute (Camunda 7)."""
    zeebe = extension(element, ZEEBE_NS, "versionTag")
    if zeebe is not None:
        tag_value = attribute(zeebe, "value")
        if tag_value is not None:
            return tag_value
    return attribute(element, "versionTag", CAMUNDA_NS)
