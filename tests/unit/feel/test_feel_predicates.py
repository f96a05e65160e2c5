"""Fast predicates of unary tests against constants agree with the general tester."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from legato import feel
from legato.feel.values import Range, YearsMonthsDuration, far_date_of

TESTS = [
    "-",
    "< 10",
    "<= 10",
    "> 10",
    ">= 10",
    "= 10",
    "!= 10",
    "< -2.5",
    "10",
    "10, 20",
    "not(10, 20)",
    "not(10)",
    "[1..5]",
    "[1..5)",
    "(1..5]",
    "]1..5[",
    "not([1..5])",
    "[5..1]",
    '"a"',
    '"a", "b"',
    'not("a")',
    'not("a", "b")',
    '< "m"',
    '>= "m"',
    '= "a"',
    '!= "a"',
    '["a".."m")',
    "true",
    "false",
    "null",
    "not(null)",
    "not(true)",
    "not(false)",
    "true, 1",
    '1, true, "a"',
    'not(1, "a")',
    "< 3, > 8",
    "not(< 3, > 8)",
    "< 3, [5..7], 9",
    'date("2025-04-01")',
    '< date("2025-04-01")',
    '>= date("2025-04-01")',
    '= date("2025-04-01")',
    '!= date("2025-04-01")',
    '[date("2025-04-01")..date("2025-09-30")]',
    'not(date("2025-04-01"))',
    '@"2025-04-01"',
    '< @"2025-04-01"',
    '"a", date("2025-04-01")',
    '[1.."a"]',
    "[1..null]",
    'date("nonsense")',
    '< date("nonsense")',
    '< time("10:00:00")',
    '< duration("P1D")',
]

VALUES: list[Any] = [
    None,
    True,
    False,
    Decimal(0),
    Decimal(1),
    Decimal("2.5"),
    Decimal(-3),
    Decimal(5),
    Decimal(10),
    Decimal("10.0"),
    Decimal(20),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    Decimal("NaN"),
    3,
    10.0,
    "",
    "a",
    "b",
    "m",
    "z",
    "10",
    dt.date(2025, 4, 1),
    dt.date(2025, 3, 31),
    dt.date(2025, 9, 30),
    dt.date(2025, 10, 1),
    dt.datetime(2025, 4, 1),
    dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
    dt.time(10, 0),
    dt.timedelta(days=1),
    YearsMonthsDuration(3),
    far_date_of(12025, 4, 1),
    far_date_of(-5, 4, 1),
    [],
    [Decimal(10)],
    ["a"],
    {"a": Decimal(1)},
    Range(Decimal(1), Decimal(5)),
]


def _fast(compiled: feel.CompiledUnaryTests, value: Any) -> bool | None:
    if compiled.predicate is None:
        return None
    try:
        return compiled.predicate(value)
    except Exception:
        return None  # undecided: the caller asks the general tester


@pytest.mark.parametrize("text", TESTS)
def test_predicate_agrees_with_general_tester(text: str) -> None:
    compiled = feel.compile_unary_tests(text)
    for value in VALUES:
        converted = feel.compile("x").evaluate({"x": value})
        general = compiled.matches(converted) is True
        fast = _fast(compiled, converted)
        assert fast is None or fast is general, (text, value)
        assert compiled.passes(value) is general, (text, value)
        assert compiled.passes(value, {"date": "shadow"}) is (
            compiled.matches(value, {"date": "shadow"}) is True
        ), (text, value)


@pytest.mark.parametrize(
    "text",
    ["-", "< 10", '"a", "b"', 'not("a")', "[1..5)", "true", "null", '< date("2025-04-01")'],
)
def test_common_entries_have_predicates(text: str) -> None:
    assert feel.compile_unary_tests(text).predicate is not None


@pytest.mark.parametrize("text", ["< x", "? > 2", "[1, 2]", "string length(?) > 2", "today()"])
def test_entries_with_variables_or_calls_have_none(text: str) -> None:
    assert feel.compile_unary_tests(text).predicate is None


def test_shadowed_function_is_not_assumed() -> None:
    compiled = feel.compile_unary_tests('< date("2025-04-01")')

    assert compiled.assumes_unbound == frozenset({"date"})
    assert compiled.passes(dt.date(2025, 1, 1)) is True
    assert compiled.passes(dt.date(2025, 1, 1), {"date": Decimal(1)}) is False


def test_plain_expressions_know_their_variable_or_constant() -> None:
    assert feel.compile("Age").variable == "Age"
    assert feel.compile("Age + 1").variable is None
    literal = feel.compile('"F01"')
    assert literal.is_constant and literal.constant == "F01"
    assert feel.compile("null").is_constant
    assert not feel.compile('@"2025-01-01"').is_constant
    assert not feel.compile("Age").is_constant
