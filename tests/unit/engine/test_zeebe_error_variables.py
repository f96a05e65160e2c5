"""Zeebe's ``errorCode``, ``errorMessage`` and ``escalationCode``: visible to the output
mappings of the catching event, and nowhere else."""

from __future__ import annotations

from bpmn_helpers import chain, process, service
from legato import BpmnError, Job
from legato.testing import TestEngine

ERROR = '<bpmn:error id="err" errorCode="CARD_DECLINED"/>'
OUTPUTS = (
    "<bpmn:extensionElements><zeebe:ioMapping>"
    '<zeebe:output source="=errorCode" target="failureCode"/>'
    '<zeebe:output source="=errorMessage" target="failureMessage"/>'
    "</zeebe:ioMapping></bpmn:extensionElements>"
)


def _boundary(outputs: str) -> str:
    return (
        f'<bpmn:boundaryEvent id="failed" attachedToRef="charge">{outputs}'
        '<bpmn:errorEventDefinition errorRef="err"/></bpmn:boundaryEvent>'
    )


ASK = '<bpmn:userTask id="ask_for_other_card"/>'


def _payment(
    outputs: str, handler: str = ASK, handler_id: str = "ask_for_other_card", message: str = "no"
) -> TestEngine:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + service("charge", "charge")
        + _boundary(outputs)
        + '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + handler
        + chain("s", "charge", "e")
        + chain("failed", handler_id, "e2", prefix="b"),
        extra=ERROR,
    )
    engine = TestEngine()
    engine.deploy(xml)

    @engine.task("charge")
    def charge(job: Job) -> None:
        raise BpmnError("CARD_DECLINED", message)

    return engine


def test_an_error_boundary_event_maps_the_error_code_and_message() -> None:
    engine = _payment(OUTPUTS)
    instance = engine.start("p")
    engine.run_until_idle()
    assert engine.incidents() == []
    engine.assert_that(instance).is_waiting_at("ask_for_other_card").has_variables(
        failureCode="CARD_DECLINED", failureMessage="no"
    )
    variables = engine.instance(instance.key).variables
    assert "errorCode" not in variables and "errorMessage" not in variables


def test_without_output_mappings_the_error_variables_are_not_set() -> None:
    engine = _payment("")
    instance = engine.start("p")
    engine.run_until_idle()
    engine.assert_that(instance).is_waiting_at("ask_for_other_card")
    variables = engine.instance(instance.key).variables
    assert "errorCode" not in variables and "errorMessage" not in variables


def test_the_error_variables_are_not_visible_after_the_catch_event() -> None:
    script = (
        '<bpmn:scriptTask id="later"><bpmn:extensionElements>'
        '<zeebe:script expression="=is defined(errorCode)" resultVariable="seen"/>'
        "</bpmn:extensionElements></bpmn:scriptTask>"
    )
    engine = _payment(OUTPUTS, script, "later", message="")
    instance = engine.start("p")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_variables(
        failureCode="CARD_DECLINED", failureMessage="", seen=False
    )


def test_an_error_event_sub_process_start_maps_the_error_code_and_message() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:endEvent id="boom">'
        '<bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>'
        + chain("s", "boom")
        + '<bpmn:subProcess id="on_error" triggeredByEvent="true"><bpmn:startEvent id="es">'
        + OUTPUTS
        + '<bpmn:errorEventDefinition/></bpmn:startEvent><bpmn:userTask id="cleanup"/>'
        '<bpmn:endEvent id="ee"/>'
        + chain("es", "cleanup", "ee", prefix="x")
        + "</bpmn:subProcess>",
        extra=ERROR,
    )
    engine = TestEngine()
    engine.deploy(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_waiting_at("cleanup").has_variables(failureCode="CARD_DECLINED")
    assert engine.incidents() == []


def test_an_escalation_boundary_event_maps_the_escalation_code() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
        '<bpmn:intermediateThrowEvent id="raise">'
        '<bpmn:escalationEventDefinition escalationRef="esc"/>'
        '</bpmn:intermediateThrowEvent><bpmn:endEvent id="se"/>'
        + chain("ss", "raise", "se", prefix="i")
        + "</bpmn:subProcess>"
        '<bpmn:boundaryEvent id="noted" attachedToRef="sub" cancelActivity="false">'
        "<bpmn:extensionElements><zeebe:ioMapping>"
        '<zeebe:output source="=escalationCode" target="escalated"/>'
        "</zeebe:ioMapping></bpmn:extensionElements>"
        '<bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + chain("s", "sub", "e")
        + chain("noted", "e2", prefix="b"),
        extra='<bpmn:escalation id="esc" escalationCode="LATE"/>',
    )
    engine = TestEngine()
    engine.deploy(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_variables(escalated="LATE")
    assert "escalationCode" not in engine.instance(instance.key).variables
