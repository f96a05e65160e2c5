"""Modifying a running instance by hand: tokens started before or after an element, tokens
cancelled, all instructions of one modification together or none (every store: see
``conftest.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpmn_helpers import chain, flow, process, service
from legato import (
    CancelElement,
    CancelElementInstance,
    InvalidCommandError,
    JobRequest,
    NotFoundError,
    StartAfter,
    StartBefore,
)
from legato.testing import TestEngine

MINUTE = timedelta(minutes=1)

PAID_MESSAGE = (
    '<bpmn:message id="m" name="paid"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=order"/></bpmn:extensionElements></bpmn:message>'
)
STUCK = process(
    '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="paid">'
    '<bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>'
    + service("ship", "ship")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "paid", "ship", "e"),
    extra=PAID_MESSAGE,
)
FORK = process(
    '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
    + service("a", "a")
    + service("b", "b")
    + '<bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>'
    + chain("s", "fork")
    + flow("f_fork_a", "fork", "a")
    + flow("f_fork_b", "fork", "b")
    + flow("f_a_join", "a", "join")
    + flow("f_b_join", "b", "join")
    + chain("join", "e")
)
NESTED = process(
    '<bpmn:startEvent id="s"/>'
    + service("prep", "prep")
    + '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
    '<bpmn:userTask id="check"/><bpmn:endEvent id="se"/>'
    + chain("ss", "check", "se", prefix="i")
    + "</bpmn:subProcess>"
    + service("after", "after")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "prep", "sub", "after", "e")
)
WAITING = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/>'
    '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + chain("s", "review", "wait", "e")
)
BATCHED = process(
    '<bpmn:startEvent id="s"/><bpmn:subProcess id="each">'
    "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>"
    '</bpmn:multiInstanceLoopCharacteristics><bpmn:startEvent id="es"/>'
    '<bpmn:userTask id="item"/><bpmn:endEvent id="ee"/>'
    + chain("es", "item", "ee", prefix="i")
    + '</bpmn:subProcess><bpmn:exclusiveGateway id="route"/><bpmn:endEvent id="e"/>'
    '<bpmn:endEvent id="e2"/>'
    + chain("s", "each", "route", "e")
    + flow("f_route_e2", "route", "e2")
)


def _deployed(model: str) -> TestEngine:
    engine = TestEngine()
    engine.deploy(model)
    return engine


def _fetch(engine: TestEngine, job_type: str) -> list[int]:
    jobs = engine.fetch_jobs([JobRequest(job_type, MINUTE)], worker="w", max_jobs=5)
    return [job.key for job in jobs]


def _modified(engine: TestEngine, key: int) -> list[dict[str, object]]:
    return [e.details for e in engine.history(key) if e.event_type == "InstanceModified"]


def test_a_stuck_instance_moves_on_after_the_element_it_waits_at() -> None:
    engine = _deployed(STUCK)
    instance = engine.start("p", variables={"order": "o-1"})
    engine.modify(
        instance.key,
        [CancelElement("paid"), StartAfter("paid", variables={"paid_by": "hand"})],
        by="olga",
    )
    engine.assert_that(instance).is_waiting_at("ship").has_variables(paid_by="hand")
    assert engine.publish_message("paid", "o-1").correlated == []  # it waits no more
    [modified] = _modified(engine, instance.key)
    assert modified["by"] == "olga"
    assert modified["instructions"][0]["cancel"] == "paid"  # type: ignore[index]
    assert modified["instructions"][1] == {"start_after": "paid", "variables": ["paid_by"]}  # type: ignore[index]
    [job] = _fetch(engine, "ship")
    engine.complete_job(job, worker="w")
    engine.assert_that(instance).is_completed().has_passed("ship", "e")
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_a_cancelled_branch_leaves_the_join_waiting_until_a_token_starts_after_it() -> None:
    engine = _deployed(FORK)
    instance = engine.start("p")
    engine.modify(instance.key, [CancelElement("b")])
    assert _fetch(engine, "b") == []  # its job is gone
    [job] = _fetch(engine, "a")
    engine.complete_job(job, worker="w")
    # The join waits for the branch of b, as it would for a token still on its way.
    engine.assert_that(instance).is_active().has_not_passed("join")
    engine.modify(instance.key, [StartAfter("b")])
    engine.assert_that(instance).is_completed().has_passed("join", "e")
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_starting_before_a_joining_gateway_enters_it_at_once() -> None:
    engine = _deployed(FORK)
    instance = engine.start("p")
    engine.modify(instance.key, [CancelElement("a"), CancelElement("b"), StartBefore("join")])
    engine.assert_that(instance).is_completed().has_passed("join", "e")
    assert _fetch(engine, "a") == [] and _fetch(engine, "b") == []


def test_starting_before_a_join_takes_the_tokens_waiting_there_along() -> None:
    engine = _deployed(FORK)
    instance = engine.start("p")
    [job] = _fetch(engine, "a")
    engine.complete_job(job, worker="w")  # a's token waits at the join for b's
    engine.modify(instance.key, [CancelElement("b"), StartBefore("join")])
    engine.assert_that(instance).is_completed().has_passed("join", "e")
    assert engine.state(instance.key).joins == {}
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_starting_inside_a_sub_process_creates_its_instance_with_the_variables() -> None:
    engine = _deployed(NESTED)
    instance = engine.start("p")
    engine.modify(
        instance.key, [CancelElement("prep"), StartBefore("check", variables={"note": "redo"})]
    )
    state = engine.state(instance.key)
    [sub] = [e for e in state.elements.values() if e.element_id == "sub"]
    assert state.variables[sub.key] == {"note": "redo"}  # the token's scope, not the root
    assert "note" not in state.variables[instance.key]
    assert _fetch(engine, "prep") == []
    [task] = engine.user_tasks(instance_key=instance.key)
    assert task.element_id == "check"
    engine.complete_user_task(task.user_task_key, {})
    [job] = _fetch(engine, "after")
    engine.complete_job(job, worker="w")
    engine.assert_that(instance).is_completed().has_passed("sub", "check").has_not_passed("ss")
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_a_second_token_in_a_running_sub_process_joins_its_instance() -> None:
    engine = _deployed(NESTED)
    instance = engine.start("p")
    engine.modify(instance.key, [CancelElement("prep"), StartBefore("sub")])
    engine.modify(instance.key, [StartBefore("check")])
    state = engine.state(instance.key)
    assert [e.element_id for e in state.elements.values()].count("sub") == 1
    assert len(engine.user_tasks(instance_key=instance.key)) == 2
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_cancelling_the_last_token_completes_the_instance() -> None:
    engine = _deployed(WAITING)
    instance = engine.start("p")
    engine.modify(instance.key, [CancelElement("review")], by="olga")
    engine.assert_that(instance).is_completed().has_not_passed("e")
    assert engine.user_tasks(instance_key=instance.key) == []
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_cancelling_the_last_token_of_a_sub_process_completes_it_and_moves_on() -> None:
    engine = _deployed(NESTED)
    instance = engine.start("p")
    engine.modify(instance.key, [CancelElement("prep"), StartBefore("check")])
    [task] = engine.user_tasks(instance_key=instance.key)
    engine.modify(instance.key, [CancelElementInstance(task.element_instance_key)])
    engine.assert_that(instance).is_waiting_at("after").has_passed("sub")


def test_a_timer_of_a_cancelled_token_is_gone() -> None:
    engine = _deployed(WAITING)
    instance = engine.start("p")
    engine.modify(instance.key, [CancelElement("review"), StartBefore("wait")])
    engine.modify(instance.key, [CancelElement("wait"), StartBefore("review")])
    engine.clock.advance(timedelta(hours=2))
    assert engine.fire_due_timers() == 0
    engine.assert_that(instance).is_waiting_at("review")
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_an_element_is_restarted_by_cancelling_and_starting_it_in_one_modification() -> None:
    engine = _deployed(WAITING)
    instance = engine.start("p")
    [before] = engine.user_tasks(instance_key=instance.key)
    engine.modify(instance.key, [StartBefore("review"), CancelElement("review")])
    [after] = engine.user_tasks(instance_key=instance.key)
    assert after.user_task_key != before.user_task_key
    engine.assert_that(instance).is_waiting_at("review")


@pytest.mark.parametrize(
    ("instructions", "words"),
    [
        ([StartBefore("nowhere")], "process 'p' has no element 'nowhere'"),
        ([CancelElement("e")], "no token is active at 'e'"),
        ([CancelElement("p")], "'p' is the process itself"),
        ([CancelElementInstance(7)], "no active element instance 7"),
        ([StartAfter("route")], "'route' has 2 outgoing sequence flows"),
        ([StartAfter("e")], "'e' has no outgoing sequence flow"),
        ([StartBefore("item")], "inside the multi-instance sub-process 'each'"),
        ([StartBefore("e", variables={"x": float("nan")})], "the variables for 'e'"),
        ([StartAfter("s", variables="x=1")], "the variables for 's' must be a mapping"),  # type: ignore[arg-type]
        ([CancelElement(5)], "an element id must be a string, not 5"),  # type: ignore[arg-type]
    ],
)
def test_an_instruction_that_does_not_fit_changes_nothing(
    instructions: list[StartBefore], words: str
) -> None:
    engine = _deployed(BATCHED)
    instance = engine.start("p")
    before = engine.history(instance.key)
    with pytest.raises(InvalidCommandError, match=f"instance {instance.key}") as refused:
        engine.modify(instance.key, [StartBefore("e"), *instructions])
    assert words in str(refused.value)
    assert engine.history(instance.key) == before
    assert len(engine.user_tasks(instance_key=instance.key)) == 2


def test_one_instance_of_a_multi_instance_activity_is_not_cancelled_alone() -> None:
    engine = _deployed(BATCHED)
    instance = engine.start("p")
    state = engine.state(instance.key)
    inner = next(e for e in state.elements.values() if e.element_id == "each" and not e.is_mi_body)
    with pytest.raises(InvalidCommandError, match="one instance of the multi-instance activity"):
        engine.modify(instance.key, [CancelElementInstance(inner.key)])
    engine.modify(instance.key, [CancelElement("each")])  # the whole activity
    engine.assert_that(instance).is_completed().has_not_passed("route")
    assert engine.user_tasks(instance_key=instance.key) == []
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_a_suspended_or_ended_instance_is_not_modified() -> None:
    engine = _deployed(WAITING)
    instance = engine.start("p")
    with pytest.raises(InvalidCommandError, match=f"instance {instance.key} .*no instruction"):
        engine.modify(instance.key, [])
    engine.suspend(instance.key)
    with pytest.raises(InvalidCommandError, match=f"instance {instance.key} is suspended"):
        engine.modify(instance.key, [CancelElement("review")])
    engine.cancel(instance.key)
    with pytest.raises(InvalidCommandError, match=f"instance {instance.key} is terminated"):
        engine.modify(instance.key, [CancelElement("review")])
    with pytest.raises(NotFoundError):
        engine.modify(instance.key + 1000, [CancelElement("review")])


GUARDED = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/>'
    '<bpmn:boundaryEvent id="late" attachedToRef="work"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    '<bpmn:endEvent id="e"/><bpmn:endEvent id="e_late"/>'
    '<bpmn:subProcess id="on_signal" triggeredByEvent="true"><bpmn:startEvent id="sig">'
    '<bpmn:signalEventDefinition signalRef="sg"/></bpmn:startEvent><bpmn:userTask id="handle"/>'
    + chain("sig", "handle", prefix="x")
    + "</bpmn:subProcess>"
    + chain("s", "work", "e")
    + flow("f_late", "late", "e_late"),
    extra='<bpmn:signal id="sg" name="stop"/>',
)


@pytest.mark.parametrize(
    ("instruction", "words"),
    [
        (StartBefore("late"), "'late' is a boundary event: start after it"),
        (StartBefore("handle"), "inside the event sub-process 'on_signal'"),
        (StartBefore("on_signal"), "'on_signal' is an event sub-process"),
    ],
)
def test_starts_the_engine_does_not_support_are_refused(
    instruction: StartBefore, words: str
) -> None:
    engine = _deployed(GUARDED)
    instance = engine.start("p")
    with pytest.raises(InvalidCommandError, match=f"instance {instance.key}") as refused:
        engine.modify(instance.key, [instruction])
    assert words in str(refused.value)
    engine.modify(instance.key, [StartAfter("late")])  # its one flow, in the activity's scope
    engine.assert_that(instance).is_active().has_passed("e_late")


def test_a_start_inside_one_of_two_sub_process_instances_is_ambiguous() -> None:
    engine = _deployed(NESTED)
    instance = engine.start("p")
    engine.modify(instance.key, [CancelElement("prep"), StartBefore("sub"), StartBefore("sub")])
    with pytest.raises(InvalidCommandError, match="'sub', which has 2 active instances"):
        engine.modify(instance.key, [StartBefore("check")])
    [first, _] = sorted(
        e.key for e in engine.state(instance.key).elements.values() if e.element_id == "sub"
    )
    engine.modify(instance.key, [CancelElementInstance(first), StartBefore("check")])
    assert len(engine.user_tasks(instance_key=instance.key)) == 2
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_a_cancelled_call_activity_cancels_the_instance_it_called() -> None:
    engine = _deployed(WAITING)
    engine.deploy(
        process(
            '<bpmn:startEvent id="s"/><bpmn:callActivity id="call"><bpmn:extensionElements>'
            '<zeebe:calledElement processId="p"/></bpmn:extensionElements></bpmn:callActivity>'
            '<bpmn:endEvent id="e"/>' + chain("s", "call", "e"),
            process_id="caller",
        )
    )
    parent = engine.start("caller")
    [child] = [i for i in engine.instances(process_id="p") if i.parent_instance_key == parent.key]
    engine.modify(parent.key, [CancelElement("call"), StartAfter("call")], by="olga")
    engine.assert_that(parent).is_completed().has_passed("e")
    engine.assert_that(child.key).is_terminated()
    assert engine.user_tasks(instance_key=child.key) == []
