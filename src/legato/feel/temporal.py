"""Parsing, formatting and arithmetic of FEEL dates, times and durations."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from legato.feel.values import (
    CYCLE_DAYS,
    FarDate,
    YearsMonthsDuration,
    as_far,
    far_date,
    far_date_of,
)

_DATE = re.compile(r"(-?(?:[1-9]\d{4,8}|\d{4}))-(\d\d)-(\d\d)")
_TIME = re.compile(
    r"(\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
    r"(?:(?P<z>[zZ])|(?P<offset>[+-]\d\d:\d\d(?::\d\d)?)|@(?P<zone>[A-Za-z][\w/+\-]*))?"
)
_DT_DURATION = re.compile(
    r"(-)?P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?"
)
_DATE_TIME_PREFIX = re.compile(r"-?\d+-\d\d-\d\dT")
_YM_DURATION = re.compile(r"(-)?P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?")


def parse_date(text: str) -> dt.date | FarDate | None:
    """A date from ``YYYY-MM-DD`` (years up to nine digits, signed), or None when invalid."""
    match = _DATE.fullmatch(text)
    if not match:
        return None
    try:
        return far_date_of(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_zone(name: str) -> dt.tzinfo | None:
    """The time zone named by an IANA id (or ``Z``/``UTC``), or None if unknown."""
    if name in ("Z", "z"):
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_time(text: str) -> dt.time | None:
    """A time from ``HH:MM:SS[.fff][Z|+hh:mm|@zone]``, or None when invalid."""
    match = _TIME.fullmatch(text)
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    micro = int((match[4] or "0")[:6].ljust(6, "0"))
    zone = _zone_of(match)
    if zone is False or hour > 24 or (hour == 24 and (minute or second or micro)):
        return None
    try:
        return dt.time(
            hour % 24, minute, second, micro, tzinfo=zone if isinstance(zone, dt.tzinfo) else None
        )
    except ValueError:
        return None


def _zone_of(match: re.Match[str]) -> dt.tzinfo | bool | None:
    if match["z"]:
        return dt.UTC
    if match["offset"]:
        sign = -1 if match["offset"][0] == "-" else 1
        parts = [int(p) for p in match["offset"][1:].split(":")]
        seconds = parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)
        if seconds > 18 * 3600:
            return False
        return dt.timezone(dt.timedelta(seconds=sign * seconds))
    if match["zone"]:
        return parse_zone(match["zone"]) or False
    return None


def parse_date_time(text: str) -> dt.datetime | FarDate | None:
    """A date and time from ``date'T'time`` (or a date alone, at midnight), or None."""
    date_text, separator, time_text = text.partition("T")
    date = parse_date(date_text)
    if date is None:
        return None
    if not separator:
        return combine(date, dt.time())
    time = parse_time(time_text)
    if time is None:
        return None
    if time_text.startswith("24"):
        date = shift(date, dt.timedelta(days=1))
    return combine(date, time)


def combine(date: dt.date | FarDate, time: dt.time) -> dt.datetime | FarDate:
    """A date and time from a date and a time (keeping the time's zone)."""
    if isinstance(date, FarDate):
        return far_date(_combine(date.shifted, time), date.cycles)
    return _combine(date, time)


def _combine(date: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(date, time.replace(tzinfo=None)).replace(tzinfo=time.tzinfo)


def date_part(value: dt.date | FarDate) -> dt.date | FarDate:
    """The date of a date and time (a date stays as it is)."""
    if isinstance(value, FarDate):
        shifted = value.shifted
        plain = shifted.date() if isinstance(shifted, dt.datetime) else shifted
        return far_date(plain, value.cycles)
    return value.date() if isinstance(value, dt.datetime) else value


def at_midnight(value: dt.date | FarDate) -> dt.datetime | FarDate:
    """A date as a date and time at midnight (a date and time stays as it is)."""
    if isinstance(value, FarDate):
        return value if value.has_time else combine(value, dt.time())
    return value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())


def shift(
    value: dt.date | FarDate, duration: dt.timedelta | YearsMonthsDuration
) -> dt.date | FarDate:
    """A date or date and time moved by a duration; years beyond 1-9999 give a far date."""
    far = as_far(value)
    moved: dt.date
    if isinstance(duration, YearsMonthsDuration):
        moved = add_months(far.shifted, duration.months)
    elif isinstance(far.shifted, dt.datetime):
        moved = far.shifted + duration
    else:
        moved = (dt.datetime.combine(far.shifted, dt.time()) + duration).date()
    return far_date(moved, far.cycles)


def far_difference(left: dt.date | FarDate, right: dt.date | FarDate) -> dt.timedelta:
    """``left - right`` for dates or date and times of which one at least is far."""
    a, b = as_far(left), as_far(right)
    return a.shifted - b.shifted + dt.timedelta(days=(a.cycles - b.cycles) * CYCLE_DAYS)


def parse_duration(text: str) -> dt.timedelta | YearsMonthsDuration | None:
    """A days-and-time or years-and-months duration from ISO 8601 text, or None."""
    years_months = parse_years_months(text)
    if years_months is not None:
        return years_months
    match = _DT_DURATION.fullmatch(text)
    if not match or text.rstrip("-").endswith(("P", "T")):
        return None
    days, hours, minutes = (int(match[i] or 0) for i in (2, 3, 4))
    seconds = Decimal(match[5] or 0)
    try:
        delta = dt.timedelta(
            days=days, hours=hours, minutes=minutes, microseconds=int(seconds * 1_000_000)
        )
    except OverflowError:
        return None
    return -delta if match[1] else delta


def parse_years_months(text: str) -> YearsMonthsDuration | None:
    """A years-and-months duration from ``[-]PnYnM`` text, or None."""
    match = _YM_DURATION.fullmatch(text)
    if not match:
        return None
    months = int(match[2] or 0) * 12 + int(match[3] or 0)
    return YearsMonthsDuration(-months if match[1] else months)


def parse_temporal(text: str) -> Any:
    """The value of an ``@"..."`` literal: a date, time, date and time or duration, or None."""
    if text.startswith(("P", "-P")):
        return parse_duration(text)
    if _DATE_TIME_PREFIX.match(text):
        return parse_date_time(text)
    if _DATE.fullmatch(text):
        return parse_date(text)
    return parse_time(text)


def add_months(value: dt.date, months: int) -> dt.date:
    """Shift a date (or date and time) by whole months, clamping to the month's last day."""
    total = value.year * 12 + value.month - 1 + months
    year, month = divmod(total, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def format_time(value: dt.time) -> str:
    """``HH:MM:SS[.ffffff]`` plus the offset or zone."""
    text = value.strftime("%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + format_zone(value.tzinfo, value.utcoffset())


def format_zone(zone: dt.tzinfo | None, offset: dt.timedelta | None) -> str:
    """The zone suffix of a time: ``Z``, ``+01:00`` or ``@Europe/Paris``."""
    if zone is None:
        return ""
    if isinstance(zone, ZoneInfo):
        return f"@{zone.key}"
    if offset is None:
        return ""
    if offset == dt.timedelta():
        return "Z"
    sign = "-" if offset < dt.timedelta() else "+"
    seconds = int(abs(offset.total_seconds()))
    text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def format_date(value: dt.date | FarDate) -> str:
    """``YYYY-MM-DD`` (a negative year has a leading ``-``)."""
    sign = "-" if value.year < 0 else ""
    return f"{sign}{abs(value.year):04d}-{value.month:02d}-{value.day:02d}"


def format_date_time(value: dt.datetime | FarDate) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` plus fraction and zone."""
    clock = value.shifted if isinstance(value, FarDate) else value
    assert isinstance(clock, dt.datetime)
    return f"{format_date(value)}T{format_time(clock.timetz())}"


def format_duration(value: dt.timedelta) -> str:
    """ISO 8601 text of a days-and-time duration, e.g. ``P1DT2H`` or ``-PT0.5S``."""
    sign = "-" if value < dt.timedelta() else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or value.microseconds:
        fraction = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
        time += f"{seconds}{fraction}S"
    days = f"{value.days}D" if value.days else ""
    if not days and not time:
        return "PT0S"
    return f"{sign}P{days}" + (f"T{time}" if time else "")


def duration_seconds(value: dt.timedelta) -> Decimal:
    """The exact number of seconds in a days-and-time duration."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return Decimal(micros) / Decimal(1_000_000)


def seconds_duration(seconds: Decimal) -> dt.timedelta:
    """A days-and-time duration of a (fractional) number of seconds, to the microsecond."""
    micros = int((seconds * 1_000_000).to_integral_value())
    return dt.timedelta(microseconds=micros)
