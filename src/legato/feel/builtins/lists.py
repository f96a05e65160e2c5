"""List functions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from legato.feel.builtins.registry import builtin, fail, null_error
from legato.feel.limits import Budget
from legato.feel.runtime import FeelFunction, Run
from legato.feel.semantics import compare, equals, type_name
from legato.feel.values import DECIMAL_CONTEXT as CTX


def _contains(items: list[Any], element: Any) -> bool:
    return any(equals(item, element) is True for item in items)


def _numbers(items: list[Any]) -> list[Decimal]:
    if not all(isinstance(item, Decimal) and not isinstance(item, bool) for item in items):
        raise fail("the list must contain only numbers")
    return items


def _position(items: list[Any], position: Decimal, allow_end: bool = False) -> int:
    index = int(position)
    size = len(items) + (1 if allow_end else 0)
    if index == 0 or abs(index) > size:
        raise fail(f"position {index} out of range for {len(items)} items")
    return index - 1 if index > 0 else len(items) + index


def _variadic(name: str, impl: Callable[[list[Any]], Any], builds: bool = False) -> None:
    builtin(name, "list: list", builds=builds)(impl)
    builtin(name, "c: any...", builds=builds)(lambda *items: impl(_items(list(items))))


def _items(items: list[Any]) -> list[Any]:
    """The items of a variadic call; a lone null (``all(null)``) is not a list: an error."""
    if len(items) == 1 and items[0] is None:
        raise null_error("the argument is null, not a list")
    return items


@builtin("list contains", "list: list", "element: any")
def list_contains(items: list[Any], element: Any) -> bool:
    return _contains(items, element)


@builtin("count", "list: list")
def count(items: list[Any]) -> Decimal:
    return Decimal(len(items))


def _extreme(items: list[Any], sign: int) -> Any:
    if not items:
        return None
    best = items[0]
    for item in items[1:]:
        order = compare(item, best)
        if order is None:
            raise fail(f"can't compare {type_name(item)} with {type_name(best)}")
        if order * sign > 0:
            best = item
    return best


def _sum(items: list[Any]) -> Decimal | None:
    if not items:
        return None
    return functools.reduce(CTX.add, _numbers(items))


def _product(items: list[Any]) -> Decimal | None:
    if not items:
        raise null_error("the product of an empty list is undefined")
    return functools.reduce(CTX.multiply, _numbers(items))


def _mean(items: list[Any]) -> Decimal | None:
    total = _sum(items)
    return None if total is None else CTX.divide(total, Decimal(len(items)))


def _median(items: list[Any]) -> Decimal | None:
    ordered = sorted(_numbers(items))
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return CTX.divide(CTX.add(ordered[middle - 1], ordered[middle]), Decimal(2))


def _stddev(items: list[Any]) -> Decimal | None:
    numbers = _numbers(items)
    if len(numbers) < 2:
        raise null_error("the standard deviation needs at least two numbers")
    mean = CTX.divide(functools.reduce(CTX.add, numbers), Decimal(len(numbers)))
    squares = [CTX.power(CTX.subtract(n, mean), 2) for n in numbers]
    variance = CTX.divide(functools.reduce(CTX.add, squares), Decimal(len(numbers) - 1))
    return CTX.sqrt(variance)


def _mode(items: list[Any]) -> list[Decimal]:
    counts: dict[Decimal, int] = {}
    for number in _numbers(items):
        counts[number] = counts.get(number, 0) + 1
    if not counts:
        return []
    most = max(counts.values())
    return sorted(number for number, seen in counts.items() if seen == most)


def _all(items: list[Any]) -> bool | None:
    return _truth(items, every=True)


def _any(items: list[Any]) -> bool | None:
    return _truth(items, every=False)


def _truth(items: list[Any], every: bool) -> bool | None:
    if any(item is not None and not isinstance(item, bool) for item in items):
        raise fail("the list must contain only booleans")
    if (not every) in items:
        return not every
    return None if None in items else every


_variadic("min", lambda items: _extreme(items, -1))
_variadic("max", lambda items: _extreme(items, 1))
_variadic("sum", _sum)
_variadic("product", _product)
_variadic("mean", _mean)
_variadic("median", _median)
_variadic("stddev", _stddev)
_variadic("mode", _mode, builds=True)
_variadic("all", _all)
_variadic("any", _any)


@builtin("sublist", "list: list", "start position: number", "length: number?", builds=True)
def sublist(items: list[Any], start: Decimal, length: Decimal | None = None) -> list[Any]:
    begin = _position(items, start)
    if length is None:
        return items[begin:]
    if length < 0 or length != length.to_integral_value():
        raise fail("length must be a non-negative integer")
    if begin + int(length) > len(items):
        raise fail("length goes past the end of the list")
    return items[begin : begin + int(length)]


@builtin("append", "list: list", "item: any...?", builds=True)
def append(items: list[Any], *new: Any) -> list[Any]:
    return [*items, *new]


@builtin("concatenate", "lists: list...?", needs_run=True)
def concatenate(run: Run, *lists: list[Any]) -> list[Any]:
    (run.budget or run.open_budget()).collection(sum(map(len, lists)))
    return [item for items in lists for item in items]


@builtin("insert before", "list: list", "position: number", "newItem: any", builds=True)
def insert_before(items: list[Any], position: Decimal, new: Any) -> list[Any]:
    index = _position(items, position)
    return [*items[:index], new, *items[index:]]


@builtin("remove", "list: list", "position: number", builds=True)
def remove(items: list[Any], position: Decimal) -> list[Any]:
    index = _position(items, position)
    return [*items[:index], *items[index + 1 :]]


@builtin("list replace", "list: list", "position: number", "newItem: any", builds=True)
def list_replace(items: list[Any], position: Decimal, new: Any) -> list[Any]:
    index = _position(items, position)
    return [*items[:index], new, *items[index + 1 :]]


@builtin(
    "list replace", "list: list", "match: function", "newItem: any", needs_run=True, builds=True
)
def list_replace_matching(run: Run, items: list[Any], match: FeelFunction, new: Any) -> list[Any]:
    result = []
    for item in items:
        verdict = match.invoke(run, [item, new])
        if not isinstance(verdict, bool):
            raise fail("the match function must return a boolean")
        result.append(new if verdict else item)
    return result


@builtin("reverse", "list: list", builds=True)
def reverse(items: list[Any]) -> list[Any]:
    return items[::-1]


@builtin("index of", "list: list", "match: any", builds=True)
def index_of(items: list[Any], match: Any) -> list[Decimal]:
    return [Decimal(i + 1) for i, item in enumerate(items) if equals(item, match) is True]


def _key(item: Any) -> tuple[type, Any] | None:
    """A hashable key equal for items FEEL finds equal: for null, strings, booleans and
    numbers (which equal only items of their own kind); None for other items."""
    kind = type(item)
    if kind is str or kind is bool or item is None or (kind is Decimal and item.is_finite()):
        return kind, item
    return None


class _Seen:
    """The items met so far: by key where there is one, else one by one (each comparison
    spends an iteration)."""

    __slots__ = ("_budget", "_keys", "_others")

    def __init__(self, budget: Budget) -> None:
        self._budget = budget
        self._keys: set[tuple[type, Any]] = set()
        self._others: list[Any] = []

    def add(self, item: Any) -> bool:
        """Add ``item``; whether it was new."""
        key = _key(item)
        if key is not None:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True
        self._budget.iterate(len(self._others))
        if _contains(self._others, item):
            return False
        self._others.append(item)
        return True


def _distinct(run: Run, items: list[Any]) -> list[Any]:
    seen = _Seen(run.budget or run.open_budget())
    return [item for item in items if seen.add(item)]


@builtin("union", "lists: list...?", needs_run=True)
def union(run: Run, *lists: list[Any]) -> list[Any]:
    (run.budget or run.open_budget()).collection(sum(map(len, lists)))  # at most
    return _distinct(run, [item for items in lists for item in items])


@builtin("distinct values", "list: list", needs_run=True, builds=True)
def distinct_values(run: Run, items: list[Any]) -> list[Any]:
    return _distinct(run, items)


@builtin("duplicate values", "list: list", needs_run=True, builds=True)
def duplicate_values(run: Run, items: list[Any]) -> list[Any]:
    budget = run.budget or run.open_budget()
    seen, duplicated = _Seen(budget), _Seen(budget)
    return [item for item in items if not seen.add(item) and duplicated.add(item)]


@builtin("flatten", "list: list", needs_run=True)
def flatten(run: Run, items: list[Any]) -> list[Any]:
    budget = run.budget or run.open_budget()
    room = budget.limits.collection_size - len(items)  # the items of the lists met: at most
    result: list[Any] = []
    stack: list[tuple[list[Any], int]] = [(items, 0)]
    while stack:
        current, index = stack.pop()
        if index >= len(current):
            continue
        stack.append((current, index + 1))
        item = current[index]
        if isinstance(item, list):
            room -= len(item)
            if room < 0:
                raise budget.exceeded("collection_size")
            stack.append((item, 0))
        else:
            result.append(item)
    return budget.built(result)


@builtin("sort", "list: list", "precedes: function?", needs_run=True, builds=True)
def sort(run: Run, items: list[Any], precedes: FeelFunction | None = None) -> list[Any]:
    def ordered(left: Any, right: Any) -> int:
        if precedes is None:
            order = compare(left, right)
            if order is None:
                raise fail(f"can't compare {type_name(left)} with {type_name(right)}")
            return order
        before = precedes.invoke(run, [left, right])
        if not isinstance(before, bool):
            raise fail("the precedes function must return a boolean")
        return -1 if before else 1

    return sorted(items, key=functools.cmp_to_key(ordered))
