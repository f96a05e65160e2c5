"""Camunda 7 variable conditions: ``name_op_value`` text (query parameters, comma-separated)
or ``[{"name", "operator", "value"}]`` (JSON bodies), ops ``eq neq gt gteq lt lteq like``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from legato.api.c7.errors import C7Error, bad_request
from legato.runtime.engine import Engine
from legato.security import Principal
from legato.security.sensitive import Viewer

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


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition on one variable; called with a scope's variables, whether they meet it
    (a missing variable meets none)."""

    name: str
    op: str
    expected: Any

    def __call__(self, variables: Mapping[str, Any]) -> bool:
        if self.name not in variables:
            return False
        actual = variables[self.name]
        if isinstance(actual, Decimal):
            actual = float(actual)
        try:
            return bool(_OPS[self.op](actual, self.expected))
        except TypeError:
            return False


def condition(name: str, op: str, expected: Any) -> Condition:
    """A condition on one variable (a missing variable meets none)."""
    return Condition(name, op, expected)


def refuse_probes(
    engine: Engine,
    principal: Principal,
    conditions: Iterable[Condition],
    process_id: str | None = None,
) -> None:
    """Refuse conditions on a sensitive variable's value to whoever may not see it: what
    they find would tell the value (see
    :meth:`~legato.runtime.engine.Engine.refused_filter`).

    Raises:
        C7Error: 403, naming the variable, the process and the permission.
    """
    viewer = Viewer(principal)
    for found in conditions:
        wanted = (found.name, found.expected)
        refused = engine.refused_filter(wanted, process_id=process_id, viewer=viewer)
        if refused is not None:
            raise C7Error(403, f"variable condition: {refused}")


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
