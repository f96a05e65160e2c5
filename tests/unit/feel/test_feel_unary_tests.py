"""Unary tests, as used in decision table input entries."""

from __future__ import annotations

import datetime as dt

import pytest

from legato import feel


@pytest.mark.parametrize(
    ("tests", "value", "expected"),
    [
        ("-", 5, True),
        ("", 5, True),
        ("  ", None, True),
        ("-", None, True),
        ("< 10", 3, True),
        ("< 10", 10, False),
        ("<= 10", 10, True),
        ("> 10", 11, True),
        (">= 10", 9, False),
        ("= 5", 5, True),
        ("!= 5", 5, False),
        ("[1..5]", 5, True),
        ("[1..5)", 5, False),
        ("]1..5]", 1, False),
        ('"a", "b"', "b", True),
        ('"a", "b"', "c", False),
        ('not("x")', "x", False),
        ('not("x")', "y", True),
        ('not("a", "b")', "c", True),
        ("? > 2", 3, True),
        ("? > 2", 1, False),
        ("? = true", False, False),
        ("true", True, True),
        ("false", True, False),
        ("5", 5, True),
        ("null", None, True),
        ("null", 1, False),
        ("[1, 2, 3]", 2, True),
        ("< 3, > 8", 9, True),
        ("< 3, > 8", 5, False),
        ('date("2020-01-01")', dt.date(2020, 1, 1), True),
        ('> date("2020-01-01")', dt.date(2020, 1, 2), True),
        ("string length(?) > 2", "abc", True),
        ("< 10", None, None),
        ("limit", 7, True),
        ("> limit", 8, True),
    ],
)
def test_matches(tests: str, value: object, expected: bool | None) -> None:
    compiled = feel.compile_unary_tests(tests)

    assert compiled.matches(value, {"limit": 7}) is expected


def test_comparison_against_wrong_type_is_undecided_with_warning() -> None:
    result = feel.compile_unary_tests("< 10").matches_detailed("a")

    assert result.value is None
    assert result.warnings


def test_negated_undecided_stays_undecided() -> None:
    assert feel.compile_unary_tests("not(< 10)").matches("a") is None


def test_unary_tests_syntax_error() -> None:
    with pytest.raises(feel.FeelSyntaxError):
        feel.compile_unary_tests("< ")


def test_multi_word_names_in_unary_tests() -> None:
    compiled = feel.compile_unary_tests("> Minimum Age")

    assert compiled.matches(20, {"Minimum Age": 18}) is True
