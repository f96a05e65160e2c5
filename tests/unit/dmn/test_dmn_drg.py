"""The decision requirements graph, knowledge models, services, imports, boxed expressions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from legato import dmn
from legato.errors import DecisionError, DmnParseError
from unit.dmn.dmn_helpers import literal, model

GRAPH = """
<inputData id="i_income" name="Monthly Income"><variable name="Monthly Income" typeRef="number"/>
  </inputData>
<decision id="d_yearly" name="Yearly Income">
  <variable name="Yearly Income" typeRef="number"/>
  <informationRequirement><requiredInput href="#i_income"/></informationRequirement>
  <literalExpression><text>Monthly Income * 12</text></literalExpression>
</decision>
<decision id="d_band" name="Band">
  <informationRequirement><requiredDecision href="#d_yearly"/></informationRequirement>
  <knowledgeRequirement><requiredKnowledge href="#bkm_band"/></knowledgeRequirement>
  <invocation>
    <literalExpression><text>Band Of</text></literalExpression>
    <binding><parameter name="amount"/><literalExpression><text>Yearly Income</text>
      </literalExpression></binding>
  </invocation>
</decision>
<businessKnowledgeModel id="bkm_band" name="Band Of">
  <encapsulatedLogic>
    <formalParameter name="amount" typeRef="number"/>
    <decisionTable hitPolicy="FIRST">
      <input><inputExpression><text>amount</text></inputExpression></input>
      <output/>
      <rule id="low"><inputEntry><text>&lt; 30000</text></inputEntry>
        <outputEntry><text>"low"</text></outputEntry></rule>
      <rule id="high"><inputEntry><text>-</text></inputEntry><outputEntry><text>"high"</text>
        </outputEntry></rule>
    </decisionTable>
  </encapsulatedLogic>
</businessKnowledgeModel>
"""


def test_a_decision_evaluates_its_required_decisions_first() -> None:
    result = dmn.load(model(GRAPH)).evaluate("Band", {"Monthly Income": 3000})

    assert result.value == "high"
    assert result.outputs == {"Yearly Income": Decimal(36000), "Band": "high"}
    assert [(m.table, m.rule_id) for m in result.matched_rules] == [("Band Of", "high")]


def test_a_missing_input_is_null() -> None:
    result = dmn.load(model(GRAPH)).evaluate("Yearly Income", {})

    assert result.value is None


def test_a_business_knowledge_model_can_be_invoked_directly() -> None:
    decision_model = dmn.load(model(GRAPH))

    assert decision_model.invoke("Band Of", [100]).value == "low"
    assert decision_model.invoke("Band Of", {"amount": 100000}).value == "high"
    wrong = decision_model.invoke("Band Of", ["a lot"])
    assert wrong.value is None and "does not conform" in wrong.errors[0]
    with pytest.raises(DecisionError):
        decision_model.invoke("nothing", [])


def test_a_decision_sees_only_what_it_requires() -> None:
    body = (
        GRAPH
        + """
    <decision id="d_sneaky" name="Sneaky"><literalExpression><text>Monthly Income</text>
      </literalExpression></decision>"""
    )
    result = dmn.load(model(body)).evaluate("Sneaky", {"Monthly Income": 1})

    assert result.value is None
    assert "no variable named 'Monthly Income'" in result.errors[0]


def test_boxed_expressions() -> None:
    body = """
    <decision id="d" name="d"><context>
      <contextEntry><variable name="xs"/><list>
        <literalExpression><text>1</text></literalExpression>
        <literalExpression><text>2</text></literalExpression>
        <literalExpression><text>3</text></literalExpression>
      </list></contextEntry>
      <contextEntry><variable name="rel"/><relation>
        <column name="a"/><column name="b"/>
        <row><literalExpression><text>1</text></literalExpression>
          <literalExpression><text>"x"</text></literalExpression></row>
      </relation></contextEntry>
      <contextEntry><variable name="big"/><filter>
        <in><literalExpression><text>xs</text></literalExpression></in>
        <match><literalExpression><text>item &gt; 1</text></literalExpression></match>
      </filter></contextEntry>
      <contextEntry><variable name="doubled"/><for iteratorVariable="n">
        <in><literalExpression><text>xs</text></literalExpression></in>
        <return><literalExpression><text>n * 2</text></literalExpression></return>
      </for></contextEntry>
      <contextEntry><variable name="any big"/><some iteratorVariable="n">
        <in><literalExpression><text>xs</text></literalExpression></in>
        <satisfies><literalExpression><text>n &gt; 2</text></literalExpression></satisfies>
      </some></contextEntry>
      <contextEntry><variable name="all big"/><every iteratorVariable="n">
        <in><literalExpression><text>xs</text></literalExpression></in>
        <satisfies><literalExpression><text>n &gt; 2</text></literalExpression></satisfies>
      </every></contextEntry>
      <contextEntry><variable name="sign"/><conditional>
        <if><literalExpression><text>count(xs) &gt; 2</text></literalExpression></if>
        <then><literalExpression><text>"many"</text></literalExpression></then>
        <else><literalExpression><text>"few"</text></literalExpression></else>
      </conditional></contextEntry>
      <contextEntry><variable name="twice"/><functionDefinition>
        <formalParameter name="v" typeRef="number"/>
        <literalExpression><text>v * 2</text></literalExpression>
      </functionDefinition></contextEntry>
      <contextEntry><variable name="four"/><literalExpression><text>twice(2)</text>
        </literalExpression></contextEntry>
    </context></decision>"""

    value = dmn.load(model(body)).evaluate("d").value

    assert value["rel"] == [{"a": Decimal(1), "b": "x"}]
    assert value["big"] == [Decimal(2), Decimal(3)]
    assert value["doubled"] == [Decimal(2), Decimal(4), Decimal(6)]
    assert (value["any big"], value["all big"]) == (True, False)
    assert value["sign"] == "many"
    assert value["four"] == Decimal(4)


def test_a_context_with_a_result_entry_gives_that_entry() -> None:
    body = """<decision id="d" name="d"><context>
      <contextEntry><variable name="a"/><literalExpression><text>2</text></literalExpression>
        </contextEntry>
      <contextEntry><literalExpression><text>a + 1</text></literalExpression></contextEntry>
    </context></decision>"""

    assert dmn.load(model(body)).evaluate("d").value == Decimal(3)


def test_recursive_knowledge_model() -> None:
    body = """
    <businessKnowledgeModel id="fact" name="fact">
      <knowledgeRequirement><requiredKnowledge href="#fact"/></knowledgeRequirement>
      <encapsulatedLogic><formalParameter name="n"/>
        <literalExpression><text>if n &lt;= 1 then 1 else n * fact(n - 1)</text></literalExpression>
      </encapsulatedLogic>
    </businessKnowledgeModel>
    <decision id="d" name="d">
      <knowledgeRequirement><requiredKnowledge href="#fact"/></knowledgeRequirement>
      <literalExpression><text>fact(5)</text></literalExpression>
    </decision>
    <decision id="forever" name="forever">
      <knowledgeRequirement><requiredKnowledge href="#fact"/></knowledgeRequirement>
      <literalExpression><text>fact(1000)</text></literalExpression>
    </decision>"""
    decision_model = dmn.load(model(body))

    assert decision_model.evaluate("d").value == Decimal(120)
    too_deep = decision_model.evaluate("forever")
    assert too_deep.value is None
    assert any("too deeply" in error for error in too_deep.errors)


SERVICE = """
<inputData id="i" name="name"><variable name="name" typeRef="string"/></inputData>
<decision id="greet" name="greet">
  <informationRequirement><requiredInput href="#i"/></informationRequirement>
  <informationRequirement><requiredDecision href="#title"/></informationRequirement>
  <literalExpression><text>"Hello " + title + " " + name</text></literalExpression>
</decision>
<decision id="title" name="title"><variable name="title" typeRef="string"/>
  <literalExpression><text>"Dr"</text></literalExpression></decision>
<decisionService id="svc" name="Greeter">
  <outputDecision href="#greet"/><inputDecision href="#title"/><inputData href="#i"/>
</decisionService>
<decision id="caller" name="caller">
  <knowledgeRequirement><requiredKnowledge href="#svc"/></knowledgeRequirement>
  <literalExpression><text>Greeter("Ann", "Ms")</text></literalExpression>
</decision>
"""


def test_decision_service_direct_and_as_a_function() -> None:
    decision_model = dmn.load(model(SERVICE))

    direct = decision_model.evaluate_service("Greeter", {"name": "Bo", "title": "Mr"})
    assert direct.value == "Hello Mr Bo"
    assert direct.outputs == {"greet": "Hello Mr Bo"}
    assert decision_model.evaluate("caller").value == "Hello Ms Ann"
    with pytest.raises(DecisionError):
        decision_model.evaluate_service("nope")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


IMPORTED = model(
    """<itemDefinition name="tName"><typeRef>string</typeRef></itemDefinition>
    <inputData id="who" name="Who"><variable name="Who" typeRef="tName"/></inputData>
    <decision id="hello" name="Say Hello">
      <informationRequirement><requiredInput href="#who"/></informationRequirement>
      <literalExpression><text>"Hello " + Who</text></literalExpression></decision>""",
    name="lib",
)
IMPORTING = model(
    """<import name="lib" namespace="urn:lib" importType="https://www.omg.org/spec/DMN/20230324/MODEL/"/>
    <inputData id="n" name="n"><variable name="n" typeRef="lib.tName"/></inputData>
    <decision id="main" name="main">
      <informationRequirement><requiredDecision href="urn:lib#hello"/></informationRequirement>
      <informationRequirement><requiredInput href="#n"/></informationRequirement>
      <literalExpression><text>lib.Say Hello + "!"</text></literalExpression></decision>""",
    name="main",
)


def test_imports_are_found_in_the_same_folder(tmp_path: Path) -> None:
    _write(tmp_path, "lib.dmn", IMPORTED)
    main = dmn.load(_write(tmp_path, "main.dmn", IMPORTING))

    assert main.evaluate("main", {"lib": {"Who": "Ann"}}).value == "Hello Ann!"
    assert main.evaluate("main", {"{urn:lib}Who": "Bo"}).value == "Hello Bo!"


def test_load_many_links_models_and_checks_imported_types() -> None:
    models = dmn.load_many([IMPORTING, IMPORTED])

    assert set(models) == {"main", "lib"}
    assert models["main"].types.resolve("lib.tName") is not None
    assert models["main"].evaluate("main", {"lib": {"Who": 5}}).value is None


def test_an_import_nobody_provides_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DmnParseError, match="urn:lib"):
        dmn.load(_write(tmp_path, "main.dmn", IMPORTING))


def test_now_is_injected() -> None:
    body = literal("d", "today()")
    instant = dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)

    assert dmn.load(model(body)).evaluate("d", now=instant).value == dt.date(2024, 2, 29)
