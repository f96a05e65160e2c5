"""The public API of legato.feel: compile, evaluate, warnings, conversions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from legato import feel


def test_compile_then_evaluate_many_times() -> None:
    compiled = feel.compile("a + 1 > 2")

    assert isinstance(compiled, feel.CompiledExpression)
    assert compiled.evaluate({"a": 5}) is True
    assert compiled.evaluate({"a": 1}) is False


def test_evaluate_returns_decimal_for_numbers() -> None:
    result = feel.evaluate("x * 2", {"x": 3})

    assert result == Decimal("6")
    assert isinstance(result, Decimal)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, Decimal(3)), (2.5, Decimal("2.5")), (Decimal("1.1"), Decimal("1.1")), (True, True)],
)
def test_python_inputs_are_converted(value: object, expected: object) -> None:
    assert feel.evaluate("x", {"x": value}) == expected
    assert type(feel.evaluate("x", {"x": value})) is type(expected)


def test_nested_inputs_are_converted() -> None:
    result = feel.evaluate("data.items[2] + 1", {"data": {"items": [1, 2.5]}})

    assert result == Decimal("3.5")


def test_unknown_variable_gives_null_and_warning() -> None:
    result = feel.compile("x").evaluate_detailed({})

    assert result.value is None
    assert result.warnings == ["no variable named 'x'"]


def test_null_variable_gives_null_without_warning() -> None:
    result = feel.compile("a + 1 > 2").evaluate_detailed({"a": None})

    assert isinstance(result, feel.EvaluationResult)
    assert result.value is None
    assert result.warnings == []


@pytest.mark.parametrize(
    "expression",
    ['1 + "a"', '"a" < 1', "date(2020) + 1", "string length(1, 2)", "1 / 0", "true + 1"],
)
def test_errors_yield_null_with_warning(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed({})

    assert result.value is None
    assert result.warnings


def test_warning_names_the_failing_function() -> None:
    result = feel.compile("upper case(5)").evaluate_detailed()

    assert result.value is None
    assert "upper case" in result.warnings[0]


def test_deep_recursion_stops_the_evaluation_at_the_nesting_limit() -> None:
    expression = "{f: function(n) if n = 0 then 0 else 1 + f(n - 1), r: f(100000)}.r"

    with pytest.raises(feel.FeelLimitError, match="nesting limit") as caught:
        feel.compile(expression).evaluate_detailed()

    assert caught.value.limit == "depth"


def test_bad_syntax_raises_with_position() -> None:
    with pytest.raises(feel.FeelSyntaxError) as caught:
        feel.compile("1 + * 2")

    assert caught.value.position == 4
    assert (caught.value.line, caught.value.column) == (1, 5)
    assert "column 5" in str(caught.value)


def test_multi_word_names_without_declaration() -> None:
    assert feel.evaluate("Monthly Salary * 12", {"Monthly Salary": 100}) == 1200


def test_declared_names_with_operators() -> None:
    compiled = feel.compile("Date-Time + 1", names=["Date-Time"])

    assert compiled.evaluate({"Date-Time": 1}) == 2


def test_now_is_injectable() -> None:
    instant = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)

    assert feel.compile("now()").evaluate(now=instant) == instant
    assert feel.compile("today()").evaluate(now=instant) == dt.date(2024, 5, 6)


def test_functions_are_callable_from_python() -> None:
    function = feel.evaluate("function(a, b) a * b")

    assert isinstance(function, feel.FeelFunction)
    assert function(3, 4) == 12
    assert function(a=2, b=5) == 10


def test_builtin_function_value_is_callable() -> None:
    function = feel.evaluate("string length")

    assert function("four") == 4


def test_compile_is_cached() -> None:
    assert feel.compile("1 + 2 + 3") is feel.compile("1 + 2 + 3")


def test_public_names() -> None:
    assert set(feel.__all__) >= {
        "compile",
        "evaluate",
        "compile_unary_tests",
        "CompiledExpression",
        "CompiledUnaryTests",
        "EvaluationResult",
        "FeelSyntaxError",
        "Range",
        "YearsMonthsDuration",
    }
