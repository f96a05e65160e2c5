"""List functions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from legato.feel.builtins.registry import builtin, fail, null_error
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


def _variadic(name: str, impl: Callable[[list[Any]], Any], kind: str = "any") -> None:
    builtin(name, "list: list")(impl)
    builtin(name, f"c: {kind}...")(lambda *items: impl(_items(list(items))))


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
_variadic("mode", _mode)
_variadic("all", _all)
_variadic("any", _any)


@builtin("sublist", "list: list", "start position: number", "length: number?")
def sublist(items: list[Any], start: Decimal, length: Decimal | None = None) -> list[Any]:
    begin = _position(items, start)
    if length is None:
        return items[begin:]
    if length < 0 or length != length.to_integral_value():
        raise fail("length must be a non-negative integer")
    if begin + int(length) > len(items):
        raise fail("length goes past the end of the list")
    return items[begin : begin + int(length)]


@builtin("append", "list: list", "item: any...?")
def append(items: list[Any], *new: Any) -> list[Any]:
    return [*items, *new]


@builtin("concatenate", "lists: list...?")
def concatenate(*lists: list[Any]) -> list[Any]:
    return [item for items in lists for item in items]


@builtin("insert before", "list: list", "position: number", "newItem: any")
def insert_before(items: list[Any], position: Decimal, new: Any) -> list[Any]:
    index = _position(items, position)
    return [*items[:index], new, *items[index:]]


@builtin("remove", "list: list", "position: number")
def remove(items: list[Any], position: Decimal) -> list[Any]:
    index = _position(items, position)
    return [*items[:index], *items[index + 1 :]]


@builtin("list replace", "list: list", "position: number", "newItem: any")
def list_replace(items: list[Any], position: Decimal, new: Any) -> list[Any]:
    index = _position(items, position)
    return [*items[:index], new, *items[index + 1 :]]


@builtin("list replace", "list: list", "match: function", "newItem: any", needs_run=True)
def list_replace_matching(run: Run, items: list[Any], match: FeelFunction, new: Any) -> list[Any]:
    result = []
    for item in items:
        verdict = match.invoke(run, [item, new])
        if not isinstance(verdict, bool):
            raise fail("the match function must return a boolean")
        result.append(new if verdict else item)
    return result


@builtin("reverse", "list: list")
def reverse(items: list[Any]) -> list[Any]:
    return items[::-1]


@builtin("index of", "list: list", "match: any")
def index_of(items: list[Any], match: Any) -> list[Decimal]:
    return [Decimal(i + 1) for i, item in enumerate(items) if equals(item, match) is True]


def _distinct(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if not _contains(result, item):
            result.append(item)
    return result


@builtin("union", "lists: list...?")
def union(*lists: list[Any]) -> list[Any]:
    return _distinct([item for items in lists for item in items])


@builtin("distinct values", "list: list")
def distinct_values(items: list[Any]) -> list[Any]:
    return _distinct(items)


@builtin("duplicate values", "list: list")
def duplicate_values(items: list[Any]) -> list[Any]:
    seen: list[Any] = []
    duplicates: list[Any] = []
    for item in items:
        if _contains(seen, item):
            if not _contains(duplicates, item):
                duplicates.append(item)
        else:
            seen.append(item)
    return duplicates


@builtin("flatten", "list: list")
def flatten(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    stack: list[tuple[list[Any], int]] = [(items, 0)]
    while stack:
        current, index = stack.pop()
        if index >= len(current):
            continue
        stack.append((current, index + 1))
        item = current[index]
        if isinstance(item, list):
            stack.append((item, 0))
        else:
            result.append(item)
    return result


@builtin("sort", "list: list", "precedes: function?", needs_run=True)
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
