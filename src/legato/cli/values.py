"""Parsing command-line variables and printing values."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import typer

from legato.engine.values import UnstorableValueError, normalize_variables

_MAX_INT_DIGITS = 400
"""Longer integers are read as decimals: Python refuses to convert integer text of more than
4300 digits, and anything beyond 309 digits is refused as out of range anyway."""


def parse_vars(
    pairs: list[str] | None, json_text: str | None = None, *, stored: bool = True
) -> dict[str, Any]:
    """``NAME=VALUE`` pairs (VALUE read as JSON when it is JSON, else as text) and a JSON object.

    Variables to be ``stored`` are checked as the engine would check them (finite numbers in
    range, nesting depth, …), so that a bad one is named before anything runs.
    """
    variables: dict[str, Any] = {}
    if json_text:
        try:
            loaded = _loads(json_text)
        except (ValueError, RecursionError) as exc:
            raise typer.BadParameter(f"--vars is not valid JSON: {_reason(exc)}") from None
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--vars must be a JSON object")
        variables.update(loaded)
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"expected NAME=VALUE, got {pair!r}")
        try:
            value: Any = _loads(text)
        except RecursionError:
            raise typer.BadParameter(f"variable '{name.strip()}': nested too deeply") from None
        except ValueError:
            value = text
        variables[name.strip()] = value
    if stored:
        try:
            return normalize_variables(variables)
        except UnstorableValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return variables


def _loads(text: str) -> Any:
    """JSON with exact decimals; ``NaN`` and ``Infinity`` are not JSON (and not numbers)."""
    return json.loads(text, parse_float=Decimal, parse_int=_parse_int, parse_constant=_no_constant)


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _MAX_INT_DIGITS else Decimal(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON value")


def _reason(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def to_json(value: Any) -> Any:
    """A value as plain JSON for ``--json`` output.

    Decimals become integers when whole (and short enough to print exactly), else floats;
    one that no JSON number can hold (it may have been stored before the engine checked
    ranges) is printed as its text.
    """
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_json(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def _number(value: Decimal) -> int | float | str:
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return 0
    # The exponent test comes first: a whole number's digits are only written out when
    # there are few of them (1E+99999999 would take minutes and gigabytes).
    if value.adjusted() < _MAX_INT_DIGITS and value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if math.isfinite(as_float) and as_float != 0.0 else str(value)


def show(value: Any) -> str:
    """A short human form of a value."""
    if isinstance(value, str):
        return value
    return json.dumps(to_json(value), ensure_ascii=False)
