"""Conversion functions: date, time, date and time, duration, number, string, context."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from legato.feel import temporal
from legato.feel.builtins.registry import builtin, fail
from legato.feel.formatting import format_value, text_length
from legato.feel.limits import SMALL_STRING
from legato.feel.runtime import Run
from legato.feel.values import FarDate, YearsMonthsDuration, far_date_of


def _integer(value: Decimal, what: str) -> int:
    if value != value.to_integral_value():
        raise fail(f"{what} must be an integer, got {value}")
    return int(value)


@builtin("date", "from: string")
def date_from_string(text: str) -> dt.date | FarDate:
    value = temporal.parse_date(text)
    if value is None:
        raise fail(f"invalid date {text!r}")
    return value


@builtin("date", "from: date")
def date_from_date(value: dt.date | FarDate) -> dt.date | FarDate:
    return temporal.date_part(value)


@builtin("date", "year: number", "month: number", "day: number")
def date_from_parts(year: Decimal, month: Decimal, day: Decimal) -> dt.date | FarDate:
    parts = (_integer(year, "year"), _integer(month, "month"), _integer(day, "day"))
    if not -999_999_999 <= parts[0] <= 999_999_999:
        raise fail(f"year {parts[0]} is out of range")
    try:
        return far_date_of(*parts)
    except ValueError as error:
        raise fail(str(error)) from error


@builtin("time", "from: string")
def time_from_string(text: str) -> dt.time:
    value = temporal.parse_time(text)
    if value is None:
        date_time = temporal.parse_date_time(text) if "T" in text else None
        clock = date_time.shifted if isinstance(date_time, FarDate) else date_time
        if not isinstance(clock, dt.datetime):
            raise fail(f"invalid time {text!r}")
        return clock.timetz()
    return value


@builtin("time", "from: time")
def time_from_time(value: dt.time) -> dt.time:
    return value


@builtin("time", "from: date")
def time_from_date(value: dt.date | FarDate) -> dt.time:
    if isinstance(value, FarDate):
        value = value.shifted
    if isinstance(value, dt.datetime):
        return value.timetz()
    return dt.time(0, 0, tzinfo=dt.UTC)


@builtin("time", "hour: number", "minute: number", "second: number", "offset: any?")
def time_from_parts(hour: Decimal, minute: Decimal, second: Decimal, offset: Any = None) -> dt.time:
    whole = _integer(second.to_integral_value(rounding="ROUND_FLOOR"), "second")
    micro = int((second - whole) * 1_000_000)
    zone = None
    if offset is not None:
        if not isinstance(offset, dt.timedelta) or abs(offset) > dt.timedelta(hours=18):
            raise fail("offset must be a days and time duration within ±18 hours")
        zone = dt.timezone(offset)
    try:
        return dt.time(_integer(hour, "hour"), _integer(minute, "minute"), whole, micro, zone)
    except ValueError as error:
        raise fail(str(error)) from error


@builtin("date and time", "from: string")
def date_time_from_string(text: str) -> dt.datetime | FarDate:
    value = temporal.parse_date_time(text)
    if value is None:
        raise fail(f"invalid date and time {text!r}")
    return value


@builtin("date and time", "from: date")
def date_time_from_date(value: dt.date | FarDate) -> dt.datetime | FarDate:
    moved: dt.datetime | FarDate = temporal.at_midnight(value)
    return moved


@builtin("date and time", "date: date", "time: time")
def date_time_from_parts(date: dt.date | FarDate, time: dt.time) -> dt.datetime | FarDate:
    combined: dt.datetime | FarDate = temporal.combine(temporal.date_part(date), time)
    return combined


@builtin("date and time", "date: date", "time: time", "timezone: string")
def date_time_in_zone(
    date: dt.date | FarDate, time: dt.time, timezone: str
) -> dt.datetime | FarDate:
    zone = temporal.parse_zone(timezone)
    if zone is None:
        raise fail(f"unknown time zone {timezone!r}")
    return date_time_from_parts(date, time.replace(tzinfo=zone))


@builtin("duration", "from: string")
def duration(text: str) -> dt.timedelta | YearsMonthsDuration:
    value = temporal.parse_duration(text)
    if value is None:
        raise fail(f"invalid duration {text!r}")
    return value


@builtin("duration", "from: duration")
def duration_from_duration(value: Any) -> Any:
    return value


@builtin("years and months duration", "from: date", "to: date")
def years_and_months(start: dt.date | FarDate, end: dt.date | FarDate) -> YearsMonthsDuration:
    if _has_time(start) != _has_time(end):
        start, end = temporal.date_part(start), temporal.date_part(end)
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and _day_time(end) < _day_time(start):
        months -= 1
    elif months < 0 and _day_time(end) > _day_time(start):
        months += 1
    return YearsMonthsDuration(months)


def _has_time(value: dt.date | FarDate) -> bool:
    return value.has_time if isinstance(value, FarDate) else isinstance(value, dt.datetime)


def _day_time(value: dt.date | FarDate) -> int:
    return value.day


_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")


@builtin("number", "from: string", "grouping separator: any?", "decimal separator: any?")
def number(text: str, grouping: Any = None, decimal_separator: Any = None) -> Decimal:
    if grouping not in (None, " ", ",", ".") or decimal_separator not in (None, ".", ","):
        raise fail("grouping separator must be ' ', ',' or '.'; decimal separator ',' or '.'")
    if grouping is not None and grouping == decimal_separator:
        raise fail("grouping and decimal separators must differ")
    if grouping:
        text = text.replace(grouping, "")
    if decimal_separator:
        text = text.replace(decimal_separator, ".")
    if not _NUMBER.fullmatch(text):
        raise fail(f"not a number: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation as error:
        raise fail(f"not a number: {text!r}") from error


@builtin("string", "from: any", needs_run=True)
def string(run: Run, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    budget = run.budget or run.open_budget()
    length = text_length(value, min(budget.limits.string_length, budget.memory))
    if length > SMALL_STRING:
        budget.string(length)
    return format_value(value)


@builtin("context", "entries: list", builds=True)
def context(entries: list[Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise fail("each entry must be a context with a string 'key' and a 'value'")
        if "value" not in entry:
            raise fail("each entry must have a 'value'")
        if entry["key"] in result:
            raise fail(f"duplicate key {entry['key']!r}")
        result[entry["key"]] = entry["value"]
    return result
