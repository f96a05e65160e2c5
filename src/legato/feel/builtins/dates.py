"""Date and time functions."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

from legato.feel.builtins.registry import builtin
from legato.feel.runtime import Run


@builtin("day of year", "date: date")
def day_of_year(date: dt.date) -> Decimal:
    return Decimal(date.timetuple().tm_yday)


@builtin("day of week", "date: date")
def day_of_week(date: dt.date) -> str:
    return calendar.day_name[date.weekday()]


@builtin("month of year", "date: date")
def month_of_year(date: dt.date) -> str:
    return calendar.month_name[date.month]


@builtin("week of year", "date: date")
def week_of_year(date: dt.date) -> Decimal:
    return Decimal(date.isocalendar()[1])


@builtin("last day of month", "date: date")
def last_day_of_month(date: dt.date) -> dt.date:
    day = calendar.monthrange(date.year, date.month)[1]
    return dt.date(date.year, date.month, day)


@builtin("now", needs_run=True)
def now(run: Run) -> dt.datetime:
    return run.now


@builtin("today", needs_run=True)
def today(run: Run) -> dt.date:
    return run.now.date()
