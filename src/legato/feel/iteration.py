"""Iteration contexts of ``for``, ``some`` and ``every``: what a name ranges over.

Sequences (``1..n``, ranges, days between dates) are lazy: nothing is built in advance.
Before a name ranges over its items, their number is spent from the iterations of the
evaluation's budget, so a large or nested iteration stops at the limit at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from legato.feel.limits import Budget
from legato.feel.runtime import Scope
from legato.feel.semantics import type_name
from legato.feel.values import Range


class LazySequence:
    """Integers (as numbers) or days (as dates), made one at a time."""

    __slots__ = ("_make", "_range")

    def __init__(self, steps: range, make: Callable[[int], Any]) -> None:
        self._range = steps
        self._make = make

    def __len__(self) -> int:
        return len(self._range)

    def __iter__(self) -> Iterator[Any]:
        return map(self._make, self._range)


Items = list[Any] | LazySequence
"""What a name ranges over."""

Source = Callable[[Scope], Items | None]
"""What a name ranges over in a scope; None (after a warning) when it cannot be iterated."""


def number_sequence(scope: Scope, start: Any, end: Any, inclusive: bool) -> Items | None:
    """The integers (or dates) from ``start`` to ``end``, ascending or descending."""
    if _is_date(start) and _is_date(end):
        return _date_sequence(start, end)
    if not isinstance(start, Decimal) or not isinstance(end, Decimal):
        scope.run.warn(f"can't iterate from {type_name(start)} to {type_name(end)}")
        return None
    if start != start.to_integral_value() or end != end.to_integral_value():
        scope.run.warn("iteration bounds must be integers")
        return None
    low, high = int(start), int(end)
    step = 1 if high >= low else -1
    stop = high + step if inclusive else high
    return LazySequence(range(low, stop, step), Decimal)


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _date_sequence(start: dt.date, end: dt.date) -> LazySequence:
    days = (end - start).days
    step = 1 if days >= 0 else -1
    return LazySequence(range(0, days + step, step), lambda days: start + dt.timedelta(days))


def range_items(scope: Scope, value: Range) -> Items | None:
    """The integers in a range of integers."""
    start, end = value.start, value.end
    if not isinstance(start, Decimal) or not isinstance(end, Decimal):
        scope.run.warn("only ranges of integers can be iterated")
        return None
    if start > end:
        scope.run.warn("can't iterate over a descending range")
        return None
    if start != start.to_integral_value() or end != end.to_integral_value():
        scope.run.warn("iteration bounds must be integers")
        return None
    low = int(start) + (0 if value.start_included else 1)
    high = int(end) - (0 if value.end_included else 1)
    return LazySequence(range(low, max(high + 1, low)), Decimal)


def spend(budget: Budget, items: Items) -> int:
    """Spend an iteration for each of ``items`` (before any is bound); return how many."""
    count = len(items)
    budget.iterations -= count
    if budget.iterations < 0:
        raise budget.exceeded("iterations")
    return count


def combinations(
    scope: Scope,
    names: list[str],
    sources: list[Source],
    partial: list[Any] | None,
) -> Iterator[Scope | None]:
    """Every binding of the iteration names (the cartesian product), as nested scopes.

    Later sources may depend on earlier names, so each is evaluated for every binding of
    the names before it. Yields None (once, then stops) when a source cannot be iterated.
    """
    run = scope.run
    budget = run.budget or run.open_budget()
    last = len(names) - 1

    def level(frame: Scope, index: int) -> Iterator[Scope | None]:
        items = sources[index](frame)
        if items is None:
            yield None
            return
        spend(budget, items)
        name = names[index]
        for item in items:
            bound: dict[str, Any] = {name: item}
            if partial is not None:
                bound["partial"] = partial
            child = frame.child(bound)
            if index == last:
                yield child
            else:
                yield from level(child, index + 1)

    return level(scope, 0)
