"""User-defined functions, invocation styles and `instance of`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel

D = Decimal


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(function(a, b) a + b)(1, 2)", D(3)),
        ("(function(a, b) a - b)(b: 1, a: 5)", D(4)),
        ("(function() 42)()", D(42)),
        ("{square: function(x) x * x}.square(4)", D(16)),
        ("{k: 3, times: function(x) x * k}.times(2)", D(6)),
        (
            "{fact: function(n) if n <= 1 then 1 else n * fact(n - 1), r: fact(10)}.r",
            D(3628800),
        ),
        ("(function(a: number) a + 1)(1)", D(2)),
        ('(function(a: number) a + 1)("x")', None),
        ("for f in [function(x) x + 1, function(x) x * 10] return f(2)", [D(3), D(20)]),
        ("(function(x) function(y) x + y)(1)(2)", D(3)),
    ],
)
def test_user_defined_functions(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize("expression", ["(function(a) a)(1, 2)", "(function(a, b) b)(1)"])
def test_wrong_argument_count_warns(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings[0].startswith("function expects")


def test_named_invocation_leaves_missing_parameters_null() -> None:
    assert feel.evaluate("(function(a, b) b = null)(a: 1)") is True


def test_calling_a_non_function_warns() -> None:
    result = feel.compile("x(1)").evaluate_detailed({"x": 5})

    assert result.value is None
    assert result.warnings == ["number is not a function"]


def test_unknown_function_warns() -> None:
    result = feel.compile("frobnicate(1)").evaluate_detailed()

    assert result.value is None
    assert result.warnings == ["no function named 'frobnicate'"]


def test_external_function_is_rejected_with_warning() -> None:
    source = '(function(x) external {java: {class: "java.lang.Math"}})(1)'

    result = feel.compile(source).evaluate_detailed()

    assert result.value is None
    assert "external" in result.warnings[0]


def test_python_function_argument() -> None:
    function = feel.evaluate("function(x) x + 1")

    assert feel.evaluate("f(1)", {"f": function}) == 2


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 instance of number", True),
        ('"a" instance of string', True),
        ("true instance of boolean", True),
        ("null instance of Any", False),
        ("null instance of Null", True),
        ("1 instance of Any", True),
        ('date("2020-01-01") instance of date', True),
        ('date("2020-01-01") instance of date and time', False),
        ('@"2020-01-01T00:00:00" instance of date and time', True),
        ('time("10:00:00") instance of time', True),
        ('duration("P1D") instance of days and time duration', True),
        ('duration("P1Y") instance of years and months duration', True),
        ('duration("P1Y") instance of days and time duration', False),
        ("[1, 2] instance of list<number>", True),
        ('[1, "a"] instance of list<number>', False),
        ("[[1]] instance of list<list<number>>", True),
        ("{a: 1} instance of context<a: number>", True),
        ('{a: "x"} instance of context<a: number>', False),
        ("{a: 1} instance of context<>", True),
        ("[1..2] instance of range<number>", True),
        ("(function(x) x) instance of function<Any> -> Any", True),
        ("string length instance of function<string> -> number", True),
        ("1 instance of function<>->Any", False),
        ("1 instance of tUnknown", False),
    ],
)
def test_instance_of(expression: str, expected: bool) -> None:
    assert feel.evaluate(expression) is expected


def test_model_defined_types() -> None:
    def is_t255(value: object) -> bool:
        return isinstance(value, Decimal) and value > 255

    types = {"t255": is_t255}

    assert feel.compile("256 instance of t255", types=types).evaluate() is True
    assert feel.compile("[1, 256] instance of list<t255>", types=types).evaluate() is False
    assert feel.compile("(function(x: t255) x)(300)", types=types).evaluate() == 300
    assert feel.compile("(function(x: t255) x)(3)", types=types).evaluate() is None
