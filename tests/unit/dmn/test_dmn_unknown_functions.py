"""A DMN model lists the calls of functions that are neither FEEL built-ins nor named in the
model (a deployment refuses it); reading and evaluating it on its own still works."""

from __future__ import annotations

from legato import dmn
from unit.dmn.dmn_helpers import literal, model, table


def _unknown(xml: str) -> list[str]:
    return [issue.message for issue in dmn.load(xml).definitions.unknown_functions]


def test_a_literal_expression_calling_an_unknown_function_is_listed() -> None:
    [message] = _unknown(model(literal("Total", "sum(xs) + tax of(xs)")))
    assert "decision 'Total'" in message and "'tax of()'" in message


def test_table_entries_are_checked_too() -> None:
    xml = model(table("UNIQUE", [("&lt; limit(1)", '"low"'), ("-", "grade(x)")]))
    assert sorted(m.split("'")[-2] for m in _unknown(xml)) == ["grade()", "limit()"]


def test_functions_the_model_names_are_known() -> None:
    body = (
        '<businessKnowledgeModel id="apply" name="apply to">'
        '<encapsulatedLogic><formalParameter name="f"/><formalParameter name="v"/>'
        "<literalExpression><text>f(v)</text></literalExpression></encapsulatedLogic>"
        "</businessKnowledgeModel>"
        '<decision id="d" name="d"><knowledgeRequirement><requiredKnowledge href="#apply"/>'
        "</knowledgeRequirement>"
        "<literalExpression><text>apply to(function(n) n + 1, 2)</text></literalExpression>"
        "</decision>"
    )
    xml = model(body)
    assert _unknown(xml) == []
    assert dmn.load(xml).evaluate("d", {}).value == 3


def test_evaluated_anyway_an_unknown_function_is_null_with_an_error() -> None:
    result = dmn.load(model(literal("Total", "tax of(1)"))).evaluate("Total", {})
    assert result.value is None
    assert any("no function named 'tax of'" in error for error in result.errors)
