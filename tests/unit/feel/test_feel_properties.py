"""Property-based tests of the FEEL semantics."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from legato import feel

ADD = feel.compile("a + b")
ADD_SWAPPED = feel.compile("b + a")
ADD_LEFT = feel.compile("(a + b) + c")
ADD_RIGHT = feel.compile("a + (b + c)")
LESS = feel.compile("a < b")
GREATER = feel.compile("a > b")
EQUAL = feel.compile("a = b")
CONCAT_LENGTH = feel.compile("string length(s + t) = string length(s) + string length(t)")
ROUND_TRIP = feel.compile("d + p - p = d")
DATE_DIFFERENCE = feel.compile("d + (e - d) = e")
PARSE_PRINT = feel.compile("number(string(x)) = x")

decimals = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=6
)
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))
durations = st.timedeltas(min_value=dt.timedelta(days=-20000), max_value=dt.timedelta(days=20000))


@given(decimals, decimals)
def test_addition_is_commutative(a: Decimal, b: Decimal) -> None:
    assert ADD.evaluate({"a": a, "b": b}) == ADD_SWAPPED.evaluate({"a": a, "b": b})


@given(decimals, decimals, decimals)
def test_addition_is_associative_on_decimals(a: Decimal, b: Decimal, c: Decimal) -> None:
    variables = {"a": a, "b": b, "c": c}

    assert ADD_LEFT.evaluate(variables) == ADD_RIGHT.evaluate(variables)


@given(decimals, decimals)
def test_addition_is_exact(a: Decimal, b: Decimal) -> None:
    assert ADD.evaluate({"a": a, "b": b}) == a + b


@given(decimals, decimals)
def test_comparisons_are_consistent(a: Decimal, b: Decimal) -> None:
    variables = {"a": a, "b": b}
    less, greater, equal = (c.evaluate(variables) for c in (LESS, GREATER, EQUAL))

    assert [less, greater, equal].count(True) == 1
    assert less == (a < b)


@given(st.text(max_size=30), st.text(max_size=30))
def test_string_length_of_concatenation(s: str, t: str) -> None:
    assert CONCAT_LENGTH.evaluate({"s": s, "t": t}) is True


@given(dates, durations)
def test_date_plus_duration_minus_duration(d: dt.date, p: dt.timedelta) -> None:
    day_duration = dt.timedelta(days=p.days)

    assert ROUND_TRIP.evaluate({"d": d, "p": day_duration}) is True


@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    durations,
)
def test_date_time_plus_duration_minus_duration(d: dt.datetime, p: dt.timedelta) -> None:
    assert ROUND_TRIP.evaluate({"d": d, "p": p}) is True


@given(dates, dates)
def test_date_difference_added_back(d: dt.date, e: dt.date) -> None:
    assert DATE_DIFFERENCE.evaluate({"d": d, "e": e}) is True


@given(decimals)
def test_number_string_round_trip(x: Decimal) -> None:
    assert PARSE_PRINT.evaluate({"x": x}) is True


@settings(max_examples=50)
@given(st.lists(decimals, max_size=10))
def test_sort_orders_and_keeps_elements(items: list[Decimal]) -> None:
    result = feel.evaluate("sort(xs)", {"xs": items})

    assert result == sorted(items)


@settings(max_examples=50)
@given(st.text(max_size=40))
def test_compile_never_raises_anything_but_syntax_errors(text: str) -> None:
    try:
        compiled = feel.compile(text)
    except feel.FeelSyntaxError:
        return
    result = compiled.evaluate_detailed({})
    assert isinstance(result.warnings, list)
