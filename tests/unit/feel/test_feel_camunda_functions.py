"""The built-in functions Camunda's FEEL engine (feel-scala) adds to the DMN standard."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from legato import feel


def detailed(expression: str, context: dict[str, Any] | None = None) -> feel.EvaluationResult:
    return feel.compile(expression).evaluate_detailed(context or {})


# -- is defined, get or else, assert ------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "context", "expected"),
    [
        ("is defined(1)", {}, True),
        ("is defined(null)", {}, False),
        ("is defined(x)", {"x": "a"}, True),
        ("is defined(x)", {"x": None}, False),  # feel-scala 1.17+ (Camunda 8.3+)
        ("is defined(x)", {}, False),
        ("is defined(x.y)", {}, False),
        ("is defined(x.y)", {"x": {}}, False),
        ("is defined(x.y)", {"x": {"y": 0}}, True),
        ("is defined(value: x)", {"x": 1}, True),
        ('if is defined(x) then "yes" else "no"', {}, "no"),
        ('if is defined(x) then "yes" else "no"', {"x": False}, "yes"),
    ],
)
def test_is_defined(expression: str, context: dict[str, Any], expected: bool) -> None:
    result = detailed(expression, context)
    assert result.value == expected
    assert result.warnings == [] and result.errors == []  # a missing name is the answer


def test_is_defined_reports_failures_outside_its_argument() -> None:
    result = detailed("is defined(x) and y", {"x": 1})
    assert result.value is None
    assert result.warnings == ["no variable named 'y'"]


def test_a_variable_named_like_the_function_shadows_it() -> None:
    result = detailed("is defined(x)", {"is defined": 3})
    assert result.value is None
    assert result.warnings == ["number is not a function"]


def test_is_defined_parses_where_unknown_names_used_to() -> None:
    assert feel.evaluate("is defined(a) and get or else(b, 2) = 2", {"a": 1}) is True


@pytest.mark.parametrize(
    ("expression", "context", "expected"),
    [
        ('get or else("this", "default")', {}, "this"),
        ('get or else(null, "default")', {}, "default"),
        ("get or else(null, null)", {}, None),
        ("get or else(x, 0)", {}, Decimal(0)),
        ("get or else(x.y, 0)", {"x": {"y": 7}}, Decimal(7)),
        ("get or else(false, true)", {}, False),
        ("get or else(default: 1, value: null)", {}, Decimal(1)),
    ],
)
def test_get_or_else(expression: str, context: dict[str, Any], expected: Any) -> None:
    result = detailed(expression, context)
    assert result.value == expected
    assert result.warnings == []


def test_get_or_else_is_no_longer_a_syntax_error() -> None:
    assert feel.compile("get or else(x, 1)").evaluate() == Decimal(1)


def test_assert_returns_the_value_when_the_condition_holds() -> None:
    assert feel.evaluate("assert(x, x >= 0)", {"x": 4}) == Decimal(4)
    assert feel.evaluate('assert(x, x != null, "x is missing")', {"x": "v"}) == "v"


@pytest.mark.parametrize(
    ("expression", "context", "warning"),
    [
        ("assert(x, x >= 0)", {"x": -1}, "assert(): The condition is not fulfilled"),
        ("assert(x, x != null)", {}, "assert(): The condition is not fulfilled"),
        ("assert(x, null)", {"x": 1}, "assert(): The condition is not fulfilled"),
        ("assert(x, 1)", {"x": 1}, "assert(): The condition is not fulfilled"),
        ('assert(x, x >= 0, "x < 0")', {"x": -4}, "assert(): x < 0"),
    ],
)
def test_a_failed_assert_fails_the_whole_evaluation(
    expression: str, context: dict[str, Any], warning: str
) -> None:
    for text in (expression, f"{{a: {expression}, b: 1}}", f"[{expression}]"):
        result = detailed(text, context)
        assert result.value is None
        assert result.warnings[-1] == warning


# -- strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('trim("  hello world  ")', "hello world"),
        ('trim("hello world ")', "hello world"),
        ('trim("\t\n x \r")', "x"),
        ('trim("")', ""),
        ('trim(string: " a ")', "a"),
        ("trim(1)", None),
        ("trim(null)", None),
        ('is blank("")', True),
        ('is blank("  ")', True),
        ('is blank("\t\n")', True),
        ('is blank("hello world")', False),
        ('is blank(" x ")', False),
        ("is blank(null)", None),
        ("is blank(1)", None),
        ('to base64("FEEL")', "RkVFTA=="),
        ('to base64("")', ""),
        ('to base64("é")', "w6k="),
        ('to base64(value: "a")', "YQ=="),
        ("to base64(1)", None),
    ],
)
def test_string_extensions(expression: str, expected: Any) -> None:
    assert feel.evaluate(expression) == expected


def test_uuid_is_a_random_version_4_uuid() -> None:
    first, second = feel.evaluate("uuid()"), feel.evaluate("uuid()")
    pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(pattern, first) and re.fullmatch(pattern, second)
    assert first != second
    assert feel.evaluate("uuid(1)") is None


# -- lists ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("is empty([])", True),
        ("is empty([1, 2, 3])", False),
        ("is empty([null])", False),
        ("is empty(list: [])", True),
        ("is empty(null)", None),
        ("partition([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
        ("partition([1, 2, 3], 3)", [[1, 2, 3]]),
        ("partition([1, 2, 3], 5)", [[1, 2, 3]]),
        ("partition([], 2)", []),
        ('partition(["a", "b"], 1)', [["a"], ["b"]]),
        ("partition(list: [1, 2], size: 1)", [[1], [2]]),
        ("partition([1, 2], 0)", None),
        ("partition([1, 2], -1)", None),
        ("partition([1, 2], 1.5)", None),
        ("partition(null, 2)", None),
        ("partition([1, 2], null)", None),
        ("duplicate values([1, 2, 3, 2, 1])", [2, 1]),
        ("duplicate values([1, 2, 3])", []),
    ],
)
def test_list_extensions(expression: str, expected: Any) -> None:
    assert feel.evaluate(expression) == expected


def test_a_bad_partition_size_is_explained() -> None:
    result = detailed("partition([1, 2], 0)")
    assert result.warnings == ["partition(): the size must be a positive integer, got 0"]


# -- contexts and time zones ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('put({x: 1}, "y", 2)', {"x": 1, "y": 2}),
        ('put({x: 1}, "x", 2)', {"x": 2}),
        ("put all({x: 1}, {y: 2})", {"x": 1, "y": 2}),
        ("put all({x: 1}, {x: 2, y: 3})", {"x": 2, "y": 3}),
        ("put all({x: 1}, 2)", None),
    ],
)
def test_older_context_function_names(expression: str, expected: Any) -> None:
    assert feel.evaluate(expression) == expected


def test_date_and_time_in_another_zone() -> None:
    moved = feel.evaluate(
        'date and time(@"2020-07-31T14:27:30@Europe/Berlin", "America/Los_Angeles")'
    )
    assert moved == dt.datetime(2020, 7, 31, 5, 27, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert moved.tzinfo == ZoneInfo("America/Los_Angeles")
    local = feel.evaluate('date and time(@"2020-07-31T14:27:30", "Europe/Berlin")')
    assert local == dt.datetime(2020, 7, 31, 14, 27, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert feel.evaluate('date and time(@"2020-07-31T14:27:30Z", "Nowhere/Else")') is None
    assert feel.evaluate('date and time(@"2020-07-31", "Europe/Berlin")') is None


# -- JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("to json({a: 1, b: 2})", '{"a":1,"b":2}'),
        ("to json(1)", "1"),
        ("to json(-0.5)", "-0.5"),
        ("to json(1e3)", "1000"),
        ('to json("a")', '"a"'),
        ('to json("say \\"hi\\"")', '"say \\"hi\\""'),
        ("to json(true)", "true"),
        ("to json(null)", "null"),
        ("to json([1, 2, 3])", "[1,2,3]"),
        ("to json([])", "[]"),
        ("to json({})", "{}"),
        ('to json(@"2023-06-14")', '"2023-06-14"'),
        ('to json(@"14:55:00")', '"14:55:00"'),
        ('to json(@"2023-06-14T14:55:00")', '"2023-06-14T14:55:00"'),
        ('to json(@"P1Y")', '"P1Y"'),
        ('to json(@"PT2H")', '"PT2H"'),
        ("to json([1..10])", '"[1..10]"'),
        ('to json({"a b": [{c: null}]})', '{"a b":[{"c":null}]}'),
        ("to json(function(a) a)", None),
    ],
)
def test_to_json(expression: str, expected: str | None) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": 2}', {"a": 1, "b": 2}),
        ("1", Decimal(1)),
        ("1.25e2", Decimal("125")),
        ('"a"', "a"),
        ("true", True),
        ("null", None),
        ("[1, 2, 3]", [1, 2, 3]),
        ('{"a": [{"b": null}]}', {"a": [{"b": None}]}),
        ('"2023-06-14"', "2023-06-14"),  # a string stays a string
        ("0.1", Decimal("0.1")),  # exact, not a float
    ],
)
def test_from_json(text: str, expected: Any) -> None:
    result = feel.compile("from json(text)").evaluate_detailed({"text": text})
    assert result.value == expected
    assert result.warnings == []


@pytest.mark.parametrize("text", ["", "{", "nope", "NaN", "Infinity", "[1,]", "1e99999"])
def test_from_json_refuses_what_is_not_json(text: str) -> None:
    result = feel.compile("from json(text)").evaluate_detailed({"text": text})
    assert result.value is None
    assert result.warnings and result.warnings[0].startswith("from json():")


def test_json_functions_take_named_arguments() -> None:
    assert feel.evaluate('from json(value: "[1]")') == [1]
    assert feel.evaluate("to json(value: [true])") == "[true]"


def test_json_round_trip() -> None:
    value = feel.evaluate('from json(to json({a: [1, "x", null, true], b: {c: 2.50}}))')
    assert value == {"a": [1, "x", None, True], "b": {"c": Decimal("2.5")}}


def test_from_json_counts_against_the_limits() -> None:
    text = "[" + ",".join(["1"] * 50) + "]"
    limits = feel.FeelLimits(collection_size=10)
    with pytest.raises(feel.FeelLimitError):
        feel.compile("from json(text)").evaluate({"text": text}, limits=limits)
