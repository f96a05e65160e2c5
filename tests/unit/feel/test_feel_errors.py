"""The error channel: nulls the specification calls errors, kept apart from warnings."""

from __future__ import annotations

import pytest

from legato import feel


@pytest.mark.parametrize(
    "expression",
    [
        "null + 1",
        '"foo " + null',
        "1 - null",
        "null * null",
        "date(2020, 1, 1) / null",
        "null ** 2",
        "-null",
        "1 + 2 - null",
        "2 between null and 10",
        "2 between 1 and null",
        "null in [1..10]",
        "all(null)",
        "any(null)",
        "stddev([])",
        "stddev([47])",
        "stddev(47)",
        "product([])",
        "null()",
        "null.b",
    ],
)
def test_spec_errors_yield_null_with_an_error_and_no_warning(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.errors
    assert result.warnings == []


@pytest.mark.parametrize(
    "expression",
    ["null = null", "null = 1", "null in [null]", "all([true, null])", "any([])", "sum([])"],
)
def test_nulls_that_are_not_errors(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.errors == []
    assert result.warnings == []


def test_an_unknown_function_is_a_warning_only() -> None:
    result = feel.compile("no such function(1)").evaluate_detailed()

    assert result.value is None
    assert result.warnings
    assert result.errors == []


def test_a_null_variable_in_arithmetic_is_an_error_not_a_warning() -> None:
    result = feel.compile("a + 1").evaluate_detailed({"a": None})

    assert result.value is None
    assert result.warnings == []
    assert result.errors == ["null operand of '+'"]


def test_a_null_chain_reports_one_error() -> None:
    result = feel.compile("a + 1 - 2 + 3").evaluate_detailed({"a": None})

    assert result.value is None
    assert len(result.errors) == 1


def test_unary_tests_report_errors_too() -> None:
    result = feel.compile_unary_tests("< x + 1").matches_detailed(5, {"x": None})

    assert result.value is None
    assert result.errors
    assert result.warnings == []
