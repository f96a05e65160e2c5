"""The text form of FEEL values, as produced by ``string()``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from legato.feel import temporal
from legato.feel.values import FarDate, Range, YearsMonthsDuration


def format_number(value: Decimal) -> str:
    """A number without exponent notation (``1E+2`` is written ``100``)."""
    text = format(value, "f")
    return "0" if text in ("-0", "0") else text


def format_value(value: Any) -> str:
    """The FEEL text of a value (strings as they are)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, FarDate):
        return temporal.format_date_time(value) if value.has_time else temporal.format_date(value)
    if isinstance(value, dt.datetime):
        return temporal.format_date_time(value)
    if isinstance(value, dt.date):
        return temporal.format_date(value)
    if isinstance(value, dt.time):
        return temporal.format_time(value)
    if isinstance(value, dt.timedelta):
        return temporal.format_duration(value)
    if isinstance(value, YearsMonthsDuration | Range):
        return _format_composite(value)
    return _format_composite(value)


def _format_composite(value: Any) -> str:
    if isinstance(value, YearsMonthsDuration):
        return str(value)
    if isinstance(value, Range):
        left = "[" if value.start_included else "("
        right = "]" if value.end_included else ")"
        return f"{left}{_literal(value.start)}..{_literal(value.end)}{right}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_literal(item)}" for key, item in value.items()) + "}"
    return str(value)


def _literal(value: Any) -> str:
    """A value as it would be written inside a list or context."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    return format_value(value)
