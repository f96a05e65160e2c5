"""FEEL values that have no direct Python counterpart, and conversion of Python values."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DECIMAL_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)
"""The arithmetic context of FEEL numbers (IEEE 754 decimal128 precision)."""


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

    def __str__(self) -> str:
        left = "[" if self.start_included else "("
        right = "]" if self.end_included else ")"
        return f"{left}{_range_end(self.start)}..{_range_end(self.end)}{right}"


def _range_end(value: Any) -> str:
    return "" if value is None else str(value)


def to_feel(value: Any) -> Any:
    """Convert a Python value to its FEEL form (ints and floats become Decimal, recursively).

    Args:
        value: Any Python value handed to an expression.

    Returns:
        The FEEL value; values FEEL does not know are passed through unchanged.
    """
    if value is None or isinstance(value, bool | str | Decimal):
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
    """True for a FEEL date (a ``datetime.date`` that is not a ``datetime``)."""
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
