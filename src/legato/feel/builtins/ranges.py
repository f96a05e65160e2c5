"""Range functions (Allen's interval relations) and ``range()``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from legato.feel.builtins.registry import REGISTRY, builtin, fail
from legato.feel.literals import range_literal
from legato.feel.semantics import compare, type_name
from legato.feel.values import Range

Relation = Callable[[Range, Range], bool]


def _point(value: Any) -> Range:
    return Range(value, value, True, True)


def _order(left: Any, right: Any, left_end: bool, right_end: bool) -> int:
    """Compare two endpoints; None stands for -infinity on a start and +infinity on an end."""
    if left is None or right is None:
        left_key = 0 if left is not None else (1 if left_end else -1)
        right_key = 0 if right is not None else (1 if right_end else -1)
        return (left_key > right_key) - (left_key < right_key)
    order = compare(left, right)
    if order is None:
        raise fail(f"can't compare {type_name(left)} with {type_name(right)}")
    return order


def _ss(a: Range, b: Range) -> int:
    return _order(a.start, b.start, False, False)


def _ee(a: Range, b: Range) -> int:
    return _order(a.end, b.end, True, True)


def _es(a: Range, b: Range) -> int:
    return _order(a.end, b.start, True, False)


def _se(a: Range, b: Range) -> int:
    return _order(a.start, b.end, False, True)


def before(a: Range, b: Range) -> bool:
    order = _es(a, b)
    return order < 0 or (order == 0 and not (a.end_included and b.start_included))


def meets(a: Range, b: Range) -> bool:
    return a.end_included and b.start_included and _es(a, b) == 0


def overlaps(a: Range, b: Range) -> bool:
    end_start, start_end = _es(a, b), _se(a, b)
    return (end_start > 0 or (end_start == 0 and a.end_included and b.start_included)) and (
        start_end < 0 or (start_end == 0 and a.start_included and b.end_included)
    )


def overlaps_before(a: Range, b: Range) -> bool:
    starts, end_start, ends = _ss(a, b), _es(a, b), _ee(a, b)
    return (
        (starts < 0 or (starts == 0 and a.start_included and not b.start_included))
        and (end_start > 0 or (end_start == 0 and a.end_included and b.start_included))
        and (ends < 0 or (ends == 0 and (not a.end_included or b.end_included)))
    )


def finishes(a: Range, b: Range) -> bool:
    starts = _ss(a, b)
    return (
        a.end_included == b.end_included
        and _ee(a, b) == 0
        and (starts > 0 or (starts == 0 and (not a.start_included or b.start_included)))
    )


def includes(a: Range, b: Range) -> bool:
    starts, ends = _ss(a, b), _ee(a, b)
    return (starts < 0 or (starts == 0 and (a.start_included or not b.start_included))) and (
        ends > 0 or (ends == 0 and (a.end_included or not b.end_included))
    )


def starts(a: Range, b: Range) -> bool:
    ends = _ee(a, b)
    return (
        a.start_included == b.start_included
        and _ss(a, b) == 0
        and (ends < 0 or (ends == 0 and (not a.end_included or b.end_included)))
    )


def coincides(a: Range, b: Range) -> bool:
    return (
        _ss(a, b) == 0
        and _ee(a, b) == 0
        and a.start_included == b.start_included
        and a.end_included == b.end_included
    )


def _flip(relation: Relation) -> Relation:
    return lambda a, b: relation(b, a)


def _register(name: str, relation: Relation, shapes: str) -> None:
    """Register ``name`` for the argument shapes given as letters (p = point, r = range)."""
    names = {
        "pp": ("point1", "point2"),
        "pr": ("point", "range"),
        "rp": ("range", "point"),
        "rr": ("range1", "range2"),
    }
    for shape in shapes.split():
        first, second = names[shape]
        kinds = ["point" if letter == "p" else "range" for letter in shape]
        convert: list[Callable[[Any], Range]] = [
            _point if letter == "p" else _same for letter in shape
        ]

        def impl(x: Any, y: Any, convert: Sequence[Callable[[Any], Range]] = convert) -> bool:
            return relation(convert[0](x), convert[1](y))

        builtin(name, f"{first}: {kinds[0]}", f"{second}: {kinds[1]}")(impl)


def _same(value: Range) -> Range:
    return value


_register("before", before, "pp pr rp rr")
_register("after", _flip(before), "pp pr rp rr")
_register("meets", meets, "rr")
_register("met by", _flip(meets), "rr")
_register("overlaps", overlaps, "rr")
_register("overlaps before", overlaps_before, "rr")
_register("overlaps after", _flip(overlaps_before), "rr")
_register("finishes", finishes, "pr rr")
_register("finished by", _flip(finishes), "rp rr")
_register("includes", includes, "rp rr")
_register("during", _flip(includes), "pr rr")
_register("starts", starts, "pr rr")
_register("started by", _flip(starts), "rp rr")
_register("coincides", coincides, "pp rr")


@builtin("range", "from: string")
def parse_range(text: str) -> Range:
    value = range_literal(text, REGISTRY)
    if value is None:
        raise fail(f"not a range: {text!r}")
    return value
