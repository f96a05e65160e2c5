"""Lists, filters, for, some/every and the list built-ins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel

D = Decimal


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[]", []),
        ("[1, 2, 3][item > 1]", [D(2), D(3)]),
        ("[1, 2, 3][1]", D(1)),
        ("[1, 2, 3][-1]", D(3)),
        ("[1, 2, 3][-3]", D(1)),
        ("[1, 2, 3][true]", [D(1), D(2), D(3)]),
        ("[1, 2, 3][false]", []),
        ("[[1, 2], [3]][1][2]", D(2)),
        ("[{a: 1}, {a: 2}, {a: 3}][a >= 2].a", [D(2), D(3)]),
        ("[{a: 1}, {a: 2}][item.a = 1]", [{"a": D(1)}]),
        ("{a: 1}[a = 1]", [{"a": D(1)}]),
        ("5[true]", [D(5)]),
        ("[1, 2, 3, 4][modulo(item, 2) = 0]", [D(2), D(4)]),
        ('[{name: "a", age: 3}, {name: "b", age: 5}][age > 4].name', ["b"]),
    ],
)
def test_filters(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_index_out_of_range_is_null_with_warning() -> None:
    result = feel.compile("[1, 2][3]").evaluate_detailed()

    assert result.value is None
    assert "out of range" in result.warnings[0]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("for x in [1, 2, 3] return x * 2", [D(2), D(4), D(6)]),
        ("for i in 1..3 return i", [D(1), D(2), D(3)]),
        ("for i in 3..1 return i", [D(3), D(2), D(1)]),
        ("for i in [1..3) return i", [D(1), D(2)]),
        ("for x in [1, 2], y in [10, 20] return x + y", [D(11), D(21), D(12), D(22)]),
        ("for x in [1, 2], y in [x, x * 10] return y", [D(1), D(10), D(2), D(20)]),
        ("for x in [] return x", []),
        (
            "for i in 0..4 return if i = 0 then 1 else i * partial[-1]",
            [D(1), D(1), D(2), D(6), D(24)],
        ),
        ('for d in @"2020-01-30"..@"2020-02-01" return d.day', [D(30), D(31), D(1)]),
        ("some x in [1, 2, 3] satisfies x > 2", True),
        ("some x in [1, 2, 3] satisfies x > 3", False),
        ("every x in [1, 2, 3] satisfies x > 0", True),
        ("every x in [1, 2, 3] satisfies x > 1", False),
        ("every x in [] satisfies false", True),
        ("some x in [1, 2], y in [3, 4] satisfies x + y = 6", True),
    ],
)
def test_iteration(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_iteration_over_null_warns() -> None:
    result = feel.compile("for x in missing return x").evaluate_detailed()

    assert result.value is None
    assert len(result.warnings) == 2


def test_huge_iteration_is_refused() -> None:
    with pytest.raises(feel.FeelLimitError, match="iteration limit"):
        feel.compile("for i in 1..100000000 return i").evaluate_detailed()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("list contains([1, 2, 3], 2)", True),
        ("list contains([1, null], null)", True),
        ("count([1, 2, 3])", D(3)),
        ("min([3, 1, 2])", D(1)),
        ("min(3, 1, 2)", D(1)),
        ("max(3, 1, 2)", D(3)),
        ('max(["a", "c", "b"])', "c"),
        ("min([])", None),
        ("sum([1, 2, 3])", D(6)),
        ("sum(1, 2, 3)", D(6)),
        ("sum([])", None),
        ("mean([1, 2, 3, 4])", D("2.5")),
        ("median([3, 1, 2])", D(2)),
        ("median([4, 1, 2, 3])", D("2.5")),
        ("product(2, 3, 4)", D(24)),
        ("mode([1, 2, 2, 3, 3])", [D(2), D(3)]),
        ("mode([])", []),
        ("all([true, true])", True),
        ("all([true, false])", False),
        ("all([true, null])", None),
        ("all([])", True),
        ("any([false, true])", True),
        ("any([false, null])", None),
        ("any([])", False),
        ("sublist([1, 2, 3, 4], 2, 2)", [D(2), D(3)]),
        ("sublist([1, 2, 3, 4], -2)", [D(3), D(4)]),
        ("append([1], 2, 3)", [D(1), D(2), D(3)]),
        ("concatenate([1], [2, 3], [])", [D(1), D(2), D(3)]),
        ("insert before([1, 3], 2, 2)", [D(1), D(2), D(3)]),
        ("remove([1, 2, 3], 2)", [D(1), D(3)]),
        ("reverse([1, 2, 3])", [D(3), D(2), D(1)]),
        ("index of([1, 2, 1], 1)", [D(1), D(3)]),
        ("union([1, 2], [2, 3])", [D(1), D(2), D(3)]),
        ("distinct values([1, 2, 1, 3, 2])", [D(1), D(2), D(3)]),
        ("duplicate values([1, 2, 1, 3, 2])", [D(1), D(2)]),
        ("flatten([[1, [2]], 3, [[[4]]]])", [D(1), D(2), D(3), D(4)]),
        ("list replace([1, 2, 3], 2, 9)", [D(1), D(9), D(3)]),
        ("list replace([1, 2, 3], function(item, newItem) item > 1, 0)", [D(1), D(0), D(0)]),
        ("sort([3, 1, 2])", [D(1), D(2), D(3)]),
        ("sort([3, 1, 2], function(x, y) x > y)", [D(3), D(2), D(1)]),
        ("sort(list: [3, 1], precedes: function(a, b) a < b)", [D(1), D(3)]),
        ("stddev([2, 4, 7, 5])", D("2.081665999466132735282297706979931")),
        ("stddev([1])", None),
    ],
)
def test_list_functions(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    ['sum([1, "a"])', "sublist([1, 2], 0)", "remove([1], 5)", 'min([1, "a"])', "count(null)"],
)
def test_list_function_errors(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings


def test_list_equality() -> None:
    assert feel.evaluate("[1, 2] = [1, 2]") is True
    assert feel.evaluate("[1, 2] = [2, 1]") is False
    assert feel.evaluate("[1, [2]] = [1, [2]]") is True
