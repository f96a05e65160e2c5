"""Suspending and resuming instances, operators' variable edits and retries, batch
operations, and who did each (every store: see ``conftest.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bpmn_helpers import chain, process, service
from legato import (
    InstanceFilter,
    InstanceSuspendedError,
    InvalidCommandError,
    JobRequest,
    JobStateError,
    NotFoundError,
)
from legato.testing import TestEngine

MINUTE = timedelta(minutes=1)
ONE_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service("charge", "charge")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "charge", "e")
)
TIMER = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P1D</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    '<bpmn:endEvent id="e"/>' + chain("s", "wait", "e"),
    process_id="t",
)
MESSAGE = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:intermediateCatchEvent id="paid">'
    '<bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>'
    '<bpmn:endEvent id="e"/>' + chain("s", "paid", "e"),
    process_id="m",
    extra='<bpmn:message id="m_paid" name="paid"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=order"/></bpmn:extensionElements></bpmn:message>',
)
SIGNAL = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:intermediateCatchEvent id="go">'
    '<bpmn:signalEventDefinition signalRef="sig"/></bpmn:intermediateCatchEvent>'
    '<bpmn:endEvent id="e"/>' + chain("s", "go", "e"),
    process_id="g",
    extra='<bpmn:signal id="sig" name="go"/>',
)
TASK = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="approve"/><bpmn:endEvent id="e"/>'
    + chain("s", "approve", "e"),
    process_id="u",
)
CALLER = process(
    '<bpmn:startEvent id="s"/><bpmn:callActivity id="call"><bpmn:extensionElements>'
    '<zeebe:calledElement processId="p"/></bpmn:extensionElements></bpmn:callActivity>'
    '<bpmn:endEvent id="e"/>' + chain("s", "call", "e"),
    process_id="caller",
)


def _engine(*models: str) -> TestEngine:
    engine = TestEngine()
    for model in models or (ONE_TASK,):
        engine.deploy(model)
    return engine


def _fetch(engine: TestEngine, worker: str = "w1") -> list[int]:
    jobs = engine.fetch_jobs([JobRequest("charge", MINUTE)], worker=worker, max_jobs=10)
    return [job.key for job in jobs]


def _history(engine: TestEngine, key: int, event_type: str) -> list[dict[str, Any]]:
    return [e.details for e in engine.history(key) if e.event_type == event_type]


def test_a_suspended_instance_hands_no_job_to_a_worker_until_it_is_resumed() -> None:
    engine = _engine()
    instance = engine.start("p")
    engine.suspend(instance.key, by="olga")
    engine.assert_that(instance).is_suspended()
    assert engine.instance(instance.key).is_active
    assert _fetch(engine) == []
    engine.resume(instance.key, by="olga")
    engine.assert_that(instance).is_active()
    [job_key] = _fetch(engine)
    engine.complete_job(job_key, worker="w1")
    engine.assert_that(instance).is_completed()
    assert _history(engine, instance.key, "InstanceSuspended") == [{"by": "olga"}]
    assert _history(engine, instance.key, "InstanceResumed") == [{"by": "olga"}]


def test_a_suspended_instance_runs_no_handler_until_it_is_resumed() -> None:
    engine = _engine()
    ran: list[int] = []
    engine.register("charge", lambda job: ran.append(job.instance_key))
    instance = engine.start("p")  # its job is held for this engine's handler at once
    engine.suspend(instance.key)
    assert engine.run_until_idle() == 0
    assert ran == []
    engine.resume(instance.key)
    engine.run_until_idle()
    assert ran == [instance.key]
    engine.assert_that(instance).is_completed()


def test_a_job_fetched_before_the_suspension_cannot_be_completed() -> None:
    engine = _engine()
    instance = engine.start("p")
    [job_key] = _fetch(engine)
    engine.suspend(instance.key)
    with pytest.raises(JobStateError, match=f"instance {instance.key} is suspended"):
        engine.complete_job(job_key, {"charged": True}, worker="w1")
    with pytest.raises(JobStateError, match="is suspended"):
        engine.fail_job(job_key, "busy", worker="w1")
    engine.resume(instance.key)
    # Its lease ended with the suspension: the job is handed out again.
    assert _fetch(engine, "w2") == [job_key]
    engine.complete_job(job_key, worker="w2")
    engine.assert_that(instance).is_completed().has_variables()


def test_a_due_timer_waits_for_the_resumption_then_fires() -> None:
    engine = _engine(TIMER)
    instance = engine.start("t")
    engine.suspend(instance.key)
    engine.clock.advance(timedelta(days=2))
    engine.assert_that(instance).is_suspended().is_waiting_at("wait")
    engine.resume(instance.key)
    engine.run_once_all()
    engine.assert_that(instance).is_completed()


def test_no_message_or_signal_reaches_a_suspended_instance() -> None:
    engine = _engine(MESSAGE, SIGNAL)
    waiting = engine.start("m", {"order": "o-1"})
    signalled = engine.start("g")
    engine.suspend(waiting.key)
    engine.suspend(signalled.key)
    assert engine.publish_message("paid", "o-1").correlated == []
    assert engine.broadcast_signal("go").correlated == []
    engine.resume(waiting.key)
    engine.resume(signalled.key)
    engine.assert_that(waiting).is_waiting_at("paid")
    engine.assert_that(signalled).is_waiting_at("go")
    assert engine.publish_message("paid", "o-1").correlated == [waiting.key]
    engine.assert_that(waiting).is_completed()


def test_a_buffered_message_reaches_the_instance_once_it_is_resumed() -> None:
    engine = _engine(MESSAGE)
    instance = engine.start("m", {"order": "o-2"})
    engine.suspend(instance.key)
    result = engine.publish_message("paid", "o-2", {"paid": 12}, time_to_live=timedelta(hours=1))
    assert result.correlated == [] and result.buffered_message_key is not None
    engine.assert_that(instance).is_suspended()
    engine.resume(instance.key)
    engine.assert_that(instance).is_completed().has_variables(paid=12)


def test_a_user_task_of_a_suspended_instance_cannot_be_completed() -> None:
    engine = _engine(TASK)
    instance = engine.start("u")
    [task] = engine.user_tasks(instance_key=instance.key)
    engine.suspend(instance.key)
    with pytest.raises(InstanceSuspendedError, match=f"instance {instance.key} is suspended"):
        engine.complete_user_task(task.user_task_key, {"ok": True})
    engine.resume(instance.key)
    engine.complete_user_task(task.user_task_key, {"ok": True})
    engine.assert_that(instance).is_completed()


def test_a_suspended_instance_can_be_cancelled_and_have_its_variables_changed() -> None:
    engine = _engine(ONE_TASK, TIMER)
    instance = engine.start("p", {"amount": 1})
    waiting = engine.start("t")
    engine.suspend(instance.key)
    engine.suspend(waiting.key)
    engine.set_variables(instance.key, {"amount": 2}, by="olga")
    engine.cancel(instance.key, by="olga")
    engine.cancel(waiting.key)
    engine.assert_that(instance).is_terminated().has_variables(amount=2)
    engine.assert_that(waiting).is_terminated()
    assert engine.jobs(instance_key=instance.key) == []
    [terminated] = _history(engine, instance.key, "InstanceTerminated")
    assert terminated["by"] == "olga"
    engine.clock.advance(timedelta(days=2))  # its timer is gone with it
    engine.assert_that(waiting).is_terminated()


def test_suspending_twice_or_resuming_a_running_instance_is_refused() -> None:
    engine = _engine()
    instance = engine.start("p")
    with pytest.raises(InstanceSuspendedError, match=f"instance {instance.key} is not suspended"):
        engine.resume(instance.key)
    engine.suspend(instance.key)
    with pytest.raises(InstanceSuspendedError, match="is suspended already"):
        engine.suspend(instance.key)
    with pytest.raises(NotFoundError, match="no instance with key 424242"):
        engine.suspend(424242)
    engine.cancel(instance.key)
    with pytest.raises(InvalidCommandError, match="is terminated"):
        engine.resume(instance.key)


def test_suspending_a_caller_suspends_the_instance_it_called() -> None:
    engine = _engine(ONE_TASK, CALLER)
    caller = engine.start("caller")
    [child] = [i for i in engine.instances(process_id="p")]
    engine.suspend(caller.key, by="olga")
    engine.assert_that(child.key).is_suspended()
    assert _fetch(engine) == []
    engine.resume(caller.key)
    engine.assert_that(child.key).is_active()
    [job_key] = _fetch(engine)
    engine.complete_job(job_key)
    engine.assert_that(caller).is_completed()


def test_the_suspended_instances_are_listed_by_their_status() -> None:
    engine = _engine()
    running = engine.start("p")
    held = engine.start("p")
    engine.suspend(held.key)
    assert [i.key for i in engine.instances(status="suspended")] == [held.key]
    assert {i.key for i in engine.instances(status="active")} == {running.key, held.key}
    assert engine.instance(held.key).suspended


def test_an_operator_edit_records_the_old_and_new_values_and_who() -> None:
    engine = _engine()
    instance = engine.start("p", {"amount": 1})
    engine.set_variables(instance.key, {"amount": 5, "note": "<b>fixed</b>"}, by="olga")
    [edit] = _history(engine, instance.key, "VariablesEdited")
    assert edit == {
        "scope_key": instance.key,
        "changes": {
            "amount": {"old": 1, "new": 5},
            "note": {"old": None, "new": "<b>fixed</b>"},
        },
        "by": "olga",
    }
    engine.assert_that(instance).has_variables(amount=5, note="<b>fixed</b>")


def test_retry_with_fixed_variables_is_one_command_recorded_with_who() -> None:
    engine = _engine()
    instance = engine.start("p", {"amount": -1})
    [job_key] = _fetch(engine)
    engine.fail_job(job_key, "negative amount", retries=0, worker="w1")
    [incident] = engine.incidents(instance_key=instance.key)
    with pytest.raises(InvalidCommandError, match="at least one retry"):
        engine.retry(incident.incident_key, retries=0, variables={"amount": 3})
    engine.assert_that(instance).has_variables(amount=-1)  # nothing of it was kept
    engine.retry(incident.incident_key, variables={"amount": 3}, by="olga")
    [edit] = _history(engine, instance.key, "VariablesEdited")
    assert edit["changes"] == {"amount": {"old": -1, "new": 3}} and edit["by"] == "olga"
    [resolved] = _history(engine, instance.key, "IncidentResolved")
    assert resolved["by"] == "olga"
    [job_key] = _fetch(engine)
    engine.complete_job(job_key)
    engine.assert_that(instance).is_completed().has_variables(amount=3)


def test_a_suspended_instance_cannot_be_retried_until_it_is_resumed() -> None:
    engine = _engine()
    instance = engine.start("p")
    [job_key] = _fetch(engine)
    engine.fail_job(job_key, "down", retries=0, worker="w1")
    [incident] = engine.incidents(instance_key=instance.key)
    engine.suspend(instance.key)
    with pytest.raises(InstanceSuspendedError):
        engine.retry(incident.incident_key)
    engine.resume(instance.key)
    engine.retry(incident.incident_key)
    assert _fetch(engine) == [job_key]


def test_a_batch_cancels_a_thousand_instances_by_filter() -> None:
    engine = _engine(ONE_TASK, TIMER)
    started = engine.start_many("p", [{"n": n} for n in range(1000)])
    other = engine.start("t")
    selection = InstanceFilter(process_id="p", status="active")
    dry = engine.batch("cancel", filter=selection, dry_run=True)
    assert (dry.dry_run, dry.matched, len(dry.done), dry.skipped) == (True, 1000, 1000, {})
    assert engine.instances(status="terminated") == []
    result = engine.batch("cancel", filter=selection, by="olga")
    assert sorted(result.done) == sorted(i.key for i in started)
    assert result.skipped == {}
    assert len(engine.instances(status="terminated", limit=2000)) == 1000
    engine.assert_that(other).is_active()
    [terminated] = _history(engine, started[0].key, "InstanceTerminated")
    assert terminated["by"] == "olga"
    again = engine.batch("cancel", keys=[started[0].key, 777])
    assert again.done == []
    assert again.skipped == {
        started[0].key: f"instance {started[0].key} is terminated",
        777: "no instance with key 777",
    }


def test_a_batch_retries_the_incidents_of_the_instances_it_names() -> None:
    engine = _engine()
    failing = [engine.start("p") for _ in range(3)]
    healthy = engine.start("p")
    for job_key in _fetch(engine)[:3]:
        engine.fail_job(job_key, "down", retries=0, worker="w1")
    keys = [i.key for i in [*failing, healthy]]
    dry = engine.batch("retry", keys=keys, dry_run=True)
    assert (len(dry.done), list(dry.skipped)) == (3, [healthy.key])
    assert len(engine.incidents()) == 3
    result = engine.batch("retry", keys=keys, by="olga")
    assert sorted(result.done) == sorted(i.key for i in failing)
    assert result.skipped == {healthy.key: f"instance {healthy.key} has no open incident"}
    assert engine.incidents() == []
    for instance in failing:
        [resolved] = _history(engine, instance.key, "IncidentResolved")
        assert resolved["by"] == "olga"


def test_a_batch_names_its_bad_input() -> None:
    engine = _engine()
    with pytest.raises(InvalidCommandError, match="kind must be one of cancel, retry"):
        engine.batch("delete", keys=[1])
    with pytest.raises(InvalidCommandError, match="either instance keys or a filter"):
        engine.batch("cancel")
    with pytest.raises(InvalidCommandError, match="keys: at most 10,000 instances"):
        engine.batch("cancel", keys=list(range(10_001)))
    with pytest.raises(InvalidCommandError, match="status must be one of"):
        engine.batch("cancel", filter=InstanceFilter(status="sleeping"))
    with pytest.raises(InvalidCommandError, match=r"filter\.version: give the process id"):
        engine.batch("cancel", filter=InstanceFilter(version=2))


def test_another_node_cannot_complete_a_job_it_fetched_before_the_suspension() -> None:
    node = _engine()
    operator = TestEngine(store=node.store)
    instance = node.start("p")
    [job_key] = _fetch(node)
    operator.suspend(instance.key, by="olga")
    with pytest.raises(JobStateError, match="is suspended"):
        node.complete_job(job_key, worker="w1")
    operator.resume(instance.key)
    assert _fetch(node, "w2") == [job_key]
    node.complete_job(job_key, worker="w2")
    operator.assert_that(instance).is_completed()


def test_the_history_replays_into_the_stored_state_through_suspensions_and_edits() -> None:
    engine = _engine(ONE_TASK, TIMER)
    instance = engine.start("p", {"amount": 1})
    waiting = engine.start("t")
    engine.suspend(instance.key)
    engine.set_variables(instance.key, {"amount": 2}, by="olga")
    engine.suspend(waiting.key)
    assert engine.replay(instance.key) == engine.state(instance.key)
    engine.resume(instance.key)
    assert engine.replay(instance.key) == engine.state(instance.key)
    assert engine.replay(waiting.key) == engine.state(waiting.key)


def test_a_condition_made_true_while_suspended_triggers_on_resume() -> None:
    engine = _engine(
        process(
            '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="until_ready">'
            '<bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression">'
            "stock &gt; 0</bpmn:condition></bpmn:conditionalEventDefinition>"
            '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>'
            + chain("s", "until_ready", "e"),
            process_id="c",
        )
    )
    instance = engine.start("c", {"stock": 0})
    engine.suspend(instance.key)
    engine.set_variables(instance.key, {"stock": 2}, by="olga")
    engine.assert_that(instance).is_suspended().is_waiting_at("until_ready")
    engine.resume(instance.key)
    engine.assert_that(instance).is_completed()
