"""Decision tables under every hit policy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from legato import dmn
from unit.dmn.dmn_helpers import model, table

RULES = [("&lt; 10", '"low"'), ("&lt; 20", '"mid"'), ("-", '"any"')]


def evaluate(
    hit_policy: str, x: int, rules: list[tuple[str, str]] = RULES, output: str = ""
) -> dmn.DecisionResult:
    decision_model = dmn.load(model(table(hit_policy, rules, output=output)))
    return decision_model.evaluate("d", {"x": x})


def test_unique_gives_the_single_matching_rule() -> None:
    result = evaluate("UNIQUE", 15, [("&lt; 10", '"low"'), ("&gt;= 10", '"high"')])

    assert result.value == "high"
    assert [m.rule_id for m in result.matched_rules] == ["r2"]
    assert result.errors == ()


def test_unique_violation_is_null_and_an_error_naming_the_rules() -> None:
    result = evaluate("UNIQUE", 5)

    assert result.value is None
    assert len(result.errors) == 1
    assert "UNIQUE" in result.errors[0] and "d" in result.errors[0]
    assert "1 (r1)" in result.errors[0] and "3 (r3)" in result.errors[0]


def test_any_accepts_equal_outputs_and_rejects_different_ones() -> None:
    same = [("&lt; 10", '"a"'), ("&lt; 20", '"a"')]

    assert evaluate("ANY", 5, same).value == "a"
    conflicting = evaluate("ANY", 5)
    assert conflicting.value is None
    assert "ANY" in conflicting.errors[0]


def test_first_takes_the_first_match_only() -> None:
    result = evaluate("FIRST", 15)

    assert result.value == "mid"
    assert [m.index for m in result.matched_rules] == [2]


def test_priority_follows_the_order_of_output_values() -> None:
    values = '<outputValues><text>"any", "mid", "low"</text></outputValues>'

    assert evaluate("PRIORITY", 5, output=values).value == "any"


def test_rule_order_lists_every_match_in_rule_order() -> None:
    assert evaluate("RULE ORDER", 5).value == ["low", "mid", "any"]


def test_output_order_sorts_by_priority() -> None:
    values = '<outputValues><text>"mid", "any", "low"</text></outputValues>'

    assert evaluate("OUTPUT ORDER", 5, output=values).value == ["mid", "any", "low"]


@pytest.mark.parametrize(
    ("hit_policy", "expected"),
    [
        ("COLLECT", [Decimal(1), Decimal(2), Decimal(3)]),
        ("C+", Decimal(6)),
        ("C&lt;", Decimal(1)),
        ("C&gt;", Decimal(3)),
        ("C#", Decimal(3)),
    ],
)
def test_collect_and_its_aggregations(hit_policy: str, expected: object) -> None:
    rules = [("&lt; 10", "1"), ("&lt; 20", "2"), ("-", "3")]

    assert evaluate(hit_policy, 5, rules).value == expected


def test_aggregation_attribute_is_read() -> None:
    xml = model(table("COLLECT", [("-", "2"), ("-", "5")])).replace(
        'hitPolicy="COLLECT"', 'hitPolicy="COLLECT" aggregation="SUM"'
    )

    assert dmn.load(xml).evaluate("d", {"x": 1}).value == Decimal(7)


def test_no_match_gives_null_or_an_empty_collection() -> None:
    rules = [("&gt; 100", "1")]

    assert evaluate("UNIQUE", 5, rules).value is None
    assert evaluate("COLLECT", 5, rules).value == []
    assert evaluate("C#", 5, rules).value == Decimal(0)
    assert evaluate("C+", 5, rules).value is None


def test_default_output_entry_applies_when_no_rule_matches() -> None:
    default = '<defaultOutputEntry><text>"none"</text></defaultOutputEntry>'

    result = evaluate("UNIQUE", 500, [("&lt; 10", '"low"')], output=default)

    assert result.value == "none"
    assert result.matched_rules == ()


def test_input_outside_its_input_values_is_an_error() -> None:
    xml = model(table("UNIQUE", [("-", '"ok"')])).replace(
        "</inputExpression></input>",
        "</inputExpression><inputValues><text>[0..10]</text></inputValues></input>",
    )
    decision_model = dmn.load(xml)

    assert decision_model.evaluate("d", {"x": 5}).value == "ok"
    refused = decision_model.evaluate("d", {"x": 50})
    assert refused.value is None
    assert "not allowed" in refused.errors[0]


def test_several_outputs_give_a_context_and_annotations_are_kept() -> None:
    xml = model("""
    <decision id="d" name="d">
      <decisionTable hitPolicy="UNIQUE">
        <input><inputExpression><text>1</text></inputExpression></input>
        <output name="a"/><output name="b"/>
        <annotation name="why"/>
        <rule id="only">
          <inputEntry><text>1</text></inputEntry>
          <outputEntry><text>"x"</text></outputEntry><outputEntry><text>2</text></outputEntry>
          <annotationEntry><text>because</text></annotationEntry>
        </rule>
      </decisionTable>
    </decision>""")

    result = dmn.load(xml).evaluate("d")

    assert result.value == {"a": "x", "b": Decimal(2)}
    assert result.matched_rules[0].annotations == ("because",)


def test_first_evaluates_only_the_first_matching_rule_outputs() -> None:
    rules = [("&lt; 20", '"mid"'), ("-", "missing + 1")]

    result = evaluate("FIRST", 15, rules)

    assert result.value == "mid"
    assert result.errors == ()


def test_unique_violation_does_not_evaluate_the_outputs() -> None:
    rules = [("&lt; 20", "missing + 1"), ("-", '"any"')]

    result = evaluate("UNIQUE", 15, rules)

    assert result.value is None
    assert len(result.errors) == 1
    assert "UNIQUE" in result.errors[0]
    assert [m.index for m in result.matched_rules] == [1, 2]


def test_collect_evaluates_every_matching_rule_outputs() -> None:
    rules = [("&lt; 20", "x * 2"), ("&gt;= 20", '"high"'), ("-", '"any"')]

    result = evaluate("COLLECT", 15, rules)

    assert result.value == [Decimal(30), "any"]
    assert [m.index for m in result.matched_rules] == [1, 3]


def test_input_expressions_other_than_a_name_are_evaluated() -> None:
    rules = [("&lt; 10", '"low"'), ("-", '"high"')]
    decision_model = dmn.load(model(table("FIRST", rules, input_expression="x - 10")))

    assert decision_model.evaluate("d", {"x": 15}).value == "low"
    assert decision_model.evaluate("d", {"x": 25}).value == "high"


def test_a_variable_named_like_a_function_shadows_it_in_entries() -> None:
    rules = [('&lt; date("2025-04-01")', '"before"'), ("-", '"other"')]
    body = table("FIRST", rules).replace('typeRef="number"', "")
    plain = dmn.load(model(body))
    body += '<inputData id="date" name="date"><variable name="date"/></inputData>'
    body = body.replace(
        '<requiredInput href="#x"/></informationRequirement>',
        '<requiredInput href="#x"/></informationRequirement>'
        '<informationRequirement><requiredInput href="#date"/></informationRequirement>',
    )
    shadowed = dmn.load(model(body))
    earlier = dt.date(2025, 1, 1)

    assert plain.evaluate("d", {"x": earlier}).value == "before"
    assert shadowed.evaluate("d", {"x": earlier, "date": 1}).value == "other"
