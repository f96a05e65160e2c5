"""Strings: literals, escapes and the string built-ins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (r'"a\"b"', 'a"b'),
        (r'"line\nbreak"', "line\nbreak"),
        (r'"tab\t"', "tab\t"),
        (r'"\u00e9"', "é"),
        (r'"\U01F40E"', "\U0001f40e"),
        (r'"\ud83d\udc0e"', "\U0001f40e"),
        (r'"back\\slash"', "back\\slash"),
        ('"🐎"', "🐎"),
    ],
)
def test_string_literals(expression: str, expected: str) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('substring("foobar", 3)', "obar"),
        ('substring("foobar", 3, 3)', "oba"),
        ('substring("foobar", -2, 1)', "a"),
        ('substring(string: "foobar", start position: 2, length: 2)', "oo"),
        ('string length("🐎ab")', Decimal(3)),
        ('upper case("aBc")', "ABC"),
        ('lower case("aBc")', "abc"),
        ('substring before("foobar", "bar")', "foo"),
        ('substring before("foobar", "xyz")', ""),
        ('substring after("foobar", "ob")', "ar"),
        ('contains("foobar", "ob")', True),
        ('starts with("foobar", "fo")', True),
        ('ends with("foobar", "r")', True),
        ('matches("foobar", "^fo*")', True),
        ('matches("FOO", "foo", "i")', True),
        ('matches("abc", "x")', False),
        ('replace("abcd", "(ab)|(a)", "[1=$1][2=$2]")', "[1=ab][2=]cd"),
        ('replace("a.b.c", ".", "-", "q")', "a-b-c"),
        ('replace("banana", "a", "o")', "bonono"),
        ('split("a;b;;c", ";")', ["a", "b", "", "c"]),
        ('split("John Doe", "\\s")', ["John", "Doe"]),
        ('string join(["a", "b", "c"], ", ")', "a, b, c"),
        ('string join(["a", null, "c"])', "ac"),
        ('string join(["a", "b"], "-", "[", "]")', "[a-b]"),
        ('extract("a1b22c333", "[0-9]+")', ["1", "22", "333"]),
        ("string(1.50)", "1.50"),
        ("string(true)", "true"),
        ('string(date("2020-01-02"))', "2020-01-02"),
        ("string(null)", None),
        ('"a" + string(1)', "a1"),
    ],
)
def test_string_functions(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        'substring("abc", 0)',
        'replace("abc", "(", "x")',
        'matches("abc", "a", "z")',
        'string length(["a", "b"])',
        'string join(["a", 1])',
    ],
)
def test_string_function_errors(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings


def test_singleton_list_is_unwrapped_for_string_parameter() -> None:
    assert feel.evaluate('string length(["abc"])') == 3


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('matches("a\\u000Db", "a.b")', False),
        ('matches("a\\u000Db", "a.b", "s")', True),
        ('matches("x", "[A-Z-[OI]]", "i")', True),
        ('matches("O", "[A-Z-[OI]]")', False),
        ('matches("hello world", "hello\\ sworld", "x")', True),
        ('matches("hello world", " hello[ ]world", "x")', True),
        ('matches("héllo", "^\\p{L}+$")', True),
        ('matches("abc", "^\\p{IsBasicLatin}+$")', True),
        ('matches("é", "^\\p{IsBasicLatin}+$")', False),
        ('matches("a+b", "a+b", "q")', True),
        ('matches("input", "pattern", null)', False),
    ],
)
def test_xpath_regular_expressions(expression: str, expected: bool) -> None:
    assert feel.evaluate(expression) is expected


@pytest.mark.parametrize(
    "expression",
    ['matches("abcd", "(asd)[\\1]")', 'matches("a", "a", [])', 'matches("a", "\\p{Unknown}")'],
)
def test_invalid_regular_expressions(expression: str) -> None:
    result = feel.compile(expression).evaluate_detailed()

    assert result.value is None
    assert result.warnings
