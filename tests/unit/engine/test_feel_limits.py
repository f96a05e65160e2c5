"""An expression that passes a limit of FEEL stops its instance with an incident."""

from __future__ import annotations

from decimal import Decimal

from bpmn_helpers import chain, flow, process
from legato import FeelLimits
from legato.testing import TestEngine

BOMB = "count(for a in 1..1000, b in 1..1000, c in 1..1000 return a)"


def script(expression: str, mapping: str = "") -> str:
    """A process whose one script task evaluates ``expression`` into ``n``."""
    return process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:scriptTask id="calc"><bpmn:extensionElements>'
        f'<zeebe:script expression="={expression}" resultVariable="n"/>{mapping}'
        "</bpmn:extensionElements></bpmn:scriptTask>"
        '<bpmn:endEvent id="e"/>' + chain("s", "calc", "e")
    )


def test_a_script_past_the_iteration_limit_is_an_incident_naming_the_expression() -> None:
    engine = TestEngine()
    engine.deploy(script(BOMB))

    instance = engine.start("p")

    engine.assert_that(instance).is_active().has_incident("calc")
    [incident] = engine.incidents(instance_key=instance.key)
    assert incident.error_type == "expression"
    assert incident.message == (
        f"expression `{BOMB}` exceeded the iteration limit "
        "(1,000,000 loop iterations and function calls)"
    )
    assert "n" not in engine.instance(instance.key).variables


def test_the_engine_evaluates_with_the_limits_it_is_given() -> None:
    xml = script(
        "string length(s)",
        '<zeebe:ioMapping><zeebe:output source="=s + s" target="doubled"/></zeebe:ioMapping>',
    )
    lowered = TestEngine(feel_limits=FeelLimits(string_length=100))
    lowered.deploy(xml)
    defaults = TestEngine()
    defaults.deploy(xml)

    stopped = lowered.start("p", {"s": "x" * 60})
    done = defaults.start("p", {"s": "x" * 60})

    [incident] = lowered.incidents(instance_key=stopped.key)
    assert (incident.element_id, incident.error_type) == ("calc", "expression")
    assert incident.message == (
        "expression `s + s` exceeded the string length limit (100 characters)"
    )
    defaults.assert_that(done).is_completed().has_variables(n=Decimal(60), doubled="x" * 120)


def test_a_condition_past_a_limit_is_an_incident_on_its_gateway() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw"/>'
        '<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
        + flow("f_s", "s", "gw")
        + flow("f_a", "gw", "a", f"{BOMB} > 0")
        + flow("f_b", "gw", "b", "true")
    )
    engine = TestEngine(feel_limits=FeelLimits(iterations=1_000))
    engine.deploy(xml)

    instance = engine.start("p")

    [incident] = engine.incidents(instance_key=instance.key)
    assert incident.element_id == "gw"
    assert "exceeded the iteration limit (1,000 loop iterations" in incident.message
    assert "f_a" in incident.message
