"""Properties of FEEL values reached with a path: ``date.year``, ``range.start``..."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from legato.feel.runtime import MISSING
from legato.feel.values import FarDate, Range, YearsMonthsDuration

Getter = Callable[[Any], Any]


def _seconds(value: dt.time | dt.datetime) -> Decimal:
    second = Decimal(value.second)
    return second + Decimal(value.microsecond) / 1_000_000 if value.microsecond else second


def _offset(value: dt.time | dt.datetime) -> dt.timedelta | None:
    offset = value.utcoffset()
    if offset is None and isinstance(value, dt.time) and value.tzinfo is not None:
        offset = value.tzinfo.utcoffset(dt.datetime(2000, 1, 1))
    return offset


def _zone(value: dt.time | dt.datetime) -> str | None:
    return value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None


_DATE: dict[str, Getter] = {
    "year": lambda v: Decimal(v.year),
    "month": lambda v: Decimal(v.month),
    "day": lambda v: Decimal(v.day),
    "weekday": lambda v: Decimal(v.isoweekday()),
}
_TIME: dict[str, Getter] = {
    "hour": lambda v: Decimal(v.hour),
    "minute": lambda v: Decimal(v.minute),
    "second": _seconds,
    "time offset": _offset,
    "timezone": _zone,
}


def _duration_part(value: dt.timedelta, part: str) -> Decimal:
    sign = -1 if value < dt.timedelta() else 1
    magnitude = abs(value)
    hours, rest = divmod(magnitude.seconds, 3600)
    parts = {
        "days": magnitude.days,
        "hours": hours,
        "minutes": rest // 60,
        "seconds": rest % 60,
    }
    return Decimal(sign * parts[part])


def _duration_getter(part: str) -> Getter:
    return lambda value: _duration_part(value, part)


_DAYS_TIME: dict[str, Getter] = {
    name: _duration_getter(name) for name in ("days", "hours", "minutes", "seconds")
}
_YEARS_MONTHS: dict[str, Getter] = {
    "years": lambda v: Decimal(v.years_part),
    "months": lambda v: Decimal(v.months_part),
}
_RANGE: dict[str, Getter] = {
    "start": lambda v: v.start,
    "end": lambda v: v.end,
    "start included": lambda v: v.start_included,
    "end included": lambda v: v.end_included,
}

_DATE_TIME = {**_DATE, **_TIME}

PROPERTY_NAMES = ("time offset", "start included", "end included")
"""Multi-word property names the parser must know."""


def get_property(value: Any, name: str) -> Any:
    """The property ``name`` of a temporal value, duration or range, or ``MISSING``."""
    if isinstance(value, FarDate):
        # the shifted date shares month, day, weekday and time of day with the real one
        return Decimal(value.year) if name == "year" else get_property(value.shifted, name)
    table = _table(value)
    getter = table.get(name) if table else None
    return MISSING if getter is None else getter(value)


def _table(value: Any) -> dict[str, Getter] | None:
    if isinstance(value, dt.datetime):
        return _DATE_TIME
    if isinstance(value, dt.date):
        return _DATE
    if isinstance(value, dt.time):
        return _TIME
    if isinstance(value, dt.timedelta):
        return _DAYS_TIME
    if isinstance(value, YearsMonthsDuration):
        return _YEARS_MONTHS
    if isinstance(value, Range):
        return _RANGE
    return None
