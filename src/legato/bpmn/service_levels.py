"""Service levels: how long a process instance or an element instance is expected to run.

Two spellings, on the process element or on any flow element::

    <bpmn:extensionElements>
      <legato:sla expectedDuration="PT1H" threshold="3"/>
    </bpmn:extensionElements>

    <bpmn:extensionElements>
      <zeebe:properties>   <!-- or camunda:properties -->
        <zeebe:property name="legato.sla.expectedDuration" value="PT1H"/>
        <zeebe:property name="legato.sla.threshold" value="3"/>
      </zeebe:properties>
    </bpmn:extensionElements>

``expectedDuration`` is an ISO 8601 duration (days at most: ``P2D``, ``PT90M``), and
``threshold`` the factor past which a run is overdue (the engine's default, 2, when left
out). A duration that is not one, is zero or negative, or a threshold below 1 is a problem
of the process: deployment refuses it, naming the element and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import isodate

from legato.bpmn._context import ReadContext
from legato.bpmn._dom import CAMUNDA_NS, LEGATO_NS, ZEEBE_NS, Element, extension, extensions, tag
from legato.model.process import ServiceLevel

__all__ = ["EXPECTED_PROPERTY", "THRESHOLD_PROPERTY", "read_service_levels"]

EXPECTED_PROPERTY = "legato.sla.expectedDuration"
"""The extension property that sets an expected duration (Zeebe or Camunda 7 properties)."""
THRESHOLD_PROPERTY = "legato.sla.threshold"
"""The extension property that sets the overdue factor."""


def read_service_levels(
    context: ReadContext, process: Element, elements: Iterable[tuple[str, Element]]
) -> tuple[ServiceLevel, ...]:
    """The service levels of a process (``element_id`` None) and of its flow elements."""
    found = [_service_level(context, process, None)]
    found += [_service_level(context, element, element_id) for element_id, element in elements]
    return tuple(level for level in found if level is not None)


def _service_level(
    context: ReadContext, element: Element, element_id: str | None
) -> ServiceLevel | None:
    sla = extension(element, LEGATO_NS, "sla")
    if sla is not None:
        expected, threshold = sla.get("expectedDuration"), sla.get("threshold")
        what = "legato:sla expectedDuration"
    else:
        properties = _properties(element)
        expected = properties.get(EXPECTED_PROPERTY)
        threshold = properties.get(THRESHOLD_PROPERTY)
        what = EXPECTED_PROPERTY
    if expected is None:
        return None
    problems = len(context.problems)
    duration = _positive_duration(context, expected, element, what)
    factor = _threshold(context, threshold, element)
    if duration is None or len(context.problems) > problems:
        return None
    return ServiceLevel(element_id=element_id, expected_duration=duration, threshold=factor)


def _properties(element: Element) -> dict[str, str]:
    return {
        prop.get("name", ""): prop.get("value", "")
        for namespace in (ZEEBE_NS, CAMUNDA_NS)
        for props in extensions(element, namespace, "properties")
        for prop in props.iterchildren(tag(namespace, "property"))
    }


def _positive_duration(
    context: ReadContext, text: str, owner: Element, what: str
) -> timedelta | None:
    try:
        value = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError):
        value = None
    if not isinstance(value, timedelta) or value <= timedelta(0):
        context.problem(
            "sla",
            f"{what} {text!r} is not a positive ISO 8601 duration in days (like PT1H)",
            owner,
        )
        return None
    return value


def _threshold(context: ReadContext, text: str | None, owner: Element) -> float | None:
    """The factor; None when absent or malformed (then a problem is recorded)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value >= 1 or value == float("inf"):
        context.problem("sla", f"the SLA threshold {text!r} is not a number of at least 1", owner)
        return None
    return value
