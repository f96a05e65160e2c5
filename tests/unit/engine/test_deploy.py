"""Deployment: what the engine refuses, and global tasks called like processes."""

from __future__ import annotations

import pytest

from bpmn_helpers import HEADER, chain, process, service
from legato import BpmnParseError, BpmnValidationError, NotFoundError
from legato.testing import TestEngine


def test_elements_this_version_cannot_run_are_refused_naming_the_element() -> None:
    xml = process(
        '<bpmn:startEvent id="both" parallelMultiple="true">'
        '<bpmn:signalEventDefinition signalRef="a"/><bpmn:signalEventDefinition signalRef="b"/>'
        "</bpmn:startEvent>"
        + service("t", "work")
        + '<bpmn:endEvent id="e"/>'
        + chain("both", "t", "e"),
        extra='<bpmn:signal id="a" name="a"/><bpmn:signal id="b" name="b"/>',
    )
    engine = TestEngine()
    with pytest.raises(BpmnValidationError) as caught:
        engine.deploy(xml)
    [issue] = caught.value.issues
    assert issue.location.element_id == "both"
    assert "parallel multiple start event 'both' of a process" in issue.message
    assert engine.instances() == []


def test_unreadable_timer_expressions_are_refused_naming_the_element() -> None:
    for definition in (
        "<bpmn:timeDuration>P1X</bpmn:timeDuration>",
        "<bpmn:timeCycle>0 0 * *</bpmn:timeCycle>",
        "<bpmn:timeDate>next tuesday</bpmn:timeDate>",
    ):
        xml = process(
            '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait">'
            f"<bpmn:timerEventDefinition>{definition}</bpmn:timerEventDefinition>"
            '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + chain("s", "wait", "e")
        )
        with pytest.raises(BpmnValidationError) as caught:
            TestEngine().deploy(xml)
        assert any(i.location.element_id == "wait" for i in caught.value.issues), definition


def test_malformed_and_hostile_xml_are_refused_and_nothing_is_deployed() -> None:
    engine = TestEngine()
    with pytest.raises(BpmnParseError, match="line 2"):
        engine.deploy(
            '<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x"><oops></bpmn:definitions>'
        )
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><d>&b;</d>'
    with pytest.raises(BpmnParseError, match="DOCTYPE"):
        engine.deploy(bomb)
    with pytest.raises(BpmnValidationError):
        engine.deploy(HEADER + "</bpmn:definitions>")
    with pytest.raises(NotFoundError):
        engine.start("p")


def test_a_call_activity_can_call_a_global_task() -> None:
    xml = HEADER + (
        '<bpmn:globalScriptTask id="double" scriptFormat="feel">'
        "<bpmn:script>n * 2</bpmn:script></bpmn:globalScriptTask>"
        '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
        '<bpmn:callActivity id="call" calledElement="double"/><bpmn:endEvent id="e"/>'
        + chain("s", "call", "e")
        + "</bpmn:process></bpmn:definitions>"
    )
    engine = TestEngine()
    engine.deploy(
        xml.replace(
            'scriptFormat="feel"',
            'scriptFormat="feel" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
            'camunda:resultVariable="n"',
        )
    )
    instance = engine.start("p", {"n": 21})
    engine.assert_that(instance).is_completed().has_variables(n=42)


def test_invalid_feel_is_refused_at_deployment_naming_element_and_position() -> None:
    from bpmn_helpers import flow

    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" default="f2"/>'
        '<bpmn:task id="a"/><bpmn:task id="b"/>'
        + chain("s", "gw")
        + flow("f1", "gw", "a", "amount >> 3")
        + flow("f2", "gw", "b")
    )
    with pytest.raises(BpmnValidationError) as caught:
        TestEngine().deploy(xml)
    text = str(caught.value)
    assert "f1" in text
    assert "column" in text or "position" in text


def test_a_long_model_given_as_text_deploys_and_a_missing_path_is_named() -> None:
    tasks = "".join(service(f"t{i}", "work") for i in range(200))
    ids = ["s", *(f"t{i}" for i in range(200)), "e"]
    xml = process('<bpmn:startEvent id="s"/>' + tasks + '<bpmn:endEvent id="e"/>' + chain(*ids))
    assert len(xml) > 8192  # longer than any file name the file system accepts
    engine = TestEngine()
    deployment = engine.deploy(xml)
    assert [p.process_id for p in deployment.processes] == ["p"]
    with pytest.raises(BpmnParseError, match="cannot read model file") as caught:
        engine.deploy("missing/" + "x" * 5000 + ".bpmn")
    assert "missing/" in str(caught.value)
