"""Iteration contexts of ``for``, ``some`` and ``every``: what a name ranges over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from legato.feel.runtime import Scope
from legato.feel.semantics import type_name
from legato.feel.values import Range

MAX_ITERATION = 1_000_000
"""The most elements a ``for`` or ``some``/``every`` may produce."""


def number_sequence(scope: Scope, start: Any, end: Any, inclusive: bool) -> list[Any] | None:
    if _is_date(start) and _is_date(end):
        return _date_sequence(scope, start, end)
    if not isinstance(start, Decimal) or not isinstance(end, Decimal):
        scope.run.warn(f"can't iterate from {type_name(start)} to {type_name(end)}")
        return None
    if start != start.to_integral_value() or end != end.to_integral_value():
        scope.run.warn("iteration bounds must be integers")
        return None
    low, high = int(start), int(end)
    if abs(high - low) >= MAX_ITERATION:
        scope.run.warn(f"iteration of more than {MAX_ITERATION} items refused")
        return None
    step = 1 if high >= low else -1
    stop = high + step if inclusive else high
    return [Decimal(i) for i in range(low, stop, step)]


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _date_sequence(scope: Scope, start: dt.date, end: dt.date) -> list[Any] | None:
    days = (end - start).days
    if abs(days) >= MAX_ITERATION:
        scope.run.warn(f"iteration of more than {MAX_ITERATION} items refused")
        return None
    step = 1 if days >= 0 else -1
    return [start + dt.timedelta(days=i) for i in range(0, days + step, step)]


def range_items(scope: Scope, value: Range) -> list[Any] | None:
    start, end = value.start, value.end
    if not isinstance(start, Decimal) or not isinstance(end, Decimal):
        scope.run.warn("only ranges of integers can be iterated")
        return None
    if start > end:
        scope.run.warn("can't iterate over a descending range")
        return None
    items = number_sequence(scope, start, end, True)
    if items is None:
        return None
    if not value.start_included and items:
        items = items[1:]
    if not value.end_included and items:
        items = items[:-1]
    return items


def combinations(
    scope: Scope,
    names: list[str],
    sources: list[Callable[[Scope], Any]],
    partial: list[Any] | None,
) -> list[Scope | None]:
    """Every binding of the iteration names (the cartesian product), as nested scopes."""
    frames: list[Scope | None] = [scope]
    for name, source in zip(names, sources, strict=True):
        next_frames: list[Scope | None] = []
        for frame in frames:
            if frame is None:
                return [None]
            items = source(frame)
            if items is None:
                return [None]
            for item in items:
                bound: dict[str, Any] = {name: item}
                if partial is not None:
                    bound["partial"] = partial
                next_frames.append(frame.child(bound))
            if len(next_frames) > MAX_ITERATION:
                scope.run.warn(f"iteration of more than {MAX_ITERATION} items refused")
                return [None]
        frames = next_frames
    return frames
