"""Multi-instance behaviours, parallel multiple events, instantiating receive tasks, timer
cycles on catch events and loop maxima: each on a model built for it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpmn_helpers import chain, flow, process
from legato.engine.processors import base
from legato.errors import BpmnValidationError
from legato.testing import TestEngine

SIGNAL = '<bpmn:signal id="sig" name="done-one"/>'
ESCALATION = '<bpmn:escalation id="esc" escalationCode="HALF"/>'


def _engine(xml: str) -> TestEngine:
    engine = TestEngine()
    engine.deploy(xml)
    return engine


def _replays(engine: TestEngine, key: int) -> bool:
    return engine.replay(key).to_json() == engine.state(key).to_json()


# -- multi-instance behaviours ----------------------------------------------------------------


def _mi_with_signal_boundary(loop_attrs: str, loop_body: str = "", extra: str = "") -> str:
    """A sequential three-times task whose behaviour throws; a non-interrupting signal boundary
    event counts what it hears."""
    return process(
        '<bpmn:startEvent id="s"/><bpmn:task id="t">'
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="true" {loop_attrs}>'
        "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
        f"{loop_body}</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        '<bpmn:boundaryEvent id="heard" attachedToRef="t" cancelActivity="false">'
        '<bpmn:signalEventDefinition signalRef="sig"/></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="e"/><bpmn:endEvent id="he"/>'
        + chain("s", "t", "e")
        + flow("fh", "heard", "he"),
        extra=SIGNAL + '<bpmn:signalEventDefinition id="thrown" signalRef="sig"/>' + extra,
    )


def test_behavior_none_throws_its_event_for_every_instance() -> None:
    engine = _engine(_mi_with_signal_boundary('behavior="None" noneBehaviorEventRef="thrown"'))
    instance = engine.start("p")
    engine.assert_that(instance).is_completed()
    assert engine.path(instance).count("heard") == 3
    assert _replays(engine, instance.key)


def test_behavior_one_throws_its_event_for_the_first_instance_only() -> None:
    engine = _engine(_mi_with_signal_boundary('behavior="One" oneBehaviorEventRef="thrown"'))
    instance = engine.start("p")
    engine.assert_that(instance).is_completed()
    assert engine.path(instance).count("heard") == 1
    assert engine.path(instance).count("t") == 4  # three inner instances and the body


def test_behavior_all_throws_nothing() -> None:
    engine = _engine(_mi_with_signal_boundary('behavior="All" noneBehaviorEventRef="thrown"'))
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_not_passed("heard")


def test_behavior_complex_throws_the_events_whose_condition_holds() -> None:
    complex_behaviors = (
        "<bpmn:complexBehaviorDefinition>"
        '<bpmn:condition xsi:type="bpmn:tFormalExpression">'
        "=nrOfCompletedInstances = 2</bpmn:condition>"
        '<bpmn:event><bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:event>'
        "</bpmn:complexBehaviorDefinition>"
        "<bpmn:complexBehaviorDefinition>"
        '<bpmn:condition xsi:type="bpmn:tFormalExpression">=loopCounter &gt;= 1</bpmn:condition>'
        '<bpmn:event><bpmn:signalEventDefinition signalRef="sig"/></bpmn:event>'
        "</bpmn:complexBehaviorDefinition>"
    )
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:task id="t">'
        '<bpmn:multiInstanceLoopCharacteristics isSequential="true" behavior="Complex">'
        f"<bpmn:loopCardinality>3</bpmn:loopCardinality>{complex_behaviors}"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
        '<bpmn:boundaryEvent id="heard" attachedToRef="t" cancelActivity="false">'
        '<bpmn:signalEventDefinition signalRef="sig"/></bpmn:boundaryEvent>'
        '<bpmn:boundaryEvent id="half" attachedToRef="t">'
        '<bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="e"/><bpmn:endEvent id="he"/><bpmn:endEvent id="halfe"/>'
        + chain("s", "t", "e")
        + flow("fh", "heard", "he")
        + flow("fx", "half", "halfe"),
        extra=SIGNAL + ESCALATION,
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed("half").has_not_passed("e")
    path = engine.path(instance)
    # The first instance threw the signal; the second escalated as it completed, before its
    # signal, and the interrupting boundary event ended it; the third never ran.
    assert path.count("heard") == 1
    assert path.count("t") == 1
    assert _replays(engine, instance.key)


def test_behavior_can_send_a_message_and_throw_an_error() -> None:
    xml = (
        process(
            '<bpmn:startEvent id="s"/><bpmn:task id="t">'
            '<bpmn:multiInstanceLoopCharacteristics isSequential="true" behavior="Complex">'
            "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
            "<bpmn:complexBehaviorDefinition>"
            '<bpmn:condition xsi:type="bpmn:tFormalExpression">=true</bpmn:condition>'
            '<bpmn:event><bpmn:messageEventDefinition messageRef="tick"/></bpmn:event>'
            "</bpmn:complexBehaviorDefinition><bpmn:complexBehaviorDefinition>"
            '<bpmn:condition xsi:type="bpmn:tFormalExpression">=loopCounter = 2</bpmn:condition>'
            '<bpmn:event><bpmn:errorEventDefinition errorRef="enough"/></bpmn:event>'
            "</bpmn:complexBehaviorDefinition></bpmn:multiInstanceLoopCharacteristics></bpmn:task>"
            '<bpmn:boundaryEvent id="stop" attachedToRef="t">'
            '<bpmn:errorEventDefinition errorRef="enough"/></bpmn:boundaryEvent>'
            '<bpmn:endEvent id="e"/><bpmn:endEvent id="se"/>'
            + chain("s", "t", "e")
            + flow("fs", "stop", "se"),
            extra='<bpmn:message id="tick" name="tick"/>'
            '<bpmn:error id="enough" errorCode="ENOUGH"/>',
        )
        .replace("</bpmn:definitions>", "")
        .rstrip()
        + '<bpmn:process id="counter" isExecutable="true">'
        '<bpmn:startEvent id="cs"><bpmn:messageEventDefinition messageRef="tick"/>'
        '</bpmn:startEvent><bpmn:endEvent id="ce"/>'
        + chain("cs", "ce", prefix="c")
        + "</bpmn:process></bpmn:definitions>"
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed("se").has_not_passed("e")
    started = [i for i in engine.instances() if i.process_id == "counter"]
    assert len(started) == 2  # one message for each instance that completed or ended


def test_behavior_throwing_an_event_it_cannot_throw_is_refused_naming_the_element() -> None:
    xml = _mi_with_signal_boundary(
        'behavior="Complex"',
        "<bpmn:complexBehaviorDefinition>"
        '<bpmn:condition xsi:type="bpmn:tFormalExpression">=true</bpmn:condition>'
        "<bpmn:event><bpmn:terminateEventDefinition/></bpmn:event>"
        "</bpmn:complexBehaviorDefinition>",
    )
    with pytest.raises(BpmnValidationError) as caught:
        TestEngine().deploy(xml)
    [issue] = caught.value.issues
    assert issue.location is not None and issue.location.element_id == "t"
    assert "multi-instance behavior of 't'" in issue.message


# -- parallel multiple events -------------------------------------------------------------------

SIGNALS = '<bpmn:signal id="a" name="a"/><bpmn:signal id="b" name="b"/>'
PAID = (
    '<bpmn:message id="m" name="paid"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
)


def _both(tag: str, element_id: str, attrs: str = "") -> str:
    return (
        f'<bpmn:{tag} id="{element_id}" parallelMultiple="true" {attrs}>'
        '<bpmn:messageEventDefinition messageRef="m"/>'
        '<bpmn:signalEventDefinition signalRef="a"/>'
        f"</bpmn:{tag}>"
    )


def test_parallel_multiple_catch_event_waits_for_all_its_events() -> None:
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/>'
            + _both("intermediateCatchEvent", "both")
            + '<bpmn:endEvent id="e"/>'
            + chain("s", "both", "e"),
            extra=SIGNALS + PAID,
        )
    )
    instance = engine.start("p", {"orderId": "o-1"})
    engine.publish_message("paid", "o-1", {"amount": 5})
    engine.assert_that(instance).is_waiting_at("both").has_variables(amount=5)
    engine.publish_message("paid", "o-1", {"amount": 6})  # its message is heard already
    engine.assert_that(instance).is_waiting_at("both")
    engine.broadcast_signal("a")
    engine.assert_that(instance).is_completed().has_variables(amount=5)
    assert _replays(engine, instance.key)


def test_a_multiple_catch_event_that_is_not_parallel_takes_the_first() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + _both("intermediateCatchEvent", "both").replace('parallelMultiple="true"', "")
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "both", "e"),
        extra=SIGNALS + PAID,
    )
    engine = _engine(xml)
    instance = engine.start("p", {"orderId": "o-1"})
    engine.broadcast_signal("a")
    engine.assert_that(instance).is_completed()


def test_parallel_multiple_boundary_events_interrupting_and_not() -> None:
    def model(cancel: str) -> str:
        return process(
            '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/>'
            + _both("boundaryEvent", "both", f'attachedToRef="work" cancelActivity="{cancel}"')
            + '<bpmn:endEvent id="e"/><bpmn:endEvent id="be"/>'
            + chain("s", "work", "e")
            + flow("fb", "both", "be"),
            extra=SIGNALS + PAID,
        )

    engine = _engine(model("false"))
    instance = engine.start("p", {"orderId": "o-1"})
    engine.broadcast_signal("a")
    engine.broadcast_signal("a")
    engine.assert_that(instance).has_not_passed("both")
    engine.publish_message("paid", "o-1")
    engine.assert_that(instance).is_waiting_at("work").has_passed("both")
    engine.publish_message("paid", "o-1")  # waits for all of them again
    engine.broadcast_signal("a")
    assert engine.path(instance).count("both") == 2
    assert _replays(engine, instance.key)

    engine = _engine(model("true"))
    instance = engine.start("p", {"orderId": "o-2"})
    engine.publish_message("paid", "o-2")
    engine.assert_that(instance).is_waiting_at("work")
    engine.broadcast_signal("a")
    engine.assert_that(instance).is_completed().has_passed("be").has_not_passed("e")
    assert engine.user_tasks() == []


def test_parallel_multiple_with_a_timer_and_a_signal() -> None:
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="both"'
            ' parallelMultiple="true"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition><bpmn:signalEventDefinition signalRef="a"/>'
            '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + chain("s", "both", "e"),
            extra=SIGNALS,
        )
    )
    instance = engine.start("p")
    engine.clock.advance(timedelta(hours=2))
    engine.assert_that(instance).is_waiting_at("both")
    engine.broadcast_signal("a")
    engine.assert_that(instance).is_completed()
    assert _replays(engine, instance.key)


def test_a_parallel_multiple_event_sub_process_start_waits_for_all_its_events() -> None:
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>'
            + chain("s", "work", "e")
            + '<bpmn:subProcess id="esp" triggeredByEvent="true">'
            + _both("startEvent", "both", 'isInterrupting="false"')
            + '<bpmn:endEvent id="espe"/>'
            + flow("fe", "both", "espe")
            + "</bpmn:subProcess>",
            extra=SIGNALS + PAID,
        )
    )
    instance = engine.start("p", {"orderId": "o-3"})
    engine.broadcast_signal("a")
    engine.assert_that(instance).has_not_passed("esp")
    engine.publish_message("paid", "o-3", {"amount": 3})
    engine.assert_that(instance).is_waiting_at("work").has_passed("esp")
    engine.broadcast_signal("a")
    engine.publish_message("paid", "o-3")
    assert engine.path(instance).count("esp") == 2
    assert _replays(engine, instance.key)


# -- receive tasks that instantiate ----------------------------------------------------------

ORDER = '<bpmn:message id="order" name="order-placed"/>'


def test_an_instantiating_receive_task_starts_the_process_when_its_message_arrives() -> None:
    engine = _engine(
        process(
            '<bpmn:receiveTask id="placed" messageRef="order" instantiate="true"/>'
            '<bpmn:userTask id="pack"/><bpmn:endEvent id="e"/>' + chain("placed", "pack", "e"),
            extra=ORDER,
        )
    )
    assert engine.instances() == []
    engine.publish_message("order-placed", variables={"orderId": "o-7"})
    [instance] = engine.instances()
    engine.assert_that(instance).is_waiting_at("pack").has_passed("placed")
    engine.assert_that(instance).has_variables(orderId="o-7")
    assert _replays(engine, instance.key)
    engine.publish_message("order-placed", variables={"orderId": "o-8"})
    assert len(engine.instances()) == 2


def test_an_instantiating_receive_task_with_an_incoming_flow_is_refused() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:receiveTask id="placed" messageRef="order" instantiate="true"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "placed", "e"),
        extra=ORDER,
    )
    with pytest.raises(BpmnValidationError) as caught:
        TestEngine().deploy(xml)
    assert any(
        i.location is not None and i.location.element_id == "placed" and "instantiate" in i.message
        for i in caught.value.issues
    )


# -- loop maximum ------------------------------------------------------------------------------


@pytest.mark.parametrize("maximum", ["-1", "three", "2.5", "1e3"])
def test_a_negative_or_unreadable_loop_maximum_is_refused_naming_element_and_attribute(
    maximum: str,
) -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:task id="again">'
        f'<bpmn:standardLoopCharacteristics loopMaximum="{maximum}">'
        '<bpmn:loopCondition xsi:type="bpmn:tFormalExpression">=true</bpmn:loopCondition>'
        '</bpmn:standardLoopCharacteristics></bpmn:task><bpmn:endEvent id="e"/>'
        + chain("s", "again", "e")
    )
    engine = TestEngine()
    with pytest.raises(BpmnValidationError) as caught:
        engine.deploy(xml)
    assert any(
        i.location is not None and i.location.element_id == "again" and "loopMaximum" in i.message
        for i in caught.value.issues
    ), caught.value.issues
    assert engine.instances() == []


def test_a_loop_maximum_caps_an_endless_loop() -> None:
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/><bpmn:task id="again">'
            '<bpmn:standardLoopCharacteristics loopMaximum=" 3 ">'
            '<bpmn:loopCondition xsi:type="bpmn:tFormalExpression">=true</bpmn:loopCondition>'
            '</bpmn:standardLoopCharacteristics></bpmn:task><bpmn:endEvent id="e"/>'
            + chain("s", "again", "e")
        )
    )
    instance = engine.start("p")
    engine.assert_that(instance).is_completed()
    assert engine.path(instance).count("again") == 3


def test_a_loop_that_never_waits_and_never_ends_stops_with_an_incident(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "MAX_LOOP_ROUNDS_PER_STEP", 50)
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/><bpmn:task id="again">'
            "<bpmn:standardLoopCharacteristics>"
            '<bpmn:loopCondition xsi:type="bpmn:tFormalExpression">=true</bpmn:loopCondition>'
            '</bpmn:standardLoopCharacteristics></bpmn:task><bpmn:endEvent id="e"/>'
            + chain("s", "again", "e")
        )
    )
    instance = engine.start("p")
    [incident] = engine.incidents(instance_key=instance.key)
    assert incident.element_id == "again"
    assert "ran 50 times without waiting" in incident.message
    assert engine.path(instance).count("again") == 50
    assert _replays(engine, instance.key)


# -- timer cycles on intermediate catch events ----------------------------------------------------


def _cycle_catch(cycle: str) -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="tick">'
        '<bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">'
        f"{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:endEvent id="e"/>' + chain("s", "tick", "e")
    )


def _timer_firings(engine: TestEngine, key: int) -> int:
    return sum(1 for entry in engine.history(key) if entry.event_type == "TimerTriggered")


def test_a_cycle_on_a_catch_event_waits_for_its_first_occurrence_and_fires_once() -> None:
    engine = _engine(_cycle_catch("R4/PT1S"))
    instance = engine.start("p")
    engine.assert_that(instance).is_waiting_at("tick")
    engine.clock.advance(timedelta(seconds=10))
    engine.assert_that(instance).is_completed()
    assert _timer_firings(engine, instance.key) == 1
    assert engine.state(instance.key).timers == {}


def test_a_cycle_that_began_in_the_past_waits_for_its_next_occurrence() -> None:
    # The virtual clock starts on Wednesday 2025-01-01 00:00 UTC; the cycle is every Monday
    # at 09:00 from 2020-01-06.
    engine = _engine(_cycle_catch("R/2020-01-06T09:00:00Z/P7D"))
    instance = engine.start("p")
    engine.clock.advance(timedelta(days=5, hours=8))
    engine.assert_that(instance).is_waiting_at("tick")
    engine.clock.advance(timedelta(hours=2))
    engine.assert_that(instance).is_completed()
    assert _timer_firings(engine, instance.key) == 1
    assert _replays(engine, instance.key)


def test_a_cron_cycle_on_a_catch_event_waits_for_the_next_match() -> None:
    engine = _engine(_cycle_catch("0 0 10 * * MON-FRI"))
    instance = engine.start("p")
    engine.clock.advance(timedelta(hours=9))
    engine.assert_that(instance).is_waiting_at("tick")
    engine.clock.advance(timedelta(hours=2))
    engine.assert_that(instance).is_completed()


def test_a_cycle_whose_last_occurrence_has_passed_is_an_incident_naming_the_timer() -> None:
    engine = _engine(_cycle_catch("R2/2020-01-01T00:00:00Z/P1D"))
    instance = engine.start("p")
    [incident] = engine.incidents(instance_key=instance.key)
    assert incident.element_id == "tick"
    assert "last occurrence" in incident.message
