"""Numbers: Decimal exactness, operators, precedence, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0.1 + 0.2", Decimal("0.3")),
        ("1 + 2 * 3", Decimal(7)),
        ("(1 + 2) * 3", Decimal(9)),
        ("10 - 4 - 3", Decimal(3)),
        ("12 / 4 / 3", Decimal(1)),
        ("2 ** 10", Decimal(1024)),
        ("3 ** 4 ** 5", Decimal(3486784401)),
        ("-3 ** 2", Decimal(9)),
        ("- - 2", Decimal(2)),
        ("1.23e4", Decimal(12300)),
        (".5 + .5", Decimal(1)),
        ("1 / 3 * 3", Decimal("0.9999999999999999999999999999999999")),
        ("2 ** -1", Decimal("0.5")),
        ('"ab" + "cd"', "abcd"),
    ],
)
def test_arithmetic(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_decimal_point_one_plus_point_two_equals_point_three() -> None:
    assert feel.evaluate("0.1 + 0.2 = 0.3") is True


def test_34_digit_precision() -> None:
    result = feel.evaluate("1 / 3")

    assert result == Decimal("0.3333333333333333333333333333333333")


def test_division_by_zero_is_null_with_warning() -> None:
    result = feel.compile("1 / 0").evaluate_detailed()

    assert result.value is None
    assert result.warnings == ["division by zero"]


@pytest.mark.parametrize("expression", ['1 + "a"', "true * 2", '"a" - "b"', "[1] ** 2"])
def test_type_mismatch(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings


def test_null_operand_propagates() -> None:
    assert feel.evaluate("null + 1") is None
    assert feel.evaluate("-x", {"x": None}) is None


OVERFLOW = "number overflow: the result is beyond the range of FEEL numbers"


def test_overflow_is_null_with_warning() -> None:
    result = feel.compile("10 ** 10000000").evaluate_detailed()

    assert result.value is None
    assert result.warnings == [OVERFLOW]


@pytest.mark.parametrize(
    ("expression", "warning"),
    [
        ("10 ** 6145", OVERFLOW),
        ("9.999E+6144 * 10", OVERFLOW),
        ("exp(100000)", f"exp(): {OVERFLOW}"),
        ("0 ** -1", "division by zero"),
        ("(-1) ** 0.5", "invalid arithmetic: the result is not a number"),
    ],
)
def test_decimal_signals_give_null_with_a_readable_warning(expression: str, warning: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings == [warning]


def test_numbers_are_decimal128() -> None:
    assert feel.evaluate("10 ** 6144") == feel.evaluate("1e6144")
    assert feel.evaluate("10 ** -7000") == 0
    assert feel.evaluate("1e-7000") == 0
    with pytest.raises(feel.FeelSyntaxError, match="beyond the range of FEEL numbers"):
        feel.compile("1e6145")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("4 >= 5", False),
        ("1 = 1.0", True),
        ("1 != 2", True),
        ('"a" < "b"', True),
        ("5 between 1 and 10", True),
        ("0 between 1 and 10", False),
        ('"b" between "a" and "c"', True),
    ],
)
def test_comparisons(expression: str, expected: bool) -> None:
    assert feel.evaluate(expression) is expected


def test_comparison_of_unrelated_types_warns() -> None:
    result = feel.compile('1 < "a"').evaluate_detailed()

    assert result.value is None
    assert result.warnings
