"""Dates, times, date and times, durations: literals, arithmetic, properties, functions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from legato import feel
from legato.feel import YearsMonthsDuration

UTC = dt.UTC
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('date("2020-02-29")', dt.date(2020, 2, 29)),
        ("date(2020, 2, 29)", dt.date(2020, 2, 29)),
        ('date(date and time("2020-01-02T03:04:05"))', dt.date(2020, 1, 2)),
        ('@"2020-01-02"', dt.date(2020, 1, 2)),
        ('time("10:20:30")', dt.time(10, 20, 30)),
        ('time("10:20:30.5Z")', dt.time(10, 20, 30, 500000, tzinfo=UTC)),
        ('time("10:20:30+02:00")', dt.time(10, 20, 30, tzinfo=PLUS_TWO)),
        ('time(10, 20, 30, duration("PT2H"))', dt.time(10, 20, 30, tzinfo=PLUS_TWO)),
        ('date and time("2020-01-02T03:04:05")', dt.datetime(2020, 1, 2, 3, 4, 5)),
        ('date and time("2020-01-02")', dt.datetime(2020, 1, 2)),
        (
            '@"2020-01-01T10:00:00@Europe/Paris"',
            dt.datetime(2020, 1, 1, 10, tzinfo=ZoneInfo("Europe/Paris")),
        ),
        (
            'date and time(date("2020-01-02"), time("10:00:00Z"))',
            dt.datetime(2020, 1, 2, 10, tzinfo=UTC),
        ),
        ('duration("P1DT2H3M4.5S")', dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
        ('duration("-PT1H")', dt.timedelta(hours=-1)),
        ('duration("P1Y2M")', YearsMonthsDuration(14)),
        ('@"P2Y"', YearsMonthsDuration(24)),
        (
            'years and months duration(date("2011-12-22"), date("2013-08-24"))',
            YearsMonthsDuration(20),
        ),
    ],
)
def test_construction(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        'date("2020-02-30")',
        'date("2020-1-1")',
        'time("25:00:00")',
        'date and time("2020-01-01T10:00:00@Mars/Base")',
        'duration("P1Y1D")',
        'duration("P")',
        "date(2020, 13, 1)",
    ],
)
def test_invalid_temporal_text_is_null_with_warning(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('date("2020-01-31") + duration("P1M")', dt.date(2020, 2, 29)),
        ('date("2020-01-01") + duration("P1D")', dt.date(2020, 1, 2)),
        ('date("2020-03-01") - duration("P1D")', dt.date(2020, 2, 29)),
        ('date("2020-03-01") - date("2020-02-01")', dt.timedelta(days=29)),
        ('duration("P1D") + date("2020-01-01")', dt.date(2020, 1, 2)),
        (
            'date and time("2020-01-01T23:00:00") + duration("PT2H")',
            dt.datetime(2020, 1, 2, 1),
        ),
        (
            '@"2020-01-02T00:00:00Z" - @"2020-01-01T22:00:00-02:00"',
            dt.timedelta(0),
        ),
        ('time("10:00:00") + duration("PT90M")', dt.time(11, 30)),
        ('time("23:00:00") + duration("PT2H")', dt.time(1, 0)),
        ('time("10:00:00") - time("09:30:00")', dt.timedelta(minutes=30)),
        ('duration("P1D") + duration("PT12H")', dt.timedelta(days=1, hours=12)),
        ('duration("P1Y") - duration("P2M")', YearsMonthsDuration(10)),
        ('duration("PT1H") * 2', dt.timedelta(hours=2)),
        ('2 * duration("P1Y")', YearsMonthsDuration(24)),
        ('duration("P1D") / 2', dt.timedelta(hours=12)),
        ('duration("P1D") / duration("PT1H")', Decimal(24)),
        ('duration("P1Y") / duration("P1M")', Decimal(12)),
        ('-duration("P1D")', dt.timedelta(days=-1)),
    ],
)
def test_temporal_arithmetic(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        'date("2020-01-01") + 1',
        'date("2020-01-01") - date and time("2020-01-01T10:00:00")',
        '@"2020-01-01T10:00:00" - @"2020-01-01T10:00:00Z"',
        'duration("P1Y") + duration("P1D")',
        'date("2020-01-01") * 2',
    ],
)
def test_invalid_temporal_arithmetic(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('date("2020-01-01") < date("2020-01-02")', True),
        ('@"10:00:00+01:00" = @"09:00:00Z"', True),
        ('@"2020-01-01T10:00:00+01:00" = @"2020-01-01T09:00:00Z"', True),
        ('@"2020-01-01T10:00:00@Europe/Paris" > @"2020-01-01T08:59:59Z"', True),
        ('duration("PT24H") = duration("P1D")', True),
        ('duration("P1Y") = duration("P12M")', True),
        ('duration("P1Y") > duration("P11M")', True),
        ('@"2020-01-01T00:00:00" = @"2020-01-01T00:00:00Z"', False),
    ],
)
def test_temporal_comparison(expression: str, expected: bool) -> None:
    assert feel.evaluate(expression) is expected


def test_comparing_local_and_zoned_date_times_is_null() -> None:
    assert feel.evaluate('@"2020-01-01T00:00:00" < @"2020-01-01T00:00:00Z"') is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('date("2020-03-04").year', Decimal(2020)),
        ('date("2020-03-04").month', Decimal(3)),
        ('date("2020-03-04").day', Decimal(4)),
        ('date("2020-03-04").weekday', Decimal(3)),
        ('@"2020-03-04T05:06:07+02:00".hour', Decimal(5)),
        ('@"2020-03-04T05:06:07+02:00".minute', Decimal(6)),
        ('@"2020-03-04T05:06:07+02:00".second', Decimal(7)),
        ('@"2020-03-04T05:06:07+02:00".time offset', dt.timedelta(hours=2)),
        ('@"2020-03-04T05:06:07@Europe/Paris".timezone', "Europe/Paris"),
        ('@"2020-03-04T05:06:07".timezone', None),
        ('time("05:06:07Z").time offset', dt.timedelta(0)),
        ('duration("P2DT3H4M5S").days', Decimal(2)),
        ('duration("P2DT3H4M5S").hours', Decimal(3)),
        ('duration("P2DT3H4M5S").minutes', Decimal(4)),
        ('duration("P2DT3H4M5S").seconds', Decimal(5)),
        ('duration("P2Y3M").years', Decimal(2)),
        ('duration("P2Y3M").months', Decimal(3)),
        ('duration("-P2Y3M").years', Decimal(-2)),
    ],
)
def test_properties(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_unknown_property_warns() -> None:
    result = feel.compile('date("2020-01-01").hour').evaluate_detailed()

    assert result.value is None
    assert "no property 'hour'" in result.warnings[0]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('string(date and time("2020-01-02T03:04:05.25+01:00"))', "2020-01-02T03:04:05.25+01:00"),
        ('string(@"2020-01-02T03:04:05@Europe/Paris")', "2020-01-02T03:04:05@Europe/Paris"),
        ('string(time("10:00:00Z"))', "10:00:00Z"),
        ('string(duration("P1DT2H"))', "P1DT2H"),
        ('string(duration("PT0S"))', "PT0S"),
        ('string(duration("-PT1.5S"))', "-PT1.5S"),
        ('string(duration("P14M"))', "P1Y2M"),
        ('string(duration("P0Y"))', "P0M"),
    ],
)
def test_temporal_to_string(expression: str, expected: str) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('day of year(date("2020-12-31"))', Decimal(366)),
        ('day of week(date("2024-05-06"))', "Monday"),
        ('month of year(date("2024-05-06"))', "May"),
        ('week of year(date("2021-01-03"))', Decimal(53)),
        ('last day of month(date("2024-02-10"))', dt.date(2024, 2, 29)),
        ('is(@"10:00:00+01:00", @"09:00:00Z")', False),
        ('is(@"10:00:00Z", @"10:00:00Z")', True),
        ('is(date("2020-01-01"), @"2020-01-01T00:00:00")', False),
    ],
)
def test_date_functions(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('@"2021-01-02T10:00:00+01:00" - @"2021-01-01"', dt.timedelta(days=1, hours=9)),
        ('@"2021-01-02" - @"2021-01-01T12:00:00Z"', dt.timedelta(hours=12)),
        ('@"2021-01-02" - @"2021-01-01T12:00:00"', None),
    ],
)
def test_date_minus_date_time(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_is_with_one_named_argument_compares_with_null() -> None:
    assert feel.evaluate('is(value2: @"2021-02-13")') is False
