"""Boolean functions and ``is``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from legato.feel.builtins.registry import builtin, fail
from legato.feel.semantics import equals, type_name


@builtin("not", "negand: any")
def negation(value: Any) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise fail(f"expects a boolean, got {type_name(value)}")
    return not value


@builtin("is", "value1: any", "value2: any")
def identical(first: Any, second: Any) -> bool:
    if type_name(first) != type_name(second):
        return False
    if isinstance(first, dt.datetime | dt.time):
        return bool(first == second and _zone(first) == _zone(second))
    return equals(first, second) is True


def _zone(value: dt.datetime | dt.time) -> Any:
    return value.tzinfo, value.utcoffset()
