"""Sensitive data declared in the process model: the variables, or paths into them, whose
values must not be shown to whoever may not see them (nor stored in the clear).

Two spellings, on the process element::

    <bpmn:extensionElements>
      <legato:sensitive variables="applicant.ssn, iban"/>
    </bpmn:extensionElements>

    <bpmn:extensionElements>
      <zeebe:properties>   <!-- or camunda:properties -->
        <zeebe:property name="legato.sensitive" value="applicant.ssn iban"/>
      </zeebe:properties>
    </bpmn:extensionElements>

The names are separated by commas or spaces; a dotted name is a path into a variable's value
(see :mod:`legato.model.sensitive`). Several ``legato:sensitive`` elements add up. A path
with an empty segment (``applicant..ssn``) is a problem of the process: deployment refuses
it, naming the element and line.
"""

from __future__ import annotations

import re

from legato.bpmn._context import ReadContext
from legato.bpmn._dom import CAMUNDA_NS, LEGATO_NS, ZEEBE_NS, Element, extensions, line_of, tag
from legato.errors import SourceLocation, ValidationIssue
from legato.model.sensitive import SensitivePath, parse_sensitive_path

__all__ = ["SENSITIVE_PROPERTY", "read_sensitive", "split_sensitive"]

SENSITIVE_PROPERTY = "legato.sensitive"
"""The extension property that lists sensitive variables (Zeebe or Camunda 7 properties)."""

_SEPARATORS = re.compile(r"[\s,]+")


def split_sensitive(text: str) -> list[str]:
    """``"applicant.ssn, iban"`` -> ``["applicant.ssn", "iban"]`` (commas or spaces)."""
    return [part for part in _SEPARATORS.split(text) if part]


def read_sensitive(context: ReadContext, process: Element) -> tuple[SensitivePath, ...]:
    """The sensitive paths a process declares, in order, without repeats; a malformed one is
    recorded as a problem at the element that names it."""
    found: list[SensitivePath] = []
    for declared in extensions(process, LEGATO_NS, "sensitive"):
        _add(context, process, declared, declared.get("variables", ""), "legato:sensitive", found)
    for namespace in (ZEEBE_NS, CAMUNDA_NS):
        for props in extensions(process, namespace, "properties"):
            for prop in props.iterchildren(tag(namespace, "property")):
                if prop.get("name") == SENSITIVE_PROPERTY:
                    _add(context, process, prop, prop.get("value", ""), SENSITIVE_PROPERTY, found)
    return tuple(dict.fromkeys(found))


def _add(
    context: ReadContext,
    process: Element,
    declared: Element,
    text: str,
    what: str,
    found: list[SensitivePath],
) -> None:
    names = split_sensitive(text)
    if not names:
        _problem(context, process, declared, f"{what} names no variable")
    for name in names:
        try:
            found.append(parse_sensitive_path(name))
        except ValueError as error:
            _problem(context, process, declared, f"{what}: {error}")


def _problem(context: ReadContext, process: Element, declared: Element, message: str) -> None:
    """A problem of the process, at the line of the declaration that has it."""
    location = SourceLocation(context.file_name, line_of(declared), process.get("id"))
    context.problems.append(ValidationIssue("sensitive", message, location))
