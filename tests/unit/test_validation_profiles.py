"""Validation profiles: compatible (the default) deploys with warnings what strict refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpmn_helpers import HEADER, chain, process, service
from legato import BpmnValidationError, Engine, InvalidCommandError
from legato.bpmn import COMPATIBLE_WARNINGS
from legato.bpmn.validate import validate_document
from legato.errors import ValidationIssue
from legato.safexml import parse_xml
from legato.testing import TestEngine


def _timer_process(kind: str, value: str) -> str:
    return process(
        '<bpmn:startEvent id="s"/>'
        f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:{kind}>'
        f"{value}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:endEvent id="e"/>' + chain("s", "wait", "e")
    )


def _condition_process(condition: str) -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="to_b"/>'
        '<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
        '<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>'
        '<bpmn:sequenceFlow id="to_a" sourceRef="g" targetRef="a">'
        f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="to_b" sourceRef="g" targetRef="b"/>'
    )


def _refusal(engine: TestEngine, xml: str) -> list[ValidationIssue]:
    with pytest.raises(BpmnValidationError) as refused:
        engine.deploy(xml)
    return refused.value.issues


def _rules_at(issues: list[ValidationIssue] | tuple[ValidationIssue, ...]) -> set[tuple[str, str]]:
    return {(i.rule, i.location.element_id or "") for i in issues}


def test_an_untyped_iso_duration_deploys_with_a_warning_and_fires_on_time() -> None:
    engine = TestEngine()

    deployment = engine.deploy(_timer_process("timeDuration", "PT60H"))

    assert _rules_at(deployment.warnings) == {("EXT012", "wait")}
    [warning] = deployment.warnings
    assert warning.severity == "warning" and "PT60H" in warning.message
    assert "ISO 8601" in warning.message
    instance = engine.start("p")
    engine.clock.advance(timedelta(hours=59, minutes=59))
    engine.assert_that(instance).is_waiting_at("wait")
    engine.clock.advance(timedelta(minutes=1))
    engine.assert_that(instance).is_completed().has_passed("wait")


def test_strict_refuses_an_untyped_duration_naming_ext012_and_the_element() -> None:
    engine = TestEngine(validation="strict")

    issues = _refusal(engine, _timer_process("timeDuration", "PT60H"))

    assert _rules_at(issues) == {("EXT012", "wait")}
    assert all(i.severity == "error" for i in issues)
    assert engine.validation == "strict"


def test_a_typed_duration_deploys_in_strict_without_warnings() -> None:
    typed = _timer_process("timeDuration", "PT60H").replace(
        "<bpmn:timeDuration>", '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
    )

    assert TestEngine(validation="strict").deploy(typed).warnings == ()
    assert TestEngine().deploy(typed).warnings == ()


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("timeCycle", "0 0 9 * * MON-FRI"),
        ("timeCycle", "R3/PT1H"),
        ("timeDate", "2030-01-01T10:00:00Z"),
        ("timeDuration", "=duration(&quot;PT5M&quot;)"),
    ],
)
def test_untyped_cron_cycles_dates_and_expressions_are_compatible_warnings(
    kind: str, value: str
) -> None:
    xml = _timer_process(kind, value)

    assert _rules_at(TestEngine().deploy(xml).warnings) == {("EXT012", "wait")}
    assert _rules_at(_refusal(TestEngine(validation="strict"), xml)) == {("EXT012", "wait")}


@pytest.mark.parametrize("validation", ["compatible", "strict"])
@pytest.mark.parametrize("prose", ["sixty hours", "when the invoice is paid"])
def test_prose_in_a_timer_is_refused_in_both_profiles(validation: str, prose: str) -> None:
    engine = TestEngine(validation="strict" if validation == "strict" else "compatible")

    issues = _refusal(engine, _timer_process("timeDuration", prose))

    assert ("natural-language", "wait") in _rules_at(issues)
    assert any(prose in i.message for i in issues)


@pytest.mark.parametrize("validation", ["compatible", "strict"])
def test_prose_in_a_condition_is_refused_in_both_profiles(validation: str) -> None:
    engine = TestEngine(validation="strict" if validation == "strict" else "compatible")

    issues = _refusal(engine, _condition_process("when it rains"))

    assert ("natural-language", "to_a") in _rules_at(issues)


def test_an_untyped_feel_or_juel_condition_is_taken_as_formal_when_compatible() -> None:
    for condition in ("amount &gt; 100", "${amount &gt; 100}"):
        engine = TestEngine()
        deployment = engine.deploy(_condition_process(condition))
        assert _rules_at(deployment.warnings) == {("EXT012", "to_a")}
        big, small = engine.start("p", {"amount": 500}), engine.start("p", {"amount": 5})
        engine.assert_that(big).is_completed().has_passed("a")
        engine.assert_that(small).is_completed().has_passed("b")

        strict = _refusal(TestEngine(validation="strict"), _condition_process(condition))
        assert _rules_at(strict) == {("EXT012", "to_a")}


IMPLICIT_END = process(
    '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
    + service("work", "work")
    + '<bpmn:endEvent id="e"/>'
    '<bpmn:intermediateThrowEvent id="notified"/>'
    + chain("s", "fork", "work", "e")
    + '<bpmn:sequenceFlow id="to_notified" sourceRef="fork" targetRef="notified"/>'
)


def test_an_intermediate_throw_event_without_outgoing_flow_is_an_implicit_end() -> None:
    engine = TestEngine()

    deployment = engine.deploy(IMPLICIT_END)

    # the event has no outgoing flow (EXT116), so its path ends without an end event (EXT151)
    assert _rules_at(deployment.warnings) == {("EXT116", "notified"), ("EXT151", "notified")}
    engine.register("work", lambda job: None)
    instance = engine.start("p")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed("notified").has_passed("e")


def test_strict_refuses_an_intermediate_event_without_outgoing_flow() -> None:
    issues = _refusal(TestEngine(validation="strict"), IMPLICIT_END)

    assert _rules_at(issues) == {("EXT116", "notified"), ("EXT151", "notified")}


DOCUMENTED_MESSAGE = (
    HEADER + '<bpmn:collaboration id="c">'
    '<bpmn:participant id="customer"/>'
    '<bpmn:participant id="shop" processRef="p"/>'
    '<bpmn:messageFlow id="order" sourceRef="customer" targetRef="s"/>'
    "</bpmn:collaboration>"
    '<bpmn:process id="p" isExecutable="true">'
    '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
    + chain("s", "e")
    + "</bpmn:process></bpmn:definitions>"
)


def test_a_documentation_message_flow_into_a_none_start_event_is_a_compatible_warning() -> None:
    engine = TestEngine()

    deployment = engine.deploy(DOCUMENTED_MESSAGE)

    assert [w.rule for w in deployment.warnings] in (["EXT109"], ["EXT103"])
    assert deployment.warnings[0].location.element_id == "order"
    engine.assert_that(engine.start("p")).is_completed()


def test_strict_refuses_a_message_flow_into_a_none_start_event() -> None:
    issues = _refusal(TestEngine(validation="strict"), DOCUMENTED_MESSAGE)

    assert {i.rule for i in issues} <= {"EXT103", "EXT109"} and issues


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(InvalidCommandError, match="validation"):
        TestEngine(validation="lenient")  # type: ignore[arg-type]
    with pytest.raises(InvalidCommandError, match="validation"):
        Engine("sqlite://", validation="loose")  # type: ignore[arg-type]
    root = parse_xml(IMPLICIT_END.encode(), "m.bpmn")
    with pytest.raises(ValueError, match="profile"):
        validate_document(root, "m.bpmn", "lenient")  # type: ignore[arg-type]


def test_compatible_softens_exactly_the_rules_of_the_table() -> None:
    root = parse_xml(_condition_process("when it rains").encode(), "m.bpmn")

    strict = validate_document(root, "m.bpmn", "strict")
    compatible = validate_document(root, "m.bpmn", "compatible")

    assert [i.rule for i in strict] == [i.rule for i in compatible]
    for before, after in zip(strict, compatible, strict=True):
        assert before.severity == "error"
        expected = "warning" if before.rule in COMPATIBLE_WARNINGS else "error"
        assert after.severity == expected
    assert {i.rule for i in compatible if i.severity == "warning"} == {"EXT012"}
    assert {i.rule for i in compatible if i.severity == "error"} == {"natural-language"}
    assert "warning: " in str(next(i for i in compatible if i.severity == "warning"))
