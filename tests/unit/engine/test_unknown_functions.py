"""A call of a function that is neither a FEEL built-in nor defined where it is called is
refused at deployment, naming the file, the element and the function (never a silent null
at run time); Camunda's extension functions deploy and run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpmn_helpers import chain, flow, process, service
from legato import dmn
from legato.errors import (
    BpmnValidationError,
    DmnValidationError,
    ModelValidationError,
    ValidationIssue,
)
from legato.testing import TestEngine


def _gateway(condition: str) -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="otherwise"/>'
        '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>'
        + chain("s", "g")
        + flow("when", "g", "yes", condition)
        + flow("otherwise", "g", "no")
    )


def test_an_unknown_function_in_a_condition_is_refused_naming_file_element_and_function(
    tmp_path: Path,
) -> None:
    issue, text = _refusal(tmp_path / "order.bpmn", _gateway("is definde(customer)"))
    assert issue.location.element_id == "when"
    assert "'is definde()'" in issue.message
    assert "order.bpmn" in text and "'when'" in text


def _refusal(path: Path, xml: str) -> tuple[ValidationIssue, str]:
    """The one issue for which deploying ``xml`` from ``path`` is refused, and the error."""
    path.write_text(xml)
    with pytest.raises(ModelValidationError) as raised:
        TestEngine().deploy(path)
    [issue] = raised.value.issues
    assert issue.rule == "unknown-function"
    assert issue.location.file is not None and issue.location.file.endswith(path.name)
    kind = DmnValidationError if path.suffix == ".dmn" else BpmnValidationError
    assert isinstance(raised.value, kind)
    return issue, str(raised.value)


ZEEBE_SCRIPT = (
    '<bpmn:scriptTask id="compute"><bpmn:extensionElements>'
    '<zeebe:script expression="=total(items)" resultVariable="sum"/>'
    "</bpmn:extensionElements></bpmn:scriptTask>"
)
INPUT_MAPPING = service(
    "charge",
    "charge",
    '<zeebe:ioMapping><zeebe:input source="=to cents(amount)" target="cents"/></zeebe:ioMapping>',
)
OUTPUT_MAPPING = service(
    "charge",
    "charge",
    '<zeebe:ioMapping><zeebe:output source="=fromAi(x)" target="y"/></zeebe:ioMapping>',
)
TIMER = (
    '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=delay for(priority)'
    "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
)


@pytest.mark.parametrize(
    ("element", "element_id", "function"),
    [
        (ZEEBE_SCRIPT, "compute", "total"),
        (INPUT_MAPPING, "charge", "to cents"),
        (OUTPUT_MAPPING, "charge", "fromAi"),
        (TIMER, "wait", "delay for"),
    ],
)
def test_every_feel_expression_of_a_process_is_checked(
    element: str, element_id: str, function: str
) -> None:
    xml = process('<bpmn:startEvent id="s"/>' + element + '<bpmn:endEvent id="e"/>')
    xml = xml.replace("</bpmn:process>", chain("s", element_id, "e") + "</bpmn:process>")
    with pytest.raises(BpmnValidationError) as raised:
        TestEngine().deploy(xml)
    [issue] = raised.value.issues
    assert issue.rule == "unknown-function" and issue.location.element_id == element_id
    assert f"'{function}()'" in issue.message


@pytest.mark.parametrize(
    "condition",
    [
        "{double: function(n) n * 2, r: double(x) > 2}.r",
        "(function(f) f(x) > 2)(function(n) n)",
        "some check in [function(n) n > 2] satisfies check(x)",
        "count([{f: 1}][f > 0]) > 0 and x > 2",
        "get or else(x, 0) > 2 and is defined(x)",
    ],
)
def test_functions_defined_in_the_expression_and_built_ins_deploy(condition: str) -> None:
    engine = TestEngine()
    engine.deploy(_gateway(condition))
    engine.assert_that(engine.start("p", {"x": 3})).is_completed().has_passed("yes")


def test_is_defined_takes_the_branch_a_camunda_model_expects() -> None:
    engine = TestEngine()
    engine.deploy(_gateway("is defined(discount) and discount > 0"))
    engine.assert_that(engine.start("p")).is_completed().has_passed("no")
    engine.assert_that(engine.start("p", {"discount": 5})).is_completed().has_passed("yes")
    assert engine.incidents() == []


def test_a_failed_assert_is_an_incident() -> None:
    engine = TestEngine()
    engine.deploy(_gateway('assert(amount, amount > 0, "amount must be positive") > 10'))
    engine.start("p", {"amount": -1})
    [incident] = engine.incidents()
    assert "amount must be positive" in incident.message


def _decision_model(text: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs" '
        'name="pricing" namespace="http://example.org/pricing">\n'
        '  <businessKnowledgeModel id="bkm" name="double it">\n'
        '    <encapsulatedLogic><formalParameter name="n"/>\n'
        "      <literalExpression><text>n * 2</text></literalExpression>\n"
        "    </encapsulatedLogic>\n"
        "  </businessKnowledgeModel>\n"
        '  <decision id="price" name="Price">\n'
        '    <knowledgeRequirement><requiredKnowledge href="#bkm"/></knowledgeRequirement>\n'
        '    <context><contextEntry><variable name="rate"/>'
        "<literalExpression><text>function(x) x / 10</text></literalExpression></contextEntry>"
        f"<contextEntry><literalExpression><text>{text}</text></literalExpression>"
        "</contextEntry></context>\n"
        "  </decision>\n"
        "</definitions>\n"
    )


def test_a_decision_calling_an_unknown_function_is_refused_at_deployment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pricing.dmn"
    issue, _ = _refusal(path, _decision_model("double it(3) + tripel(2)"))
    assert issue.location.element_id == "price"
    assert "decision 'Price'" in issue.message and "'tripel()'" in issue.message
    # read on its own, the model still evaluates: the call is null with a warning
    result = dmn.load(path).evaluate("Price", {})
    assert result.value is None
    assert any("tripel" in message for message in result.errors)


def test_functions_the_model_defines_deploy() -> None:
    engine = TestEngine()
    engine.deploy(_decision_model("double it(3) + rate(20) + string length(trim(&quot; a &quot;))"))
    assert engine.evaluate_decision("price").value == 9
