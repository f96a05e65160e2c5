"""Migration of instances inside scopes: sub-processes, multi-instance bodies, called
instances, event-based gateways and event sub-processes (every store)."""

from __future__ import annotations

from datetime import timedelta

from bpmn_helpers import chain, flow, process
from legato import JobRequest
from legato.testing import TestEngine

MINUTE = timedelta(minutes=1)
MESSAGE = (
    '<bpmn:message id="m" name="paid"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=order"/></bpmn:extensionElements></bpmn:message>'
)


def _sub(sub_id: str, after: str = "") -> str:
    """A sub-process ``sub_id`` around the user task ``review``; ``after``: a user task of
    that id between the sub-process and the end."""
    path = ["s", sub_id, after, "e"] if after else ["s", sub_id, "e"]
    return process(
        f'<bpmn:startEvent id="s"/><bpmn:subProcess id="{sub_id}"><bpmn:startEvent id="is"/>'
        '<bpmn:userTask id="review"/><bpmn:endEvent id="ie"/>'
        + chain("is", "review", "ie", prefix="i")
        + "</bpmn:subProcess>"
        + (f'<bpmn:userTask id="{after}"/>' if after else "")
        + '<bpmn:endEvent id="e"/>'
        + chain(*path)
    )


def _multi(multi: bool, sequential: bool = False) -> str:
    loop = (
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
        '<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=items"'
        ' inputElement="item"/></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>'
        if multi
        else ""
    )
    return process(
        f'<bpmn:startEvent id="s"/><bpmn:userTask id="check">{loop}</bpmn:userTask>'
        '<bpmn:endEvent id="e"/>' + chain("s", "check", "e")
    )


def _deployed(*models: str) -> TestEngine:
    engine = TestEngine()
    for model in models:
        engine.deploy(model)
    return engine


def _complete_tasks(engine: TestEngine, instance_key: int) -> int:
    tasks = engine.user_tasks(instance_key=instance_key)
    for task in tasks:
        engine.complete_user_task(task.user_task_key, {})
    return len(tasks)


def test_a_token_in_a_sub_process_moves_with_its_scope() -> None:
    engine = _deployed(_sub("sub"), _sub("sub2"))
    instance = engine.start("p", version=1)
    [refused] = engine.check_migration(engine.migration_plan("p", 1, 2), [instance.key])
    assert refused.reason is not None and "'sub' has no counterpart" in refused.reason
    plan = engine.migration_plan("p", 1, 2, {"sub": "sub2"})
    engine.migrate(plan, [instance.key])
    assert _complete_tasks(engine, instance.key) == 1
    engine.assert_that(instance).is_completed().has_passed("sub2", "review")
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_a_token_cannot_leave_its_sub_process() -> None:
    engine = _deployed(_sub("sub"), _sub("sub", after="late"))
    instance = engine.start("p", version=1)
    plan = engine.migration_plan("p", 1, 2, {"review": "late"})
    [check] = engine.check_migration(plan, [instance.key])
    assert check.reason is not None and "cannot leave its scope" in check.reason


def test_a_multi_instance_in_progress_needs_a_multi_instance_target() -> None:
    engine = _deployed(_multi(True), _multi(False), _multi(True), _multi(True, sequential=True))
    instance = engine.start("p", version=1, variables={"items": [1, 2, 3]})
    single = engine.start("p", version=2, variables={"items": [1, 2, 3]})
    [split] = engine.check_migration(engine.migration_plan("p", 2, 3), [single.key])
    assert split.reason is not None and "cannot be split into instances" in split.reason
    checks = {
        version: engine.check_migration(engine.migration_plan("p", 1, version), [instance.key])[0]
        for version in (2, 3, 4)
    }
    assert checks[2].reason is not None and "is not multi-instance" in checks[2].reason
    assert checks[4].reason is not None and "sequential and parallel" in checks[4].reason
    assert checks[3].ok
    engine.migrate(engine.migration_plan("p", 1, 3), [instance.key])
    assert _complete_tasks(engine, instance.key) == 3
    engine.assert_that(instance).is_completed()
    assert engine.replay(instance.key) == engine.state(instance.key)


def test_a_calling_instance_moves_and_its_child_stays_on_its_version() -> None:
    child = process(
        '<bpmn:startEvent id="cs"/><bpmn:userTask id="work"/><bpmn:endEvent id="ce"/>'
        + chain("cs", "work", "ce"),
        process_id="child",
    )

    def caller(end: str) -> str:
        return process(
            '<bpmn:startEvent id="s"/><bpmn:callActivity id="call" calledElement="child"/>'
            f'<bpmn:endEvent id="{end}"/>' + chain("s", "call", end)
        )

    engine = _deployed(child, caller("e"), caller("done"))
    instance = engine.start("p", version=1)
    [called] = [i for i in engine.instances() if i.process_id == "child"]
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    assert engine.instance(called.key).version == 1
    _complete_tasks(engine, called.key)
    engine.assert_that(instance).is_completed().has_passed("done")


TIMEOUT = (
    '<bpmn:intermediateCatchEvent id="timeout"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    '</bpmn:intermediateCatchEvent><bpmn:endEvent id="late"/>'
)
TIMEOUT_FLOWS = flow("g4", "gw", "timeout") + flow("g5", "timeout", "late")


def _gateway(extra_event: str = "", extra_flow: str = "") -> str:
    return process(
        '<bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="gw"/>'
        '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateCatchEvent>" + TIMEOUT + extra_event + '<bpmn:endEvent id="e"/>'
        + chain("s", "gw")
        + flow("g1", "gw", "paid")
        + chain("paid", "e", prefix="a")
        + TIMEOUT_FLOWS
        + extra_flow,
        extra=MESSAGE,
    )  # fmt: skip


SIGNAL_EVENT = (
    '<bpmn:intermediateCatchEvent id="stop"><bpmn:signalEventDefinition signalRef="sig"/>'
    '</bpmn:intermediateCatchEvent><bpmn:endEvent id="stopped"/>'
)
SIGNAL_FLOWS = flow("g2", "gw", "stop") + flow("g3", "stop", "stopped")


def test_an_event_based_gateway_gains_the_events_its_target_adds() -> None:
    with_signal = _gateway(SIGNAL_EVENT, SIGNAL_FLOWS).replace(
        "</bpmn:definitions>", '<bpmn:signal id="sig" name="stop"/></bpmn:definitions>'
    )
    engine = _deployed(_gateway(), with_signal)
    instance = engine.start("p", version=1, variables={"order": "o-1"})
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    kinds = sorted(s.kind for s in engine.state(instance.key).subscriptions.values())
    assert kinds == ["message", "signal"]
    assert len(engine.state(instance.key).timers) == 1
    engine.broadcast_signal("stop")
    engine.assert_that(instance).is_completed().has_passed("stop").has_not_passed("paid")


def test_an_event_based_gateway_cannot_lose_an_event_it_waits_for() -> None:
    only_signal = process(
        '<bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="gw"/>'
        + SIGNAL_EVENT
        + TIMEOUT
        + chain("s", "gw")
        + SIGNAL_FLOWS
        + TIMEOUT_FLOWS,
        extra='<bpmn:signal id="sig" name="stop"/>',
    )
    engine = _deployed(_gateway(), only_signal)
    instance = engine.start("p", version=1, variables={"order": "o-1"})
    [check] = engine.check_migration(engine.migration_plan("p", 1, 2), [instance.key])
    assert check.reason is not None
    assert "event-based gateway 'gw' waits for 'paid'" in check.reason


def test_an_event_sub_process_start_the_target_drops_stops_waiting() -> None:
    def with_handler(handler: bool) -> str:
        sub = (
            '<bpmn:subProcess id="on_paid" triggeredByEvent="true"><bpmn:startEvent id="ps">'
            '<bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>'
            '<bpmn:endEvent id="pe"/>' + chain("ps", "pe", prefix="x") + "</bpmn:subProcess>"
        )
        return process(
            '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>'
            + chain("s", "work", "e")
            + (sub if handler else ""),
            extra=MESSAGE,
        )

    engine = _deployed(with_handler(True), with_handler(False), with_handler(True))
    instance = engine.start("p", version=1, variables={"order": "o-1"})
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    assert engine.state(instance.key).subscriptions == {}
    engine.migrate(engine.migration_plan("p", 2, 3), [instance.key])
    assert [s.element_id for s in engine.state(instance.key).subscriptions.values()] == ["ps"]
    engine.publish_message("paid", correlation_key="o-1")
    engine.assert_that(instance).is_completed().has_passed("pe")


def test_a_job_fetched_before_the_migration_is_completed_after_it() -> None:
    def charge(end: str) -> str:
        return process(
            '<bpmn:startEvent id="s"/><bpmn:serviceTask id="charge"><bpmn:extensionElements>'
            '<zeebe:taskDefinition type="charge"/></bpmn:extensionElements></bpmn:serviceTask>'
            f'<bpmn:endEvent id="{end}"/>' + chain("s", "charge", end)
        )

    engine = _deployed(charge("e"), charge("charged"))
    instance = engine.start("p", version=1)
    [job] = engine.fetch_jobs([JobRequest("charge", MINUTE)], worker="w", max_jobs=1)
    engine.migrate(engine.migration_plan("p", 1, 2), [instance.key])
    # The lease survives the move: no other worker gets the job meanwhile.
    assert engine.fetch_jobs([JobRequest("charge", MINUTE)], worker="w2", max_jobs=1) == []
    engine.complete_job(job.key, worker="w")
    engine.assert_that(instance).is_completed().has_passed("charged")
