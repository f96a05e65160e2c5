"""Decision names with dots, and the FEEL cases the DMN TCK holds beyond the known ones:
``satisfies`` that is not a boolean, ``get value`` with a key that is not a string,
``range`` of a comparison, ranges written as comparisons, and property names with spaces."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from legato import dmn, feel
from unit.dmn.dmn_helpers import model


def _detailed(expression: str) -> tuple[Any, list[str]]:
    result = feel.compile(expression).evaluate_detailed({})
    return result.value, result.errors + result.warnings


def test_a_decision_whose_name_holds_a_number_with_a_dot_is_known_by_that_name() -> None:
    body = """
    <decision id="d21" name="decision A 2.1"><variable name="decision A 2.1"/>
      <literalExpression><text>20</text></literalExpression></decision>
    <decision id="d3" name="decision B">
      <informationRequirement><requiredDecision href="#d21"/></informationRequirement>
      <literalExpression><text>decision A 2.1 + 1</text></literalExpression></decision>"""
    result = dmn.load(model(body)).evaluate("decision B", {})

    assert not result.errors
    assert result.value == Decimal(21)


@pytest.mark.parametrize(
    "expression",
    [
        "some x in [1, 2] satisfies x",
        "every x in [1, 2] satisfies 5",
        'some x in [1] satisfies "y"',
    ],
)
def test_satisfies_that_is_not_a_boolean_is_an_error_and_null(expression: str) -> None:
    value, problems = _detailed(expression)

    assert value is None
    assert any("satisfies" in p and "not a boolean" in p for p in problems), problems


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("some x in [1, 2] satisfies x > 1", True),
        ('some x in ["a", 2] satisfies x > 1', True),  # one true decides, whatever the rest
        ('every x in ["a", 0] satisfies x > 1', False),  # one false decides
        ("every x in [2, 3] satisfies x > 1", True),
        ("some x in [0, 1] satisfies x > 1", False),
        ("some x in [0, null] satisfies x > 1", None),  # undecided, as `false or null` is
        ("some x in [1, 2], y in [3] satisfies x + y", None),
    ],
)
def test_quantified_expressions_follow_and_or_logic(expression: str, expected: bool | None) -> None:
    assert _detailed(expression)[0] is expected


@pytest.mark.parametrize("key", ["1", "true", "[1]", '["a", 2]'])
def test_get_value_with_a_key_that_is_not_a_string_is_an_error(key: str) -> None:
    value, problems = _detailed(f"get value({{a: {{b: 1}}}}, {key})")

    assert value is None
    assert any("key must be a string" in p for p in problems), problems


def test_get_value_with_string_keys_still_works() -> None:
    assert _detailed('get value({a: {b: 1}}, ["a", "b"])')[0] == Decimal(1)
    assert _detailed('get value({a: 1}, "a")')[0] == Decimal(1)


@pytest.mark.parametrize("text", [">=10", "< 3", "=5", "!=5"])
def test_range_of_a_comparison_is_null(text: str) -> None:
    assert _detailed(f'range("{text}")')[0] is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(=10) = [10..10]", False),
        ("(=10) = (=10)", True),
        ("(< 10) = (< 10)", True),
        ("(< 10) = (<= 10)", False),
        ("(>= 10) = (>= 10)", True),
        ("[10..10] = [10..10]", True),
        ("5 in (< 10)", True),
        ("10 in (=10)", True),
    ],
)
def test_ranges_written_as_comparisons_equal_only_their_kind(
    expression: str, expected: bool
) -> None:
    assert _detailed(expression)[0] is expected


def test_white_space_inside_a_character_property_is_invalid_unless_the_x_flag_removes_it() -> None:
    value, problems = _detailed(r'matches("hello world", "\p{ IsBasicLatin}+")')
    assert value is None
    assert any("character property" in p for p in problems), problems
    assert _detailed(r'matches("hello world", "\p{ IsBasicLatin}+", "x")')[0] is True
    assert _detailed(r'matches("hello world", "\p{IsBasicLatin}+")')[0] is True
    assert _detailed(r'matches("a", "\p{L }")')[0] is None
