"""Publishing a batch of messages: each message as if published alone, in one transaction."""

from __future__ import annotations

from bpmn_helpers import chain, process
from legato.testing import TestEngine

MESSAGES = (
    '<bpmn:message id="m_paid" name="paid"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
    '<bpmn:message id="m_shipped" name="shipped"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
    '<bpmn:message id="m_order" name="order-placed"/>'
    '<bpmn:message id="m_note" name="note"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
)


def _catch(element_id: str, message_ref: str) -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{element_id}">'
        f'<bpmn:messageEventDefinition messageRef="{message_ref}"/></bpmn:intermediateCatchEvent>'
    )


def _paid_then_shipped() -> str:
    return process(
        '<bpmn:startEvent id="s"/>'
        + _catch("paid", "m_paid")
        + _catch("shipped", "m_shipped")
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "paid", "shipped", "e"),
        extra=MESSAGES,
    )


def _engine(xml: str) -> TestEngine:
    engine = TestEngine()
    engine.deploy(xml)
    return engine


def test_a_batch_reaches_each_waiting_instance_by_name_and_key() -> None:
    engine = _engine(_paid_then_shipped())
    a = engine.start("p", {"orderId": "A"})
    b = engine.start("p", {"orderId": 7})
    c = engine.start("p", {"orderId": "C"})
    results = engine.publish_messages(
        [
            ("paid", "A", {"amount": 1}),
            ("shipped", "A", None),  # A does not wait for it yet when the batch is read
            ("paid", 7, {"amount": 2}),
            ("paid", "nobody", None),
            ("shipped", "C", None),
        ]
    )
    assert [r.correlated for r in results] == [[a.key], [], [b.key], [], []]
    assert [r.buffered_message_key for r in results] == [None] * 5
    engine.assert_that(a).is_waiting_at("shipped").has_variables(amount=1)
    engine.assert_that(b).is_waiting_at("shipped").has_variables(amount=2)
    engine.assert_that(c).is_waiting_at("paid")
    [shipped] = engine.publish_messages([("shipped", "A", None)])
    assert shipped.correlated == [a.key]
    engine.assert_that(a).is_completed()


def test_a_batch_starts_processes_and_reaches_subscriptions_without_a_key() -> None:
    waiting_process = (
        '<bpmn:process id="k" isExecutable="true"><bpmn:startEvent id="ks"/>'
        + _catch("placed", "m_order")
        + '<bpmn:endEvent id="ke"/>'
        + chain("ks", "placed", "ke", prefix="k")
        + "</bpmn:process>"
    )
    xml = process(
        '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m_order"/>'
        "</bpmn:startEvent>"
        + _catch("paid", "m_paid")
        + '<bpmn:endEvent id="e"/>'
        + chain("s", "paid", "e"),
        extra=waiting_process + MESSAGES,
    )
    engine = _engine(xml)
    waiting = engine.start("k")
    results = engine.publish_messages(
        [("order-placed", None, {"orderId": "X"}), ("paid", "X", None), ("paid", None, None)]
    )
    assert (results[0].started, results[0].correlated) == (1, [waiting.key])
    # The instance the first message starts does not wait yet when the batch is read.
    assert [(r.started, r.correlated) for r in results[1:]] == [(0, []), (0, [])]
    engine.assert_that(waiting).is_completed().has_variables(orderId="X")
    [started] = engine.instances(process_id="p")
    engine.assert_that(started).is_waiting_at("paid").has_variables(orderId="X")


def test_messages_of_one_batch_reach_a_subscription_that_stays_open_each_time() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/>'
        '<bpmn:boundaryEvent id="noted" attachedToRef="work" cancelActivity="false">'
        '<bpmn:messageEventDefinition messageRef="m_note"/></bpmn:boundaryEvent>'
        '<bpmn:task id="read_note"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + chain("s", "work", "e")
        + chain("noted", "read_note", "e2", prefix="b"),
        extra=MESSAGES,
    )
    engine = _engine(xml)
    instance = engine.start("p", {"orderId": "N"})
    results = engine.publish_messages([("note", "N", {"n": 1}), ("note", "N", {"n": 2})])
    assert [r.correlated for r in results] == [[instance.key], [instance.key]]
    heard = [e for e in engine.history(instance.key) if e.event_type == "MessageCorrelated"]
    assert len(heard) == 2
    assert engine.path(instance).count("read_note") == 2
    engine.assert_that(instance).is_active().has_variables(n=2)


def test_a_batch_uses_the_stored_state_when_another_engine_moved_an_instance_on() -> None:
    first = _engine(_paid_then_shipped())
    instance = first.start("p", {"orderId": "M"})  # now cached by the first engine
    second = TestEngine(store=first.store)
    second.publish_message("paid", "M")  # the second engine moves it on
    [result] = first.publish_messages([("shipped", "M", None)])
    assert result.correlated == [instance.key]
    first.assert_that(instance).is_completed()
    positions = [entry.position for entry in first.history(instance.key)]
    assert positions == list(range(1, len(positions) + 1))
