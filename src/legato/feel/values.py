"""FEEL values that have no direct Python counterpart, and conversion of Python values."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

DECIMAL_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN, Emax=6144, Emin=-6143)
"""The arithmetic context of FEEL numbers: IEEE 754 decimal128, 34 significant digits and
exponents from -6143 to 6144. A result beyond that range raises ``decimal.Overflow`` (null
with a warning in FEEL); one too small to represent becomes 0, as in decimal128."""


@dataclass(frozen=True, order=True, slots=True)
class YearsMonthsDuration:
    """A FEEL years and months duration, held as a signed number of months."""

    months: int
    """The total number of months (negative for a negative duration)."""

    @property
    def years_part(self) -> int:
        """The years component (signed)."""
        return int(math.copysign(abs(self.months) // 12, self.months))

    @property
    def months_part(self) -> int:
        """The months component (signed)."""
        return int(math.copysign(abs(self.months) % 12, self.months))

    def __str__(self) -> str:
        if self.months == 0:
            return "P0M"
        sign = "-" if self.months < 0 else ""
        years, months = divmod(abs(self.months), 12)
        text = (f"{years}Y" if years else "") + (f"{months}M" if months else "")
        return f"{sign}P{text}"


@dataclass(frozen=True, slots=True)
class Range:
    """A FEEL range (interval); an endpoint of None means unbounded on that side."""

    start: Any
    """The lower endpoint (None when unbounded)."""
    end: Any
    """The upper endpoint (None when unbounded)."""
    start_included: bool = True
    """Whether the lower endpoint belongs to the range."""
    end_included: bool = True
    """Whether the upper endpoint belongs to the range."""
    comparison: str | None = field(default=None, compare=False)
    """The operator of a range written as a comparison (``(= 10)``, ``(< 10)``): FEEL equality
    holds only between ranges written alike, so ``(=10) = [10..10]`` is false (DMN TCK 0068).
    Python equality ignores it."""

    def __str__(self) -> str:
        left = "[" if self.start_included else "("
        right = "]" if self.end_included else ")"
        return f"{left}{_range_end(self.start)}..{_range_end(self.end)}{right}"


def _range_end(value: Any) -> str:
    return "" if value is None else str(value)


_ATOMIC = frozenset({type(None), bool, str, Decimal})
"""Types whose values are their own FEEL form (checked first: most values are)."""


def to_feel(value: Any) -> Any:
    """Convert a Python value to its FEEL form (ints and floats become Decimal, recursively).

    Args:
        value: Any Python value handed to an expression.

    Returns:
        The FEEL value; values FEEL does not know are passed through unchanged.
    """
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict:
        return {str(key): to_feel(item) for key, item in value.items()}
    if kind is list:
        return [to_feel(item) for item in value]
    if isinstance(value, bool | str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [to_feel(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_feel(item) for key, item in value.items()}
    return value


def is_number(value: Any) -> bool:
    """True for a FEEL number (a Decimal)."""
    return isinstance(value, Decimal)


def is_date(value: Any) -> bool:
    """True for a FEEL date (a ``datetime.date`` that is not a ``datetime``, or far)."""
    if isinstance(value, FarDate):
        return not value.has_time
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


CYCLE_YEARS = 400
"""The Gregorian calendar repeats itself, weekdays included, every 400 years..."""
CYCLE_DAYS = 146_097
"""...which are this many days."""
_CYCLE_BASE = 2000
"""Far dates are held shifted into the years ``_CYCLE_BASE`` to ``_CYCLE_BASE + 399``."""


@dataclass(frozen=True, slots=True)
class FarDate:
    """A FEEL date, or date and time, whose year lies outside 1-9999 (beyond Python's range).

    It is held as a Python value shifted by whole 400-year cycles into the years 2000-2399,
    plus the number of cycles: the calendar of the shifted year is the real one, so month
    lengths, leap days and arithmetic carry over. A time zone's rules are those of the shifted
    year. Build far dates with :func:`far_date`, which gives a plain Python value whenever
    the year fits.
    """

    shifted: dt.date
    """The same day (and time) in the years 2000-2399; a ``datetime`` for a date and time."""
    cycles: int
    """How many 400-year cycles the real year lies beyond the shifted one."""

    @property
    def year(self) -> int:
        """The real (possibly zero or negative, astronomical) year."""
        return self.shifted.year + CYCLE_YEARS * self.cycles

    @property
    def month(self) -> int:
        """The month, 1-12."""
        return self.shifted.month

    @property
    def day(self) -> int:
        """The day of the month."""
        return self.shifted.day

    @property
    def has_time(self) -> bool:
        """Whether this is a date and time (not a date)."""
        return isinstance(self.shifted, dt.datetime)


_Date = TypeVar("_Date", bound=dt.date)


def far_date(shifted: _Date, cycles: int = 0) -> _Date | FarDate:
    """The date ``cycles`` 400-year cycles after ``shifted``: a Python value when it fits."""
    year = shifted.year + CYCLE_YEARS * cycles
    if 1 <= year <= dt.MAXYEAR:
        return shifted.replace(year=year) if cycles else shifted
    offset = (shifted.year - _CYCLE_BASE) // CYCLE_YEARS
    return FarDate(shifted.replace(year=shifted.year - CYCLE_YEARS * offset), cycles + offset)


def far_date_of(year: int, month: int, day: int) -> dt.date | FarDate:
    """The date of a (possibly far) year; raises ValueError for an invalid month or day."""
    cycles = (year - _CYCLE_BASE) // CYCLE_YEARS
    return far_date(dt.date(year - CYCLE_YEARS * cycles, month, day), cycles)


def as_far(value: dt.date | FarDate) -> FarDate:
    """Any date or date and time as a :class:`FarDate` (for arithmetic mixing the two)."""
    if isinstance(value, FarDate):
        return value
    cycles = (value.year - _CYCLE_BASE) // CYCLE_YEARS
    return FarDate(value.replace(year=value.year - CYCLE_YEARS * cycles), cycles)
