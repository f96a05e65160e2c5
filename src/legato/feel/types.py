"""FEEL types as used by ``instance of`` and typed function parameters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from legato.feel import ast
from legato.feel.runtime import FeelFunction
from legato.feel.values import FarDate, Range, YearsMonthsDuration, is_date

TypeTest = Callable[[Any], bool]
"""A compiled type: tells whether a value conforms to it."""

_SIMPLE: dict[str, TypeTest] = {
    "Any": lambda value: value is not None,
    "Null": lambda value: value is None,
    "number": lambda value: isinstance(value, Decimal),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "date": is_date,
    "time": lambda value: isinstance(value, dt.time),
    "date and time": lambda value: (
        isinstance(value, dt.datetime) or (isinstance(value, FarDate) and value.has_time)
    ),
    "days and time duration": lambda value: isinstance(value, dt.timedelta),
    "years and months duration": lambda value: isinstance(value, YearsMonthsDuration),
}
_ALIASES = {
    "dayTimeDuration": "days and time duration",
    "yearMonthDuration": "years and months duration",
    "dateTime": "date and time",
}

TYPE_NAMES = (*_SIMPLE, "list", "context", "range", "function")
"""The names of the built-in types."""


_NO_TYPES: Mapping[str, TypeTest] = {}


def compile_type(ref: ast.TypeRef, custom: Mapping[str, TypeTest] = _NO_TYPES) -> TypeTest:
    """A predicate telling whether a value is an instance of the type ``ref`` names.

    Args:
        ref: The parsed type.
        custom: Tests for type names the model defines (DMN item definitions); other
            unknown type names match nothing.
    """
    name = _ALIASES.get(ref.name, ref.name)
    if name in custom:
        return custom[name]
    if name in _SIMPLE:
        return _SIMPLE[name]
    if name == "list":
        return _list_type(ref, custom)
    if name == "context":
        return _context_type(ref, custom)
    if name == "range":
        return _range_type(ref, custom)
    if name == "function":
        return lambda value: isinstance(value, FeelFunction)
    return lambda value: False


def _list_type(ref: ast.TypeRef, custom: Mapping[str, TypeTest]) -> TypeTest:
    item = compile_type(ref.args[0], custom) if ref.args else _SIMPLE["Any"]

    def test(value: Any) -> bool:
        return isinstance(value, list) and all(x is None or item(x) for x in value)

    return test


def _context_type(ref: ast.TypeRef, custom: Mapping[str, TypeTest]) -> TypeTest:
    fields = [(key, compile_type(field, custom)) for key, field in ref.fields]

    def test(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        return all(key in value and (value[key] is None or t(value[key])) for key, t in fields)

    return test


def _range_type(ref: ast.TypeRef, custom: Mapping[str, TypeTest]) -> TypeTest:
    point = compile_type(ref.args[0], custom) if ref.args else _SIMPLE["Any"]

    def test(value: Any) -> bool:
        if not isinstance(value, Range):
            return False
        return all(end is None or point(end) for end in (value.start, value.end))

    return test
