"""Business rule tasks evaluate DMN decisions deployed beside the processes."""

from __future__ import annotations

import pytest

from bpmn_helpers import chain, flow, process
from legato import NotFoundError
from legato.testing import TestEngine

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="credit"
             name="Credit" namespace="https://legato.dev/tests/credit">
  <decision id="approval" name="Approval">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="in_score" label="Score">
        <inputExpression id="ie" typeRef="number"><text>score</text></inputExpression>
      </input>
      <output id="out" name="route" typeRef="string"/>
      <rule id="auto"><inputEntry id="r1i"><text>&gt; 700</text></inputEntry>
        <outputEntry id="r1o"><text>"{route}"</text></outputEntry></rule>
      <rule id="manual"><inputEntry id="r2i"><text>-</text></inputEntry>
        <outputEntry id="r2o"><text>"manager"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""

BPMN = process(
    '<bpmn:startEvent id="s"/><bpmn:businessRuleTask id="decide"><bpmn:extensionElements>'
    '<zeebe:calledDecision decisionId="approval" resultVariable="route"/>'
    "</bpmn:extensionElements></bpmn:businessRuleTask>"
    '<bpmn:exclusiveGateway id="gw" default="to_manager"/><bpmn:task id="approve"/>'
    '<bpmn:userTask id="manager"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
    + chain("s", "decide", "gw")
    + flow("to_approve", "gw", "approve", 'route = "approve"')
    + flow("to_manager", "gw", "manager")
    + chain("approve", "e", prefix="a")
    + chain("manager", "e2", prefix="m")
)


def test_a_decision_table_routes_the_process_and_is_recorded() -> None:
    engine = TestEngine()
    deployment = engine.deploy(DMN.replace("{route}", "approve"))
    assert [d.decision_id for d in deployment.decisions] == ["approval"]
    engine.deploy(BPMN)
    high = engine.start("p", {"score": 742})
    engine.assert_that(high).is_completed().has_passed("approve").has_variables(route="approve")
    low = engine.start("p", {"score": 610})
    engine.assert_that(low).is_waiting_at("manager")
    [evaluated] = [h for h in engine.history(high.key) if h.event_type == "DecisionEvaluated"]
    assert evaluated.details["matched_rules"] == ["auto"]
    assert evaluated.details["version"] == 1


def test_decisions_are_versioned_and_the_latest_is_used() -> None:
    engine = TestEngine()
    engine.deploy(DMN.replace("{route}", "approve"))
    engine.deploy(DMN.replace("{route}", "approve"))
    second = engine.deploy(DMN.replace("{route}", "fast-track"))
    assert second.decisions[0].version == 2
    assert engine.evaluate_decision("approval", {"score": 800}).value == "fast-track"
    with pytest.raises(NotFoundError):
        engine.evaluate_decision("nothing")


def test_a_missing_or_failing_decision_is_an_incident() -> None:
    engine = TestEngine()
    engine.deploy(BPMN)
    missing = engine.start("p", {"score": 1})
    [incident] = engine.incidents(instance_key=missing.key)
    assert incident.error_type == "decision" and "approval" in incident.message
    engine.deploy(DMN.replace("{route}", "approve"))
    engine.retry(incident.incident_key)
    engine.assert_that(missing).is_waiting_at("manager")
    violated = DMN.replace("{route}", "approve").replace('hitPolicy="FIRST"', 'hitPolicy="UNIQUE"')
    engine.deploy(violated.replace("<text>-</text>", "<text>&gt;= 0</text>"))
    failing = engine.start("p", {"score": 800})
    [incident] = engine.incidents(instance_key=failing.key)
    assert incident.error_type == "decision" and "version 2" in incident.message
