"""Rules about timer event definitions: one time expression, and valid ISO 8601 literals.

A timer value is usually a literal (``PT5M``, ``R3/PT1H``, ``2025-01-01T10:00:00Z``) but may be
an expression of the process's expression language. Only values that look like a bare literal
(no spaces, quotes, brackets, ``${…}`` or a leading ``=``) and do not read as a variable name
are checked against ISO 8601.
"""

from __future__ import annotations

import re

import isodate
from croniter import croniter
from lxml import etree

from legato.bpmn.rules.context import ModelContext, children, text_of
from legato.errors import ValidationIssue

TIME_ELEMENTS = ("timeDate", "timeCycle", "timeDuration")
LITERAL = re.compile(r"^[A-Za-z0-9:.,+\-/]+$")
ISO_START = re.compile(r"^(\d|-?P\d|-?PT|R\d*/)")
REPEAT = re.compile(r"^R\d*$")
RULE_FOR = {"timeDate": "EXT132", "timeCycle": "EXT133", "timeDuration": "EXT134"}


def _is_date_time(value: str) -> bool:
    try:
        isodate.parse_datetime(value)
    except (ValueError, isodate.ISO8601Error):
        try:
            isodate.parse_date(value)
        except (ValueError, isodate.ISO8601Error):
            return False
    return True


def _is_duration(value: str) -> bool:
    try:
        isodate.parse_duration(value)
    except (ValueError, isodate.ISO8601Error):
        return False
    return value.startswith(("P", "-P"))


def _is_interval_part(value: str) -> bool:
    return _is_duration(value) or _is_date_time(value)


def _is_cycle(value: str) -> bool:
    parts = value.split("/")
    if REPEAT.match(parts[0]):
        parts = parts[1:]
    if not parts or len(parts) > 2:
        return False
    return all(_is_interval_part(p) for p in parts)


def _meant_as_literal(value: str) -> bool:
    """ISO-looking text, or an upper-case token (a lower-case word may name a variable)."""
    return bool(ISO_START.match(value)) or value.isupper()


VALID = {"timeDate": _is_date_time, "timeCycle": _is_cycle, "timeDuration": _is_duration}


def valid_literal(kind: str, value: str) -> bool:
    """Whether a timer value is acceptable: an expression, or a valid ISO 8601 literal."""
    if not LITERAL.match(value) or not _meant_as_literal(value):
        return True
    return VALID[kind](value)


def is_time_literal(kind: str, value: str) -> bool:
    """Whether a timer value is a valid ISO 8601 literal of its kind (or a cron cycle)."""
    if kind == "timeCycle" and len(value.split()) == 6:
        return bool(croniter.is_valid(value, second_at_beginning=True))
    return bool(LITERAL.match(value)) and VALID[kind](value)


def _definition_issues(ctx: ModelContext, definition: etree._Element) -> list[ValidationIssue]:
    values = children(definition, *TIME_ELEMENTS)
    if len(values) > 1:
        message = "a timer event definition takes one of timeDate, timeCycle or timeDuration"
        return [ctx.issue("timer-definition", message, definition)]
    issues: list[ValidationIssue] = []
    for value in values:
        kind = value.tag.rsplit("}", 1)[-1] if isinstance(value.tag, str) else ""
        text = text_of(value)
        if text and not valid_literal(kind, text):
            message = f"'{text}' is not a valid ISO 8601 {kind}"
            issues.append(ctx.issue(RULE_FOR[kind], message, _located(definition)))
    return issues


def _located(definition: etree._Element) -> etree._Element:
    """The definition when it has an id, else its event, so the issue names an element."""
    event = definition.getparent()
    return event if not definition.get("id") and event is not None else definition


def check_timers(ctx: ModelContext) -> list[ValidationIssue]:
    """Timer values are valid ISO 8601 dates, cycles and durations (EXT132-EXT134)."""
    issues: list[ValidationIssue] = []
    for definition in ctx.bpmn_elements("timerEventDefinition"):
        issues.extend(_definition_issues(ctx, definition))
    return issues


RULES = [check_timers]
