"""Syntax errors name their position; size and nesting limits are enforced."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("1 +", 3),
        ("(1 + 2", 6),
        ("[1, 2", 5),
        ("{a 1}", 4),
        ("{a: 1", 5),
        ('"unterminated', 0),
        ("1 # 2", 2),
        ("if true then 1", 14),
        ("for x in [1] x", 13),
        ("some x in [1] x", 14),
        ("/* open comment", 0),
        ("a[1..", 3),
        ("1 2", 2),
        ("x instance of", 13),
    ],
)
def test_syntax_error_positions(expression: str, position: int) -> None:
    with pytest.raises(feel.FeelSyntaxError) as caught:
        feel.compile(expression)

    assert caught.value.position == position


def test_position_on_later_line() -> None:
    with pytest.raises(feel.FeelSyntaxError) as caught:
        feel.compile("1 +\n  2 +\n  )")

    assert (caught.value.line, caught.value.column) == (3, 3)
    assert "line 3, column 3" in str(caught.value)


def test_syntax_error_is_a_feel_error() -> None:
    assert issubclass(feel.FeelSyntaxError, feel.FeelError)


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 10_000 + "1" + ")" * 10_000,
        "[" * 10_000 + "]" * 10_000,
        "-" * 10_000 + "1",
        "{a: " * 5_000 + "1" + "}" * 5_000,
        "a" + ".b" * 10_000,
        "if true then " * 3_000 + "1" + " else 2" * 3_000,
    ],
)
def test_deep_nesting_is_refused(expression: str) -> None:
    with pytest.raises(feel.FeelSyntaxError, match="nested too deeply"):
        feel.compile(expression)


def test_long_flat_chains_are_not_nesting() -> None:
    assert feel.evaluate("1" + " + 1" * 10_000) == 10_001
    assert feel.evaluate("2" + " * 1 / 1" * 5_000 + " - 1") == 1
    assert feel.evaluate(" or ".join(["x = 1"] * 5_000 + ["x = 2"]), {"x": 2}) is True
    assert feel.evaluate(" and ".join(["true"] * 10_000)) is True


def test_chains_keep_precedence_and_associativity() -> None:
    assert feel.evaluate("10 - 2 - 3 * 2 ** 2 / 4 + 1") == 6
    assert feel.evaluate("(10 - 2) - (3 - 1)") == 6
    assert feel.evaluate("2 ** 3 ** 2") == 64


def test_nesting_within_the_limit_works() -> None:
    depth = 50
    expression = "(" * depth + "1" + ")" * depth

    assert feel.evaluate(expression) == 1


def test_overlong_expression_is_refused() -> None:
    with pytest.raises(feel.FeelSyntaxError, match="too long"):
        feel.compile("1" * (feel.MAX_LENGTH + 1))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 // comment\n + 2", Decimal(3)),
        ("1 /* inline */ + 2", Decimal(3)),
        ("/* leading */ 5", Decimal(5)),
        ("`odd name` + 1", Decimal(2)),
    ],
)
def test_comments_and_quoted_names(expression: str, expected: object) -> None:
    assert feel.evaluate(expression, {"odd name": 1}) == expected


def test_invalid_temporal_literal_is_null_with_warning() -> None:
    result = feel.compile('@"not a date"').evaluate_detailed()

    assert result.value is None
    assert result.warnings


def test_code_point_out_of_range_is_a_syntax_error() -> None:
    with pytest.raises(feel.FeelSyntaxError, match="code point"):
        feel.compile('"\\U1F40Ef"')
