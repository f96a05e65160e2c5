"""Date and time functions."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

from legato.feel.builtins.registry import builtin
from legato.feel.runtime import Run
from legato.feel.values import FarDate, far_date


def _plain(date: dt.date | FarDate) -> dt.date:
    """A Python date with the same calendar (month lengths, weekdays) as ``date``."""
    return date.shifted if isinstance(date, FarDate) else date


@builtin("day of year", "date: date")
def day_of_year(date: dt.date | FarDate) -> Decimal:
    return Decimal(_plain(date).timetuple().tm_yday)


@builtin("day of week", "date: date")
def day_of_week(date: dt.date | FarDate) -> str:
    return calendar.day_name[_plain(date).weekday()]


@builtin("month of year", "date: date")
def month_of_year(date: dt.date | FarDate) -> str:
    return calendar.month_name[date.month]


@builtin("week of year", "date: date")
def week_of_year(date: dt.date | FarDate) -> Decimal:
    return Decimal(_plain(date).isocalendar()[1])


@builtin("last day of month", "date: date")
def last_day_of_month(date: dt.date | FarDate) -> dt.date | FarDate:
    plain = _plain(date)
    last = dt.date(plain.year, plain.month, calendar.monthrange(plain.year, plain.month)[1])
    return far_date(last, date.cycles) if isinstance(date, FarDate) else last


@builtin("now", needs_run=True)
def now(run: Run) -> dt.datetime:
    return run.now


@builtin("today", needs_run=True)
def today(run: Run) -> dt.date:
    return run.now.date()
