"""Camunda 7 idioms seen in its example repository: script resources, initiators, Spin JSON."""

from __future__ import annotations

from typing import Any

import pytest

from bpmn_helpers import chain, flow
from legato import BpmnValidationError, Job
from legato.model import ScriptTask
from legato.testing import TestEngine

CAMUNDA_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' id="defs" targetNamespace="http://example.org/tests">\n'
)


def camunda_process(body: str) -> str:
    return (
        f'{CAMUNDA_HEADER}<bpmn:process id="p" isExecutable="true">\n{body}\n</bpmn:process>\n'
        "</bpmn:definitions>\n"
    )


def test_a_script_kept_in_a_resource_runs_as_a_job_of_its_language() -> None:
    xml = camunda_process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:scriptTask id="convert" scriptFormat="xslt" camunda:resource="to-html.xsl"'
        ' camunda:resultVariable="html"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "convert", "e")
    )
    engine = TestEngine()
    [deployed] = engine.deploy(xml).processes
    seen: list[Job] = []

    def transform(job: Job) -> dict[str, Any]:
        seen.append(job)
        return {"html": "<p/>"}

    engine.register("script:xslt", transform)
    instance = engine.start("p")
    engine.run_until_idle()

    task = deployed.process.element("convert")
    assert isinstance(task, ScriptTask)
    assert (task.script_resource, task.script_format, task.script_text) == (
        "to-html.xsl",
        "xslt",
        None,
    )
    assert [(job.element_id, job.headers) for job in seen] == [
        ("convert", {"scriptFormat": "xslt", "resource": "to-html.xsl"})
    ]
    engine.assert_that(instance).is_completed().has_variables(html="<p/>")


def test_the_initiator_variable_is_null_unless_the_start_gives_it() -> None:
    xml = camunda_process(
        '<bpmn:startEvent id="s" camunda:initiator="starter"/>'
        '<bpmn:userTask id="review" camunda:assignee="${starter}"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "review", "e")
    )
    engine = TestEngine()
    engine.deploy(xml)

    anonymous = engine.start("p")
    named = engine.start("p", {"starter": "ada"})
    engine.run_until_idle()

    engine.assert_that(anonymous).is_waiting_at("review").has_variables(starter=None)
    engine.assert_that(named).is_waiting_at("review").has_variables(starter="ada")
    tasks = {t.instance_key: t.assignee for t in engine.user_tasks()}
    assert tasks == {anonymous.key: None, named.key: "ada"}


def test_a_condition_reads_a_json_variable_through_spin() -> None:
    xml = camunda_process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="age"/>'
        '<bpmn:endEvent id="adult"/><bpmn:endEvent id="minor"/>'
        + chain("s", "age")
        + flow("f_adult", "age", "adult", '${customer.prop("age").numberValue() >= 21}')
        + flow("f_minor", "age", "minor", '${customer.prop("age").numberValue() < 21}')
    )
    engine = TestEngine()
    engine.deploy(xml)

    older = engine.start("p", {"customer": {"name": "Ann", "age": 30}})
    younger = engine.start("p", {"customer": {"name": "Bo", "age": 17}})
    engine.run_until_idle()

    engine.assert_that(older).is_completed().has_passed("adult")
    engine.assert_that(younger).is_completed().has_passed("minor")


def _connector_task(output: str) -> str:
    return camunda_process(
        '<bpmn:startEvent id="s"/><bpmn:serviceTask id="call"><bpmn:extensionElements>'
        "<camunda:connector><camunda:inputOutput>"
        '<camunda:inputParameter name="url">https://example.org/${day}</camunda:inputParameter>'
        '<camunda:inputParameter name="method">GET</camunda:inputParameter>'
        f"{output}</camunda:inputOutput>"
        "<camunda:connectorId>http-connector</camunda:connectorId></camunda:connector>"
        '</bpmn:extensionElements></bpmn:serviceTask><bpmn:endEvent id="e"/>'
        + chain("s", "call", "e")
    )


def test_a_connector_sends_its_inputs_to_the_job_and_maps_its_outputs() -> None:
    xml = _connector_task(
        '<camunda:outputParameter name="found">${statusCode == 200}</camunda:outputParameter>'
    )
    engine = TestEngine()
    engine.deploy(xml)
    requests: list[tuple[Any, Any]] = []

    def http(job: Job) -> dict[str, Any]:
        requests.append((job.variables["method"], job.variables["url"]))
        return {"statusCode": 200}

    engine.register("http-connector", http)
    instance = engine.start("p", {"day": "monday"})
    engine.run_until_idle()

    assert requests == [("GET", "https://example.org/monday")]
    engine.assert_that(instance).is_completed().has_variables(found=True)


def test_a_connector_output_in_javascript_is_refused() -> None:
    xml = _connector_task(
        '<camunda:outputParameter name="found"><camunda:script scriptFormat="javascript">'
        "statusCode == 200</camunda:script></camunda:outputParameter>"
    )
    with pytest.raises(BpmnValidationError) as refused:
        TestEngine().deploy(xml)
    assert [(i.rule, i.location.element_id) for i in refused.value.issues] == [
        ("script-format", "call")
    ]
