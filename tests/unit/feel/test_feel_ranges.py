"""Ranges: literals, `in`, properties and the range built-ins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel
from legato.feel import Range

D = Decimal


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[1..10]", Range(D(1), D(10), True, True)),
        ("[1..10)", Range(D(1), D(10), True, False)),
        ("(1..10]", Range(D(1), D(10), False, True)),
        ("]1..10[", Range(D(1), D(10), False, False)),
        ("(< 10)", Range(None, D(10), False, False)),
        ("(>= 5)", Range(D(5), None, True, False)),
        ('range("[1..2)")', Range(D(1), D(2), True, False)),
        ('range("<= 3")', None),  # a comparison is not a range literal (DMN TCK 1156)
        ('range(">=10")', None),
    ],
)
def test_range_values(expression: str, expected: Range | None) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("5 in [1..10]", True),
        ("10 in [1..10)", False),
        ("1 in (1..10]", False),
        ("1 in ]1..10]", False),
        ("5 in (1, 5, 7)", True),
        ("6 in (1, 5, 7)", False),
        ("5 in < 10", True),
        ("5 in (< 3, > 4)", True),
        ("5 in [1, 5]", True),
        ("[1, 2] in [[1, 2], [3]]", True),
        ('"b" in ("a", "b")', True),
        ("1 in [[2..4], [1..3]]", True),
        ('date("2020-01-05") in [date("2020-01-01")..date("2020-01-31")]', True),
        ("null in (null)", True),
        ("[1..10].start", D(1)),
        ("[1..10).end included", False),
        ("(1..10].start included", False),
        ("[1..10] = [1..10]", True),
        ("[1..10] = [1..10)", False),
    ],
)
def test_in_and_properties(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize("expression", ["[null..10]", "(1..x)"])
def test_null_endpoint_is_an_error(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed({"x": None})

    assert result.value is None
    assert result.warnings


def test_in_range_with_null_endpoint_is_undecided() -> None:
    assert feel.evaluate("5 in [1..null)") is None


def test_mixed_endpoint_types_are_an_error() -> None:
    result = feel.compile('[1.."a"]').evaluate_detailed()

    assert result.value is None
    assert result.warnings


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("before(1, 10)", True),
        ("before(10, 1)", False),
        ("before(1, [2..5])", True),
        ("before([1..5], 10)", True),
        ("before([1..5), [5..10])", True),
        ("before([1..5], [5..10])", False),
        ("after(10, 1)", True),
        ("after([5..10], [1..5))", True),
        ("meets([1..5], [5..10])", True),
        ("meets([1..5), [5..10])", False),
        ("met by([5..10], [1..5])", True),
        ("overlaps([1..5], [3..8])", True),
        ("overlaps([1..3], [4..8])", False),
        ("overlaps before([1..5], [3..8])", True),
        ("overlaps after([3..8], [1..5])", True),
        ("finishes(5, [1..5])", True),
        ("finishes([3..5], [1..5])", True),
        ("finished by([1..5], 5)", True),
        ("includes([1..10], 5)", True),
        ("includes([1..10], [3..4])", True),
        ("includes([1..10), [3..10])", False),
        ("during(5, [1..10])", True),
        ("during([3..4], [1..10])", True),
        ("starts(1, [1..5])", True),
        ("starts([1..3], [1..5])", True),
        ("started by([1..5], 1)", True),
        ("coincides(5, 5)", True),
        ("coincides([1..5], [1..5])", True),
        ("coincides([1..5], [1..5))", False),
        ("before(point1: 1, point2: 2)", True),
        ("includes(range: [1..10], point: 5)", True),
        ("before(5, (< 10))", False),
        ("after(5, (< 3))", True),
    ],
)
def test_range_functions(expression: str, expected: bool) -> None:
    assert feel.evaluate(expression) is expected


def test_range_function_invalid_text() -> None:
    result = feel.compile('range("[5..1]")').evaluate_detailed()

    assert result.value is None
    assert result.warnings
