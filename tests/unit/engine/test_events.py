"""Events: timers, messages, signals, errors, escalations, event sub-processes, conditions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpmn_helpers import HEADER, chain, flow, process, service
from legato import BpmnError, Job
from legato.testing import TestEngine


def _timer(
    element_id: str, kind: str, value: str, tag: str = "intermediateCatchEvent", attrs: str = ""
) -> str:
    return (
        f'<bpmn:{tag} id="{element_id}" {attrs}><bpmn:timerEventDefinition>'
        f'<bpmn:{kind} xsi:type="bpmn:tFormalExpression">{value}</bpmn:{kind}>'
        f"</bpmn:timerEventDefinition></bpmn:{tag}>"
    )


def _engine(xml: str) -> TestEngine:
    engine = TestEngine()
    engine.deploy(xml)
    return engine


def test_timer_catch_event_waits_for_its_duration() -> None:
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/>'
            + _timer("wait", "timeDuration", "P3D")
            + '<bpmn:endEvent id="e"/>'
            + chain("s", "wait", "e")
        )
    )
    instance = engine.start("p")
    engine.assert_that(instance).is_waiting_at("wait")
    engine.clock.advance(timedelta(days=2, hours=23))
    engine.assert_that(instance).is_active()
    engine.clock.advance(timedelta(hours=1))
    engine.assert_that(instance).is_completed()


def test_interrupting_timer_boundary_escalates_an_overdue_user_task() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="approve"/>'
        + _timer("overdue", "timeDuration", "P3D", "boundaryEvent", 'attachedToRef="approve"')
        + '<bpmn:task id="escalate"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + chain("s", "approve", "e")
        + chain("overdue", "escalate", "e2", prefix="b")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    assert len(engine.user_tasks()) == 1
    engine.clock.advance(timedelta(days=3))
    engine.assert_that(instance).is_completed().has_passed("escalate").has_not_passed("approve")
    assert engine.user_tasks() == []
    assert engine.user_tasks(state="canceled")[0].element_id == "approve"


def test_non_interrupting_cycle_sends_a_reminder_every_day_while_the_task_waits() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="approve"/>'
        + _timer(
            "daily",
            "timeCycle",
            "R/P1D",
            "boundaryEvent",
            'attachedToRef="approve" cancelActivity="false"',
        )
        + service("remind", "remind")
        + '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + chain("s", "approve", "e")
        + chain("daily", "remind", "e2", prefix="b")
    )
    engine = _engine(xml)
    reminders: list[object] = []
    engine.register("remind", lambda job: reminders.append(engine.clock.now()))
    instance = engine.start("p")
    for _ in range(3):
        engine.clock.advance(timedelta(days=1))
    assert len(reminders) == 3
    [task] = engine.user_tasks()
    engine.complete_user_task(task.user_task_key)
    engine.clock.advance(timedelta(days=5))
    assert len(reminders) == 3
    engine.assert_that(instance).is_completed()


def test_timer_start_event_with_a_cycle_creates_instances() -> None:
    xml = process(
        _timer("every_hour", "timeCycle", "R3/PT1H", "startEvent")
        + '<bpmn:endEvent id="e"/>'
        + chain("every_hour", "e")
    )
    engine = _engine(xml)
    engine.clock.advance(timedelta(minutes=59))
    assert engine.instances() == []
    for _ in range(5):
        engine.clock.advance(timedelta(hours=1))
    assert len(engine.instances(status="completed")) == 3


MESSAGE_DEFS = (
    '<bpmn:message id="m_paid" name="payment-received"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>'
)


def _wait_for_payment() -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="paid">'
        '<bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>'
        '<bpmn:endEvent id="e"/>' + chain("s", "paid", "e"),
        extra=MESSAGE_DEFS,
    )


def test_message_is_correlated_by_name_and_key() -> None:
    engine = _engine(_wait_for_payment())
    first = engine.start("p", {"orderId": "A-1"})
    second = engine.start("p", {"orderId": 42})
    result = engine.publish_message("payment-received", "nobody", {"amount": 10})
    assert result.correlated == [] and result.buffered_message_key is None
    result = engine.publish_message("payment-received", "A-1", {"amount": 10})
    assert result.correlated == [first.key]
    engine.assert_that(first).is_completed().has_variables(amount=10)
    engine.assert_that(second).is_active()
    engine.publish_message("payment-received", 42)
    engine.assert_that(second).is_completed()


def test_a_message_published_early_is_buffered_for_its_time_to_live() -> None:
    engine = _engine(_wait_for_payment())
    early = engine.publish_message(
        "payment-received",
        "B-7",
        {"amount": 3},
        time_to_live=timedelta(hours=1),
        message_id="pay-1",
    )
    assert early.buffered_message_key is not None
    again = engine.publish_message(
        "payment-received",
        "B-7",
        {"amount": 3},
        time_to_live=timedelta(hours=1),
        message_id="pay-1",
    )
    assert again.duplicate
    instance = engine.start("p", {"orderId": "B-7"})
    engine.assert_that(instance).is_completed().has_variables(amount=3)
    late = engine.start("p", {"orderId": "B-7"})
    engine.assert_that(late).is_active()  # the message was used once


def test_an_unclaimed_message_expires_visibly() -> None:
    engine = _engine(_wait_for_payment())
    engine.publish_message("payment-received", "C-1", time_to_live=timedelta(minutes=5))
    engine.clock.advance(timedelta(minutes=6))
    [expired] = engine.expire_messages()
    assert expired.correlation_key == "C-1"
    instance = engine.start("p", {"orderId": "C-1"})
    engine.assert_that(instance).is_active()


def test_message_start_event_and_receive_task() -> None:
    xml = process(
        '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m_order"/>'
        '</bpmn:startEvent><bpmn:receiveTask id="wait" messageRef="m_paid"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "wait", "e"),
        extra=MESSAGE_DEFS + '<bpmn:message id="m_order" name="order-placed"/>',
    )
    engine = _engine(xml)
    result = engine.publish_message("order-placed", None, {"orderId": "X"})
    assert result.started == 1
    [instance] = engine.instances()
    engine.assert_that(instance).is_waiting_at("wait").has_variables(orderId="X")
    engine.publish_message("payment-received", "X")
    engine.assert_that(instance).is_completed()


def test_signal_reaches_every_waiting_instance_and_starts_processes() -> None:
    xml = HEADER + (
        '<bpmn:signal id="sig" name="market-closed"/>'
        '<bpmn:process id="waiter" isExecutable="true"><bpmn:startEvent id="s"/>'
        '<bpmn:intermediateCatchEvent id="w"><bpmn:signalEventDefinition signalRef="sig"/>'
        '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>'
        + chain("s", "w", "e")
        + '</bpmn:process><bpmn:process id="starter" isExecutable="true">'
        '<bpmn:startEvent id="ss"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:startEvent>'
        '<bpmn:endEvent id="se"/>' + chain("ss", "se", prefix="x") + "</bpmn:process>"
        '<bpmn:process id="thrower" isExecutable="true"><bpmn:startEvent id="ts"/>'
        '<bpmn:endEvent id="te"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:endEvent>'
        + chain("ts", "te", prefix="t")
        + "</bpmn:process></bpmn:definitions>"
    )
    engine = _engine(xml)
    waiting = [engine.start("waiter") for _ in range(3)]
    engine.start("thrower")
    for instance in waiting:
        engine.assert_that(instance).is_completed()
    assert len(engine.instances(process_id="starter", status="completed")) == 1
    result = engine.broadcast_signal("market-closed")
    assert result.correlated == [] and result.started == 1


def _error_boundary(code: str | None, attached: str, element_id: str = "failed") -> str:
    ref = 'errorRef="err"' if code else ""
    return (
        f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached}">'
        f"<bpmn:errorEventDefinition {ref}/></bpmn:boundaryEvent>"
    )


ERROR_DEFS = '<bpmn:error id="err" errorCode="CARD_DECLINED"/>'


def test_bpmn_error_from_a_handler_is_caught_by_the_boundary_event() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + service("charge", "charge")
        + _error_boundary("CARD_DECLINED", "charge")
        + '<bpmn:task id="ask_for_other_card"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + chain("s", "charge", "e")
        + chain("failed", "ask_for_other_card", "e2", prefix="b"),
        extra=ERROR_DEFS,
    )
    engine = _engine(xml)

    @engine.task("charge")
    def charge(job: Job) -> None:
        raise BpmnError("CARD_DECLINED", "insufficient funds", {"reason": "funds"})

    instance = engine.start("p")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed("ask_for_other_card").has_variables(
        reason="funds"
    )
    assert engine.incidents() == [] and engine.jobs() == []


def test_error_end_event_in_a_sub_process_is_caught_on_the_sub_process() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
        '<bpmn:parallelGateway id="fork"/><bpmn:userTask id="slow"/>'
        '<bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>'
        + chain("ss", "fork", prefix="i")
        + flow("i1", "fork", "slow")
        + flow("i2", "fork", "boom")
        + "</bpmn:subProcess>"
        + _error_boundary("CARD_DECLINED", "sub", "caught")
        + '<bpmn:endEvent id="e"/><bpmn:task id="handle"/><bpmn:endEvent id="e2"/>'
        + chain("s", "sub", "e")
        + chain("caught", "handle", "e2", prefix="b"),
        extra=ERROR_DEFS,
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed("handle").has_not_passed("slow", "sub")
    assert engine.user_tasks() == []


def test_error_event_sub_process_catches_and_uncaught_errors_are_incidents() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:endEvent id="boom">'
        '<bpmn:errorEventDefinition errorRef="err"/>'
        "</bpmn:endEvent>" + chain("s", "boom")
    )
    handler = (
        '<bpmn:subProcess id="on_error" triggeredByEvent="true"><bpmn:startEvent id="es">'
        '<bpmn:errorEventDefinition/></bpmn:startEvent><bpmn:task id="cleanup"/>'
        '<bpmn:endEvent id="ee"/>' + chain("es", "cleanup", "ee", prefix="x") + "</bpmn:subProcess>"
    )
    caught = _engine(process(body + handler, extra=ERROR_DEFS))
    instance = caught.start("p")
    caught.assert_that(instance).is_completed().has_passed("cleanup")
    uncaught = _engine(process(body, extra=ERROR_DEFS))
    instance = uncaught.start("p")
    [incident] = uncaught.incidents()
    assert incident.error_type == "unhandled_error" and "CARD_DECLINED" in incident.message


def test_error_in_a_called_process_is_caught_on_the_call_activity() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:callActivity id="call" calledElement="child"/>'
        + _error_boundary("CARD_DECLINED", "call", "caught")
        + '<bpmn:endEvent id="e"/><bpmn:task id="handle"/><bpmn:endEvent id="e2"/>'
        + chain("s", "call", "e")
        + chain("caught", "handle", "e2", prefix="b"),
        extra=ERROR_DEFS
        + '<bpmn:process id="child" isExecutable="true"><bpmn:startEvent id="cs"/>'
        + service("work", "work")
        + '<bpmn:endEvent id="ce"/>'
        + chain("cs", "work", "ce", prefix="c")
        + "</bpmn:process>",
    )
    engine = _engine(xml)
    engine.register("work", lambda job: (_ for _ in ()).throw(BpmnError("CARD_DECLINED")))
    parent = engine.start("p")
    engine.run_until_idle()
    engine.assert_that(parent).is_completed().has_passed("handle")
    [child] = engine.instances(process_id="child")
    assert child.status == "terminated"


def test_non_interrupting_escalation_lets_the_sub_process_go_on() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
        '<bpmn:intermediateThrowEvent id="raise">'
        '<bpmn:escalationEventDefinition escalationRef="esc"/>'
        '</bpmn:intermediateThrowEvent><bpmn:task id="go_on"/><bpmn:endEvent id="se"/>'
        + chain("ss", "raise", "go_on", "se", prefix="i")
        + "</bpmn:subProcess>"
        '<bpmn:boundaryEvent id="noted" attachedToRef="sub" cancelActivity="false">'
        '<bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:boundaryEvent>'
        '<bpmn:task id="inform_manager"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        + chain("s", "sub", "e")
        + chain("noted", "inform_manager", "e2", prefix="b"),
        extra='<bpmn:escalation id="esc" escalationCode="LATE"/>',
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed("inform_manager", "go_on", "sub")


def _event_gateway() -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="gw"/>'
        '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_paid"/>'
        "</bpmn:intermediateCatchEvent>"
        + _timer("timeout", "timeDuration", "PT1H")
        + '<bpmn:task id="ship"/><bpmn:task id="cancel_order"/><bpmn:endEvent id="e"/>'
        '<bpmn:endEvent id="e2"/>'
        + chain("s", "gw")
        + flow("g1", "gw", "paid")
        + flow("g2", "gw", "timeout")
        + chain("paid", "ship", "e", prefix="a")
        + chain("timeout", "cancel_order", "e2", prefix="b"),
        extra=MESSAGE_DEFS,
    )


@pytest.mark.parametrize("winner", ["message", "timer"])
def test_event_based_gateway_takes_the_first_event_and_cancels_the_other(winner: str) -> None:
    engine = _engine(_event_gateway())
    instance = engine.start("p", {"orderId": "O-1"})
    if winner == "message":
        engine.publish_message("payment-received", "O-1", {"paid": True})
        engine.assert_that(instance).is_completed().has_passed("ship").has_variables(paid=True)
    else:
        engine.clock.advance(timedelta(hours=1))
        engine.assert_that(instance).is_completed().has_passed("cancel_order").has_not_passed(
            "ship"
        )
        assert engine.publish_message("payment-received", "O-1").correlated == []


def test_conditional_event_waits_until_the_condition_holds() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="until_ready">'
        '<bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression">'
        "stock &gt; 0</bpmn:condition></bpmn:conditionalEventDefinition>"
        '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + chain("s", "until_ready", "e")
    )
    engine = _engine(xml)
    ready = engine.start("p", {"stock": 5})
    engine.assert_that(ready).is_completed()
    waiting = engine.start("p", {"stock": 0})
    engine.assert_that(waiting).is_waiting_at("until_ready")
    engine.set_variables(waiting.key, {"stock": 2})
    engine.assert_that(waiting).is_completed()


def test_interrupting_message_event_sub_process_cancels_the_main_flow() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>'
        + chain("s", "work", "e")
        + '<bpmn:subProcess id="cancel" triggeredByEvent="true"><bpmn:startEvent id="cs">'
        '<bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:startEvent>'
        '<bpmn:task id="refund"/><bpmn:endEvent id="ce"/>'
        + chain("cs", "refund", "ce", prefix="x")
        + "</bpmn:subProcess>",
        extra=MESSAGE_DEFS,
    )
    engine = _engine(xml)
    instance = engine.start("p", {"orderId": "Z"})
    engine.publish_message("payment-received", "Z")
    engine.assert_that(instance).is_completed().has_passed("refund").has_not_passed("work")
    assert engine.user_tasks() == []


def test_a_message_thrown_by_one_process_reaches_another() -> None:
    xml = HEADER + (
        MESSAGE_DEFS + '<bpmn:process id="sender" isExecutable="true"><bpmn:startEvent id="s"/>'
        '<bpmn:endEvent id="send"><bpmn:extensionElements><zeebe:ioMapping>'
        '<zeebe:input source="=orderId" target="orderId"/></zeebe:ioMapping>'
        "</bpmn:extensionElements>"
        '<bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:endEvent>'
        + chain("s", "send")
        + "</bpmn:process>"
        '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="rs"/>'
        '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_paid"/>'
        '</bpmn:intermediateCatchEvent><bpmn:endEvent id="re"/>'
        + chain("rs", "paid", "re", prefix="r")
        + "</bpmn:process></bpmn:definitions>"
    )
    engine = _engine(xml)
    receiver = engine.start("p", {"orderId": "M-1"})
    engine.start("sender", {"orderId": "M-1"})
    engine.assert_that(receiver).is_completed()


def test_history_replays_with_events() -> None:
    engine = _engine(_event_gateway())
    a = engine.start("p", {"orderId": "R-1"})
    b = engine.start("p", {"orderId": "R-2"})
    engine.publish_message("payment-received", "R-1")
    for instance in (a, b):
        assert engine.replay(instance.key).to_json() == engine.state(instance.key).to_json()


def _compensable(task: str, handler: str) -> str:
    return (
        f'<bpmn:task id="{task}"/><bpmn:boundaryEvent id="{task}_undo" attachedToRef="{task}">'
        f'<bpmn:compensateEventDefinition/></bpmn:boundaryEvent><bpmn:task id="{handler}"'
        f' isForCompensation="true"/><bpmn:association id="{task}_a" sourceRef="{task}_undo"'
        f' targetRef="{handler}"/>'
    )


def test_compensation_of_one_activity_by_reference() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + _compensable("a", "undo_a")
        + _compensable("b", "undo_b")
        + '<bpmn:intermediateThrowEvent id="undo"><bpmn:compensateEventDefinition'
        ' activityRef="a"/></bpmn:intermediateThrowEvent><bpmn:endEvent id="e"/>'
        + chain("s", "a", "b", "undo", "e")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed("undo_a").has_not_passed("undo_b")


def test_cancel_end_event_undoes_the_transaction_and_leaves_by_its_cancel_boundary() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:transaction id="tx"><bpmn:startEvent id="ts"/>'
        + _compensable("reserve", "release")
        + '<bpmn:endEvent id="abort"><bpmn:cancelEventDefinition/></bpmn:endEvent>'
        + chain("ts", "reserve", "abort", prefix="i")
        + "</bpmn:transaction>"
        '<bpmn:boundaryEvent id="cancelled" attachedToRef="tx"><bpmn:cancelEventDefinition/>'
        '</bpmn:boundaryEvent><bpmn:endEvent id="done"/><bpmn:task id="apologise"/>'
        '<bpmn:endEvent id="e2"/>'
        + chain("s", "tx", "done")
        + chain("cancelled", "apologise", "e2", prefix="b")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed_in_order(
        "reserve", "release", "apologise"
    ).has_not_passed("done", "tx")


def test_conditional_start_events_start_the_processes_whose_condition_holds() -> None:
    xml = process(
        '<bpmn:startEvent id="big_order"><bpmn:conditionalEventDefinition>'
        '<bpmn:condition xsi:type="bpmn:tFormalExpression">amount &gt; 1000</bpmn:condition>'
        '</bpmn:conditionalEventDefinition></bpmn:startEvent><bpmn:task id="review"/>'
        '<bpmn:endEvent id="e"/>' + chain("big_order", "review", "e")
    )
    engine = _engine(xml)
    assert engine.evaluate_start_conditions({"amount": 10}) == []
    [started] = engine.evaluate_start_conditions({"amount": 5000})
    engine.assert_that(started).is_completed().has_passed("review").has_variables(amount=5000)
    assert engine.evaluate_start_conditions({}) == []


def test_a_compensation_event_sub_process_undoes_its_sub_process() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
        + _compensable("a", "undo_a")
        + '<bpmn:endEvent id="se"/>'
        + chain("ss", "a", "se", prefix="i")
        + '<bpmn:subProcess id="on_undo" triggeredByEvent="true"><bpmn:startEvent id="cs">'
        '<bpmn:compensateEventDefinition/></bpmn:startEvent><bpmn:task id="notify"/>'
        '<bpmn:intermediateThrowEvent id="undo_inside"><bpmn:compensateEventDefinition/>'
        '</bpmn:intermediateThrowEvent><bpmn:endEvent id="ce"/>'
        + chain("cs", "notify", "undo_inside", "ce", prefix="c")
        + "</bpmn:subProcess></bpmn:subProcess>"
        '<bpmn:intermediateThrowEvent id="undo_all"><bpmn:compensateEventDefinition/>'
        '</bpmn:intermediateThrowEvent><bpmn:endEvent id="e"/>' + chain("s", "sub", "undo_all", "e")
    )
    engine = _engine(xml)
    instance = engine.start("p")
    engine.assert_that(instance).is_completed().has_passed_in_order(
        "a", "sub", "notify", "undo_a", "on_undo", "undo_all", "e"
    )
    assert engine.replay(instance.key).to_json() == engine.state(instance.key).to_json()
