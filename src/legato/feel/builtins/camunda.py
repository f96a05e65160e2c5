"""The functions Camunda's FEEL engine (feel-scala) adds to the DMN standard.

``is defined``, ``get or else`` and ``assert`` handle missing values; ``trim``, ``is blank``,
``uuid`` and ``to base64`` work on strings; ``is empty`` and ``partition`` on lists;
``to json`` and ``from json`` convert between FEEL values and JSON text; ``put`` and
``put all`` are the older names of ``context put`` and ``context merge``; ``date and
time(date, timezone)`` moves a date and time to another time zone. (``extract``,
``duplicate values``, ``random number``, ``last day of month``, ``context``, ``get value``
and ``context put`` with a path, and ``string join`` with a prefix and suffix live beside
the standard functions of their kind.)

Their semantics follow feel-scala: a wrong argument type yields null with a warning, and a
failed ``assert`` fails the whole evaluation.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid as uuid_module
from decimal import Decimal
from typing import Any

from legato.feel import temporal
from legato.feel.builtins.contexts import context_merge, context_put
from legato.feel.builtins.registry import builtin, fail
from legato.feel.errors import FeelAssertionError
from legato.feel.formatting import format_number, format_value
from legato.feel.runtime import Run
from legato.feel.semantics import type_name
from legato.feel.values import DECIMAL_CONTEXT, FarDate, Range, YearsMonthsDuration

# -- missing values -----------------------------------------------------------------------


@builtin("is defined", "value: any")
def is_defined(value: Any) -> bool:
    """Whether the value is not null. A call by name evaluates its argument quietly, so that
    a missing variable or context entry is simply not defined (see the compiler)."""
    return value is not None


@builtin("get or else", "value: any", "default: any")
def get_or_else(value: Any, default: Any) -> Any:
    return default if value is None else value


@builtin("assert", "value: any", "condition: any")
@builtin("assert", "value: any", "condition: any", "cause: any")
def assert_(value: Any, condition: Any, cause: Any = None) -> Any:
    if condition is True:
        return value
    if isinstance(cause, str):
        raise FeelAssertionError(cause)
    raise FeelAssertionError("The condition is not fulfilled")


# -- strings ------------------------------------------------------------------------------


@builtin("trim", "string: string", builds=True)
def trim(text: str) -> str:
    return text.strip()


@builtin("is blank", "string: string")
def is_blank(text: str) -> bool:
    return not text.strip()


@builtin("uuid")
def uuid() -> str:
    return str(uuid_module.uuid4())


@builtin("to base64", "value: string", needs_run=True)
def to_base64(run: Run, text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (run.budget or run.open_budget()).built(encoded)


# -- lists --------------------------------------------------------------------------------


@builtin("is empty", "list: list")
def is_empty(items: list[Any]) -> bool:
    return not items


@builtin("partition", "list: list", "size: number", needs_run=True)
def partition(run: Run, items: list[Any], size: Decimal) -> list[list[Any]]:
    if size != size.to_integral_value() or size <= 0:
        raise fail(f"the size must be a positive integer, got {format_number(size)}")
    step = int(size) if size < len(items) else max(len(items), 1)
    parts = [items[start : start + step] for start in range(0, len(items), step)]
    (run.budget or run.open_budget()).collection(len(parts))
    return parts


# -- contexts -----------------------------------------------------------------------------


@builtin("put", "context: context", "key: string", "value: any", builds=True)
def put(context: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return context_put(context, key, value)


@builtin("put all", "contexts: context...", needs_run=True)
def put_all(run: Run, *contexts: dict[str, Any]) -> dict[str, Any]:
    return context_merge(run, list(contexts))


# -- date and time in a zone --------------------------------------------------------------


@builtin("date and time", "date: any", "timezone: string")
def date_time_at_zone(value: Any, timezone: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise fail(f"expects a date and time, got {type_name(value)}")
    zone = temporal.parse_zone(timezone)
    if zone is None:
        raise fail(f"unknown time zone {timezone!r}")
    if value.tzinfo is None:  # a local date and time: read in the zone
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


# -- JSON ---------------------------------------------------------------------------------


@builtin("to json", "value: any", needs_run=True)
def to_json(run: Run, value: Any) -> str:
    parts: list[str] = []
    _write_json(value, parts)
    text = "".join(parts)
    (run.budget or run.open_budget()).string(len(text))
    return text


def _write_json(value: Any, out: list[str]) -> None:
    """Append the JSON text of ``value``: numbers exactly as FEEL holds them, temporal values
    and ranges as their FEEL text in a string."""
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        out.append(format_number(value))
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write_json(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append(("," if index else "") + json.dumps(key, ensure_ascii=False) + ":")
            _write_json(item, out)
        out.append("}")
    elif isinstance(value, _TEXT_VALUES):
        out.append(json.dumps(format_value(value), ensure_ascii=False))
    else:
        raise fail(f"{type_name(value)} has no JSON form")


_TEXT_VALUES = (dt.date, dt.time, dt.timedelta, FarDate, YearsMonthsDuration, Range)


@builtin("from json", "value: string", needs_run=True)
def from_json(run: Run, text: str) -> Any:
    try:
        value = json.loads(
            text,
            parse_float=_json_number,
            parse_int=_json_number,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as error:
        raise fail(f"invalid JSON: {error.msg} at position {error.pos}") from None
    except RecursionError:
        raise fail("the JSON is nested too deeply") from None
    if isinstance(value, list | dict):
        (run.budget or run.open_budget()).collection(len(value))
    return value


def _json_number(text: str) -> Decimal:
    number = DECIMAL_CONTEXT.create_decimal(text)
    if not number.is_finite():
        raise fail(f"the number {text} is beyond the range of FEEL numbers")
    return number


def _no_constant(text: str) -> Any:
    raise fail(f"{text} is not a JSON value")
