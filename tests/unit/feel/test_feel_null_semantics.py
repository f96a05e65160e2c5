"""Null and three-valued logic."""

from __future__ import annotations

import pytest

from legato import feel


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("true and true", True),
        ("true and false", False),
        ("false and null", False),
        ("null and false", False),
        ("true and null", None),
        ("null and null", None),
        ("true or null", True),
        ("null or true", True),
        ("false or null", None),
        ("false or false", False),
        ("null = null", True),
        ("1 = null", False),
        ("null != 1", True),
        ("null < 1", None),
        ("if null then 1 else 2", 2),
        ('if "yes" then 1 else 2', 2),
        ("not(null)", None),
        ("not(true)", False),
        ("null between 1 and 2", None),
    ],
)
def test_three_valued_logic(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_non_boolean_operand_of_and_warns() -> None:
    result = feel.compile("1 and true").evaluate_detailed()

    assert result.value is None
    assert result.warnings


def test_error_inside_expression_does_not_stop_evaluation() -> None:
    result = feel.compile('(1 + "a") = null').evaluate_detailed()

    assert result.value is True
    assert result.warnings


def test_short_circuit_skips_failing_operand() -> None:
    result = feel.compile("false and missing").evaluate_detailed()

    assert result.value is False
    assert result.warnings == []
