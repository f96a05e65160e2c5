"""FEEL limits in DMN: one evaluation of a model shares one budget, and a breach stops it."""

from __future__ import annotations

from decimal import Decimal

from legato import dmn, feel
from legato.feel import FeelLimits
from unit.dmn.dmn_helpers import literal, model

KNOWLEDGE = """
<businessKnowledgeModel id="spread" name="spread">
  <encapsulatedLogic><formalParameter name="n"/>
    <literalExpression><text>count(for j in 1..n return j)</text></literalExpression>
  </encapsulatedLogic>
</businessKnowledgeModel>
<decision id="d" name="d">
  <knowledgeRequirement><requiredKnowledge href="#spread"/></knowledgeRequirement>
  <literalExpression><text>sum(for i in 1..100 return spread(100))</text></literalExpression>
</decision>
"""


def test_expressions_of_one_evaluation_share_one_budget() -> None:
    decisions = dmn.load(model(KNOWLEDGE))

    assert decisions.evaluate("d").value == Decimal(10_000)
    # Each expression alone stays within 10,000 iterations; together they do not.
    with feel.use_limits(FeelLimits(iterations=10_000)):
        result = decisions.evaluate("d")

    assert result.value is None
    assert len(result.errors) == 1
    assert "exceeded the iteration limit (10,000" in result.errors[0]


def test_a_breach_stops_the_decision_and_the_decisions_requiring_it() -> None:
    body = literal("bomb", "count(for a in 1..1000, b in 1..1000, c in 1..1000 return a)")
    body += """
    <decision id="uses" name="uses">
      <informationRequirement><requiredDecision href="#bomb"/></informationRequirement>
      <literalExpression><text>if bomb = null then "no bomb" else "bomb"</text></literalExpression>
    </decision>"""
    decisions = dmn.load(model(body))

    with feel.use_limits(FeelLimits(iterations=10_000)):
        result = decisions.evaluate("uses")

    assert result.value is None
    assert result.errors == (
        "expression `count(for a in 1..1000, b in 1..1000, c in 1..1000 return a)` "
        "exceeded the iteration limit (10,000 loop iterations and function calls)",
    )
