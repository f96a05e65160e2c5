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


def text_length(value: Any, limit: int) -> int:
    """The length of ``format_value(value)``, computed without building it; once it is
    clearly more than ``limit``, some number above ``limit``."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Decimal):
        return _number_length(value)
    if isinstance(value, list | dict):
        total = 2 + 2 * max(len(value) - 1, 0)
        if isinstance(value, dict):
            items: Any = value.values()
            total += sum(len(key) + 2 for key in value)
        else:
            items = value
        for item in items:
            if total > limit:
                break
            if isinstance(item, str):
                total += len(item) + 2 + item.count('"') + item.count("\\")
            else:
                total += text_length(item, limit - total)
        return total
    return len(format_value(value))


def _number_length(value: Decimal) -> int:
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # infinity or NaN
        return len(str(value))
    if exponent >= 0:
        return sign + len(digits) + exponent
    return sign + max(len(digits), 1 - exponent) + 1
