"""Equality, ordering and type names of FEEL values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from legato.feel.values import FarDate, Range, YearsMonthsDuration, as_far


def type_name(value: Any) -> str:
    """The FEEL type name of a value (``"number"``, ``"date and time"``, ``"Null"``...)."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, FarDate):
        return "date and time" if value.has_time else "date"
    if isinstance(value, dt.datetime):
        return "date and time"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    return _OTHER_NAMES.get(type(value), _fallback_name(value))


_OTHER_NAMES: dict[type, str] = {
    dt.timedelta: "days and time duration",
    YearsMonthsDuration: "years and months duration",
    list: "list",
    dict: "context",
    Range: "range",
}


def _fallback_name(value: Any) -> str:
    return "function" if callable(value) else type(value).__name__


def time_seconds(value: dt.time) -> tuple[Decimal, bool]:
    """Seconds since midnight in UTC when the time has a fixed offset, and whether it has."""
    seconds = Decimal(value.hour * 3600 + value.minute * 60 + value.second) + Decimal(
        value.microsecond
    ) / Decimal(1_000_000)
    offset = value.utcoffset()
    if offset is None and value.tzinfo is not None:
        offset = value.tzinfo.utcoffset(dt.datetime(2000, 1, 1))
    if offset is None:
        return seconds, False
    return seconds - Decimal(int(offset.total_seconds())), True


def _aware(value: dt.datetime) -> bool:
    return value.utcoffset() is not None


def _to_millisecond(value: dt.datetime) -> dt.datetime:
    """Date-times compare to the millisecond, as the DMN TCK expects (0068-feel-equality)."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def _time_key(value: dt.time) -> tuple[Decimal, bool]:
    """Seconds since midnight (UTC when zoned) to the millisecond, for comparing times."""
    seconds, aware = time_seconds(value.replace(microsecond=value.microsecond // 1000 * 1000))
    return seconds, aware


def compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 when the two values are ordered in FEEL, None when they are not comparable."""
    if left is None or right is None or isinstance(left, bool) or isinstance(right, bool):
        return None
    keys = _order_keys(left, right)
    if keys is None:
        return None
    a, b = keys
    return int((a > b) - (a < b))


def _order_keys(left: Any, right: Any) -> tuple[Any, Any] | None:
    for kind in (Decimal, str, dt.timedelta, YearsMonthsDuration):
        if isinstance(left, kind) and isinstance(right, kind):
            return left, right
    if isinstance(left, FarDate) or isinstance(right, FarDate):
        return _far_keys(left, right)
    if isinstance(left, dt.datetime) or isinstance(right, dt.datetime):
        if isinstance(left, dt.datetime) and isinstance(right, dt.datetime):
            if _aware(left) != _aware(right):
                return None
            return _to_millisecond(left), _to_millisecond(right)
        return None
    if isinstance(left, dt.date) and isinstance(right, dt.date):
        return left, right
    if isinstance(left, dt.time) and isinstance(right, dt.time):
        (a, a_aware), (b, b_aware) = _time_key(left), _time_key(right)
        return (a, b) if a_aware == b_aware else None
    return None


def _far_keys(left: Any, right: Any) -> tuple[Any, Any] | None:
    if not isinstance(left, dt.date | FarDate) or not isinstance(right, dt.date | FarDate):
        return None
    a, b = as_far(left), as_far(right)
    a_time, b_time = isinstance(a.shifted, dt.datetime), isinstance(b.shifted, dt.datetime)
    if a_time != b_time:
        return None
    if isinstance(a.shifted, dt.datetime) and isinstance(b.shifted, dt.datetime):
        if _aware(a.shifted) != _aware(b.shifted):
            return None
        return (a.cycles, _to_millisecond(a.shifted)), (b.cycles, _to_millisecond(b.shifted))
    return (a.cycles, a.shifted), (b.cycles, b.shifted)


def equals(left: Any, right: Any) -> bool | None:
    """FEEL equality: True/False, or None when the two values are of unrelated types."""
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return left == right if isinstance(left, bool) and isinstance(right, bool) else None
    if isinstance(left, list) and isinstance(right, list):
        return _sequence_equals(left, right)
    if isinstance(left, dict) and isinstance(right, dict):
        if left.keys() != right.keys():
            return False
        return _sequence_equals([left[k] for k in left], [right[k] for k in left])
    if isinstance(left, Range) and isinstance(right, Range):
        return _range_equals(left, right)
    if isinstance(left, dt.datetime) and isinstance(right, dt.datetime):
        if _aware(left) != _aware(right):
            return False
        return _to_millisecond(left) == _to_millisecond(right)
    order = compare(left, right)
    if order is not None:
        return order == 0
    if type(left) is type(right) or (callable(left) and callable(right)):
        return left is right or left == right
    return None


def _sequence_equals(left: list[Any], right: list[Any]) -> bool | None:
    if len(left) != len(right):
        return False
    result: bool | None = True
    for a, b in zip(left, right, strict=True):
        same = equals(a, b)
        if same is False:
            return False
        if same is None:
            result = None
    return result


def _range_equals(left: Range, right: Range) -> bool | None:
    if (left.start_included, left.end_included) != (right.start_included, right.end_included):
        return False
    if left.comparison != right.comparison:
        return False
    start, end = equals(left.start, right.start), equals(left.end, right.end)
    if start is False or end is False:
        return False
    return None if start is None or end is None else True


def range_contains(value_range: Range, point: Any) -> bool | None:
    """Whether ``point`` lies in the range; None when it cannot be compared to the endpoints."""
    if point is None:
        return None
    if value_range.start is not None:
        order = compare(point, value_range.start)
        if order is None:
            return None
        if order < 0 or (order == 0 and not value_range.start_included):
            return False
    if value_range.end is not None:
        order = compare(point, value_range.end)
        if order is None:
            return None
        if order > 0 or (order == 0 and not value_range.end_included):
            return False
    return True
