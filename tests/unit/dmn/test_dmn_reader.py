"""Reading DMN files: namespaces of every version, prefixes, errors, hostile XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato import dmn
from legato.dmn.model import HitPolicy
from legato.errors import DecisionError, DmnParseError, ModelError
from unit.dmn.dmn_helpers import literal, model, table

NAMESPACES = [
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "https://www.omg.org/spec/DMN/20211108/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
]
SIMPLE = literal("Greeting", '"hi " + "there"', element_id="d1")


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("prefix", ["", "semantic", "dmn"])
def test_every_dmn_version_and_prefix_is_read(namespace: str, prefix: str) -> None:
    decision_model = dmn.load(model(SIMPLE, namespace=namespace, prefix=prefix))

    assert decision_model.evaluate("Greeting").value == "hi there"
    assert decision_model.evaluate("d1").value == "hi there"


def test_model_is_compiled_into_frozen_objects() -> None:
    decision_model = dmn.load(model(table("C+", [("-", "1")])))

    decision = decision_model.decisions[0]
    assert decision.expression is not None
    assert getattr(decision.expression, "hit_policy", None) is HitPolicy.COLLECT
    with pytest.raises(AttributeError):
        decision.name = "other"  # type: ignore[misc]


def test_reads_from_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "greeting.dmn"
    path.write_text(model(SIMPLE), encoding="utf-8")

    assert dmn.load(path).evaluate("Greeting").value == "hi there"
    assert dmn.load(str(path)).definitions.file == str(path)


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.dmn"
    path.write_text(model(SIMPLE).replace("</decision>", "</decisio>"), encoding="utf-8")

    with pytest.raises(DmnParseError) as caught:
        dmn.load(path)

    assert isinstance(caught.value, ModelError)
    assert "broken.dmn:2" in str(caught.value)


def test_entity_expansion_is_refused() -> None:
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>' + model(SIMPLE.replace("there", "&b;"))
    )

    with pytest.raises(DmnParseError, match="DOCTYPE"):
        dmn.load(hostile)


def test_external_entity_is_refused() -> None:
    hostile = '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + model(SIMPLE)

    with pytest.raises(DmnParseError):
        dmn.load(hostile)


def test_a_non_dmn_document_is_refused() -> None:
    with pytest.raises(DmnParseError, match="not a DMN"):
        dmn.load('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>')


def test_unknown_hit_policy_names_the_line() -> None:
    xml = model(table("SOMETIMES", [("-", "1")]))

    with pytest.raises(DmnParseError, match="hit policy 'SOMETIMES'") as caught:
        dmn.load(xml)
    assert caught.value.location.line is not None


def test_rule_with_missing_entries_is_refused() -> None:
    xml = model(table("UNIQUE", [("-", "1")])).replace(
        "<outputEntry><text>1</text></outputEntry>", ""
    )

    with pytest.raises(DmnParseError, match="rule 1"):
        dmn.load(xml)


def test_deeply_nested_expression_is_refused() -> None:
    deep = "(" * 5000 + "1" + ")" * 5000
    xml = model(literal("d", deep))

    with pytest.raises(DmnParseError, match="refused"):
        dmn.load(xml)


def test_invalid_feel_is_a_problem_and_evaluates_to_null_with_the_error() -> None:
    xml = model(literal("d", "1 +* 2"))
    decision_model = dmn.load(xml)

    assert len(decision_model.problems) == 1
    result = decision_model.evaluate("d")
    assert result.value is None
    assert "invalid FEEL" in result.errors[0]


def test_unknown_decision_raises() -> None:
    with pytest.raises(DecisionError, match="no decision 'nope'"):
        dmn.load(model(SIMPLE)).evaluate("nope")
