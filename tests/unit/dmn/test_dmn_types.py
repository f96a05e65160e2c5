"""Item definitions: type checking and conversion of inputs, outputs and parameters."""

from __future__ import annotations

from decimal import Decimal

from legato import dmn
from unit.dmn.dmn_helpers import model

TYPES = """
<itemDefinition name="tScore"><typeRef>number</typeRef>
  <allowedValues><text>[0..100]</text></allowedValues></itemDefinition>
<itemDefinition name="tScores" isCollection="true"><typeRef>tScore</typeRef></itemDefinition>
<itemDefinition name="tPerson">
  <itemComponent name="name"><typeRef>string</typeRef></itemComponent>
  <itemComponent name="age"><typeRef>number</typeRef></itemComponent>
</itemDefinition>
"""


def echo(type_ref: str, expression: str = "v") -> dmn.DecisionModel:
    return dmn.load(
        model(f"""{TYPES}
        <inputData id="v" name="v"><variable name="v" typeRef="{type_ref}"/></inputData>
        <decision id="d" name="d"><variable name="d" typeRef="{type_ref}"/>
          <informationRequirement><requiredInput href="#v"/></informationRequirement>
          <literalExpression><text>{expression}</text></literalExpression>
        </decision>""")
    )


def test_conforming_input_passes_unchanged() -> None:
    result = echo("tPerson").evaluate("d", {"v": {"name": "Ann", "age": 30, "extra": True}})

    assert result.value == {"name": "Ann", "age": Decimal(30), "extra": True}
    assert result.errors == ()


def test_non_conforming_input_becomes_null_with_an_error() -> None:
    result = echo("number").evaluate("d", {"v": "twelve"})

    assert result.value is None
    assert "input 'v'" in result.errors[0] and "number" in result.errors[0]


def test_structure_missing_a_component_does_not_conform() -> None:
    assert echo("tPerson").evaluate("d", {"v": {"name": "Ann"}}).value is None


def test_allowed_values_constrain_the_type() -> None:
    decision_model = echo("tScore")

    assert decision_model.evaluate("d", {"v": 99}).value == Decimal(99)
    assert decision_model.evaluate("d", {"v": 101}).value is None


def test_collection_items_are_checked_and_a_single_item_becomes_a_list() -> None:
    decision_model = echo("tScores")

    assert decision_model.evaluate("d", {"v": [1, 2]}).value == [Decimal(1), Decimal(2)]
    assert decision_model.evaluate("d", {"v": [1, 200]}).value is None
    assert decision_model.evaluate("d", {"v": 5}).value == [Decimal(5)]


def test_singleton_list_becomes_its_item_for_a_non_list_type() -> None:
    assert echo("string", '["only"]').evaluate("d", {"v": "x"}).value == "only"


def test_decision_output_of_the_wrong_type_becomes_null() -> None:
    result = echo("string", "1 + 1").evaluate("d", {"v": "x"})

    assert result.value is None
    assert "decision 'd'" in result.errors[-1]


def test_item_definitions_work_with_instance_of() -> None:
    decision_model = dmn.load(
        model(f"""{TYPES}
        <decision id="d" name="d"><literalExpression>
          <text>{{name: "a", age: 1}} instance of tPerson</text>
        </literalExpression></decision>""")
    )

    assert decision_model.evaluate("d").value is True


def test_feel_types_and_prefixed_type_refs_are_understood() -> None:
    assert echo("feel:number").evaluate("d", {"v": "x"}).value is None
    assert echo("list&lt;number&gt;").evaluate("d", {"v": [1]}).value == [Decimal(1)]
    assert echo("list&lt;number&gt;").evaluate("d", {"v": ["a"]}).value is None
    assert echo("date and time").evaluate("d", {"v": "x"}).value is None


def test_instance_of_ignores_allowed_values() -> None:
    decision_model = dmn.load(
        model(f"""{TYPES}
        <decision id="d" name="d"><literalExpression>
          <text>[500 instance of tScore, "a" instance of tScore]</text>
        </literalExpression></decision>""")
    )

    assert decision_model.evaluate("d").value == [True, False]
