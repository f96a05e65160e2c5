"""Numeric functions."""

from __future__ import annotations

import datetime as dt
import decimal
import random
from decimal import Decimal
from typing import Any

from legato.feel.builtins.registry import builtin, fail
from legato.feel.values import DECIMAL_CONTEXT as CTX
from legato.feel.values import YearsMonthsDuration

_MAX_SCALE = 6176
_MIN_SCALE = -6111


def _scale(value: Decimal) -> int:
    if not _MIN_SCALE <= value <= _MAX_SCALE:
        raise fail(f"scale must be in [{_MIN_SCALE}..{_MAX_SCALE}], got {value}")
    return int(value)


def round_to(value: Decimal, scale: Decimal, rounding: str) -> Decimal:
    """``value`` rounded to ``scale`` decimal places with a decimal rounding mode."""
    places = _scale(scale)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent <= places:
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=rounding, context=CTX)


@builtin("decimal", "n: number", "scale: number")
def to_decimal(n: Decimal, scale: Decimal) -> Decimal:
    return round_to(n, scale, decimal.ROUND_HALF_EVEN)


def _rounding(name: str, mode: str, optional_scale: bool) -> None:
    @builtin(name, "n: number", "scale: number?" if optional_scale else "scale: number")
    def rounded(n: Decimal, scale: Decimal = Decimal(0)) -> Decimal:
        return round_to(n, scale, mode)


for _name, _mode, _optional in (
    ("floor", decimal.ROUND_FLOOR, True),
    ("ceiling", decimal.ROUND_CEILING, True),
    ("round up", decimal.ROUND_UP, False),
    ("round down", decimal.ROUND_DOWN, False),
    ("round half up", decimal.ROUND_HALF_UP, False),
    ("round half down", decimal.ROUND_HALF_DOWN, False),
):
    _rounding(_name, _mode, _optional)


@builtin("abs", "n: any")
def absolute(n: Any) -> Any:
    if isinstance(n, Decimal):
        return CTX.abs(n)
    if isinstance(n, dt.timedelta):
        return abs(n)
    if isinstance(n, YearsMonthsDuration):
        return YearsMonthsDuration(abs(n.months))
    raise fail("expects a number or a duration")


@builtin("modulo", "dividend: number", "divisor: number")
def modulo(dividend: Decimal, divisor: Decimal) -> Decimal:
    if divisor == 0:
        raise fail("division by zero")
    quotient = CTX.divide(dividend, divisor).to_integral_value(rounding=decimal.ROUND_FLOOR)
    return CTX.subtract(dividend, CTX.multiply(divisor, quotient))


@builtin("sqrt", "number: number")
def square_root(number: Decimal) -> Decimal:
    if number < 0:
        raise fail("square root of a negative number")
    return CTX.sqrt(number)


@builtin("log", "number: number")
def logarithm(number: Decimal) -> Decimal:
    if number <= 0:
        raise fail("logarithm of a number that is not positive")
    return CTX.ln(number)


@builtin("exp", "number: number")
def exponential(number: Decimal) -> Decimal:
    return CTX.exp(number)


def _integer_or_none(number: Decimal) -> int | None:
    return int(number) if number == number.to_integral_value() else None


@builtin("odd", "number: number")
def odd(number: Decimal) -> bool:
    value = _integer_or_none(number)
    return value is not None and value % 2 == 1


@builtin("even", "number: number")
def even(number: Decimal) -> bool:
    value = _integer_or_none(number)
    return value is not None and value % 2 == 0


@builtin("random number")
def random_number() -> Decimal:
    return Decimal(repr(random.random()))
