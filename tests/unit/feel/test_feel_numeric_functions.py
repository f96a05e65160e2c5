"""Numeric and conversion built-ins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel

D = Decimal


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("decimal(1/3, 2)", D("0.33")),
        ("decimal(1.5, 0)", D(2)),
        ("decimal(2.5, 0)", D(2)),
        ("floor(1.5)", D(1)),
        ("floor(-1.5)", D(-2)),
        ("floor(-1.56, 1)", D("-1.6")),
        ("ceiling(1.5)", D(2)),
        ("ceiling(-1.56, 1)", D("-1.5")),
        ("round up(5.5, 0)", D(6)),
        ("round up(-5.5, 0)", D(-6)),
        ("round down(5.5, 0)", D(5)),
        ("round down(-5.5, 0)", D(-5)),
        ("round half up(5.5, 0)", D(6)),
        ("round half up(-5.5, 0)", D(-6)),
        ("round half down(5.5, 0)", D(5)),
        ("round half down(-5.5, 0)", D(-5)),
        ("round up(1.234, 6176)", D("1.234")),
        ("abs(-10)", D(10)),
        ('abs(duration("-P1D"))', feel.evaluate('duration("P1D")')),
        ("modulo(12, 5)", D(2)),
        ("modulo(-12, 5)", D(3)),
        ("modulo(12, -5)", D(-3)),
        ("modulo(10.1, 4.5)", D("1.1")),
        ("sqrt(16)", D(4)),
        ("exp(0)", D(1)),
        ("log(1)", D(0)),
        ("odd(5)", True),
        ("odd(2)", False),
        ("even(2)", True),
        ("even(2.5)", False),
        ('number("1,000.5", ",", ".")', D("1000.5")),
        ('number("1.000,5", ".", ",")', D("1000.5")),
        ('number("12")', D(12)),
        ('number("-0.5")', D("-0.5")),
        ("string(1e3)", "1000"),
        ("string(-0)", "0"),
    ],
)
def test_numeric_functions(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "sqrt(-1)",
        "log(0)",
        "modulo(1, 0)",
        'number("abc")',
        'number("1,000", ",", ",")',
        "decimal(1, 99999)",
        'abs("x")',
        "floor()",
    ],
)
def test_numeric_function_errors(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings


def test_random_number_is_in_unit_interval() -> None:
    values = [feel.evaluate("random number()") for _ in range(20)]

    assert all(isinstance(v, Decimal) and 0 <= v < 1 for v in values)
    assert len(set(values)) > 1


def test_named_arguments() -> None:
    assert feel.evaluate("decimal(n: 1.234, scale: 1)") == D("1.2")
    assert feel.evaluate("round half up(scale: 1, n: 1.25)") == D("1.3")


def test_unknown_named_argument_warns() -> None:
    result = feel.compile("decimal(x: 1, scale: 1)").evaluate_detailed()

    assert result.value is None
    assert "decimal()" in result.warnings[0]
