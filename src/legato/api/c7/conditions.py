"""Camunda 7 variable conditions: ``name_op_value`` text (query parameters, comma-separated)
or ``[{"name", "operator", "value"}]`` (JSON bodies), ops ``eq neq gt gteq lt lteq like``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from legato.api.c7.errors import bad_request

Condition = Callable[[Mapping[str, Any]], bool]
"""Whether a scope's variables meet a condition."""

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gteq": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lteq": lambda a, b: a <= b,
    "like": lambda a, b: (
        isinstance(a, str) and fnmatch.fnmatchcase(a, str(b).replace("%", "*").replace("_", "?"))
    ),
}


def conditions_from_text(text: str | None) -> list[Condition]:
    """The conditions of ``name_op_value,...`` (values read as booleans, numbers or text).

    Raises:
        C7Error: a part names no operator (400).
    """
    if not text:
        return []
    found = []
    for part in text.split(","):
        name, op, value = _parts(part)
        found.append(condition(name, op, value if op == "like" else _typed_text(value)))
    return found


def conditions_from_json(items: Any) -> list[Condition]:
    """The conditions of ``[{"name", "operator", "value"}]`` (None or [] for none).

    Raises:
        C7Error: an item is malformed or names an unknown operator (400).
    """
    if not items:
        return []
    if not isinstance(items, list):
        raise bad_request("variable conditions must be a list of {name, operator, value}")
    found = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise bad_request("a variable condition needs a name, an operator and a value")
        op = str(item.get("operator") or "eq")
        if op not in _OPS:
            raise bad_request(f"Invalid variable comparator specified: {op}")
        found.append(condition(item["name"], op, item.get("value")))
    return found


def condition(name: str, op: str, expected: Any) -> Condition:
    """A condition on one variable (a missing variable meets none)."""
    compare = _OPS[op]

    def holds(variables: Mapping[str, Any]) -> bool:
        if name not in variables:
            return False
        actual = variables[name]
        if isinstance(actual, Decimal):
            actual = float(actual)
        try:
            return bool(compare(actual, expected))
        except TypeError:
            return False

    return holds


def _parts(part: str) -> tuple[str, str, str]:
    for op in _OPS:
        marker = f"_{op}_"
        if marker in part:
            name, _, value = part.partition(marker)
            if name:
                return name, op, value
    raise bad_request(
        f"Invalid variable comparator specified: '{part}' (name_op_value, op one of "
        "eq neq gt gteq lt lteq like)"
    )


def _typed_text(text: str) -> Any:
    """A value as Camunda reads one from text: a boolean, a number, or else the text."""
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
