"""Dates and date and times whose year lies outside 1-9999."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from legato import feel
from legato.feel import YearsMonthsDuration
from legato.feel.values import FarDate, far_date, far_date_of


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('string(@"-2021-01-01T10:10:10+11:00" + @"P1Y")', "-2020-01-01T10:10:10+11:00"),
        ('string(@"-2021-01-01T10:10:10+11:00" - @"P1M")', "-2022-12-01T10:10:10+11:00"),
        (
            'string(@"-2021-01-01T10:10:10@Australia/Melbourne" + @"P1D")',
            "-2021-01-02T10:10:10@Australia/Melbourne",
        ),
        ('string(date("999999999-12-31"))', "999999999-12-31"),
        ('string(date("-999999999-12-31"))', "-999999999-12-31"),
        ("string(date(-999999999, 12, 31))", "-999999999-12-31"),
        ('string(date and time("99999-12-31T11:22:33"))', "99999-12-31T11:22:33"),
        ('string(@"9999-12-31" + @"P1D")', "10000-01-01"),
        ('string(@"-0001-12-31" + @"P1D")', "0000-01-01"),
        ('string(@"0000-02-28" + @"P1D")', "0000-02-29"),
        ('string(date(date and time("-0044-03-15T12:00:00")))', "-0044-03-15"),
    ],
)
def test_far_dates_print_their_real_year(expression: str, expected: str) -> None:
    assert feel.evaluate(expression) == expected


def test_a_far_date_coming_back_into_range_is_a_python_date() -> None:
    assert feel.evaluate('@"10000-01-01" - @"P1D"') == dt.date(9999, 12, 31)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('@"-0001-01-01" < @"0001-01-01"', True),
        ('@"-2021-01-01" = date(-2021, 1, 1)', True),
        ('@"-2021-01-01" > @"-2022-01-01"', True),
        ('@"0001-01-01" - @"-0001-12-31"', dt.timedelta(days=367)),
        ('(@"-0044-03-15").year', Decimal(-44)),
        ('(@"-0044-03-15T10:20:00").hour', Decimal(10)),
        ('@"-2021-01-01" instance of date', True),
        ('@"-2021-01-01T00:00:00" instance of date and time', True),
        ('day of week(@"-0001-01-01")', "Friday"),
        (
            'years and months duration(@"-2016-01-30T09:05:00", @"-2017-02-28T02:02:02")',
            YearsMonthsDuration(-11),
        ),
    ],
)
def test_far_dates_compute(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_far_date_construction() -> None:
    assert far_date_of(2024, 2, 29) == dt.date(2024, 2, 29)
    far = far_date_of(-4, 2, 29)
    assert isinstance(far, FarDate)
    assert (far.year, far.month, far.day) == (-4, 2, 29)
    assert far_date(far.shifted, far.cycles) == far
    with pytest.raises(ValueError):
        far_date_of(-3, 2, 29)
