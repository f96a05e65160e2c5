"""Handler slots: concurrency, hung handlers, leases extended while a handler runs, jobs given
back uncharged on an interrupt, and log lines for failures and incidents."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from bpmn_helpers import chain, process, service
from legato import InvalidCommandError, Job, RetryPolicy
from legato.runtime.clock import VirtualClock
from legato.testing import TestEngine

ONE_TASK = process(
    '<bpmn:startEvent id="s"/>' + service("t", "work") + '<bpmn:endEvent id="e"/>'
    "" + chain("s", "t", "e")
)
TWO_KINDS = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:exclusiveGateway id="x" default="to_normal"/>'
    + service("hang", "hang")
    + service("normal", "normal")
    + '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
    '<bpmn:sequenceFlow id="to_hang" sourceRef="x" targetRef="hang">'
    '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">kind = "hang"'
    "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    '<bpmn:sequenceFlow id="to_normal" sourceRef="x" targetRef="normal"/>'
    + chain("s", "x", prefix="a")
    + chain("hang", "e1", prefix="b")
    + chain("normal", "e2", prefix="c")
)
WAIT = 60.0
"""The longest any test here waits for an observable condition (never a precondition)."""


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """An event that blocked handlers wait for; set when the test ends, so none is left."""
    event = threading.Event()
    yield event
    event.set()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_hung_handlers_are_abandoned_and_the_others_keep_running(
    gate: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    # Given 12 instances whose handler hangs (with a timeout) and 10 ordinary ones, on an
    # engine with 8 slots: the hung calls alone would take every slot
    engine = TestEngine(retry_policy=RetryPolicy(max_attempts=1))
    engine.deploy(TWO_KINDS)
    engine.register("hang", lambda job: gate.wait(), timeout=timedelta(milliseconds=200))
    engine.register("normal", lambda job: {"ok": True}, timeout=timedelta(seconds=30))
    engine._jobs.pool.concurrency = 8
    engine._jobs.pool.hanging_limit = 10
    hung = [engine.start("p", {"kind": "hang"}) for _ in range(12)]
    normal = [engine.start("p", {"kind": "normal"}) for _ in range(10)]

    # When the engine runs until idle
    with caplog.at_level(logging.WARNING, logger="legato.handlers"):
        engine.run_until_idle()

    # Then the ordinary instances completed, and each hung call failed its only attempt
    for instance in normal:
        engine.assert_that(instance).is_completed()
    incidents = engine.incidents()
    assert sorted(i.instance_key for i in incidents) == sorted(i.key for i in hung)
    assert all("did not finish within 0:00:00.200000" in i.message for i in incidents)
    # and the abandoned calls are counted while their threads still run
    pool = engine._jobs.pool
    assert pool.abandoned == 12 and pool.hanging == 12
    # past the limit of 10 hanging calls, the node says so loudly
    levels = [r.levelname for r in caplog.records if "abandoned" in r.getMessage()]
    assert levels == ["WARNING"] * 10 + ["ERROR"] * 2
    gate.set()
    wait_until(lambda: pool.hanging == 0, "the abandoned threads to end")
    # Their late results were discarded: nothing changed.
    assert len(engine.incidents()) == 12


def test_a_late_result_of_an_abandoned_call_is_discarded(gate: threading.Event) -> None:
    engine = TestEngine(retry_policy=RetryPolicy(max_attempts=2, initial_interval=timedelta(0)))
    engine.deploy(ONE_TASK)
    calls: list[int] = []

    def work(job: Job) -> dict[str, object]:
        calls.append(job.context.attempt if job.context else 0)
        if len(calls) == 1:
            gate.wait()  # the first attempt hangs, then returns late
            return {"from": "late"}
        return {"from": "retry"}

    engine.register("work", work, timeout=timedelta(milliseconds=200))
    instance = engine.start("p")
    engine.run_until_idle()
    gate.set()
    wait_until(lambda: engine._jobs.pool.hanging == 0, "the late call to return")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_variables(**{"from": "retry"})
    assert calls == [1, 2]


def test_at_most_concurrency_jobs_are_held_at_once(gate: threading.Event) -> None:
    # Given an engine with 3 slots and 10 jobs whose handler runs on a slot (it has a
    # timeout), each recording how many jobs the engine held when it ran
    engine = TestEngine(concurrency=3)
    engine.deploy(ONE_TASK)
    held: list[int] = []

    def work(job: Job) -> None:
        held.append(len([j for j in engine.jobs(state="activated") if j.worker == "test-engine"]))

    engine.register("work", work, timeout=timedelta(seconds=30))
    instances = [engine.start("p") for _ in range(10)]

    engine.run_until_idle()

    for instance in instances:
        engine.assert_that(instance).is_completed()
    assert len(held) == 10 and max(held) <= 3


def test_leases_are_extended_while_a_long_handler_runs(gate: threading.Event) -> None:
    # Given an engine that leases its jobs for one second, and a handler that runs until
    # the test lets it return
    engine = TestEngine(job_lease=timedelta(seconds=1))
    engine.deploy(ONE_TASK)
    started = threading.Event()

    def work(job: Job) -> dict[str, object]:
        started.set()
        gate.wait()
        return {"done": True}

    engine.register("work", work, timeout=timedelta(minutes=5))
    instance = engine.start("p")
    runner = threading.Thread(target=engine.run_until_idle)
    runner.start()
    started.wait(WAIT)
    [job] = engine.jobs(state="activated")
    first_lease = job.lease_until
    assert first_lease is not None

    # When real time passes beyond the first lease (the virtual clock does not move: the
    # lease is extended by the running engine, the other worker asks at the same instant)
    def extended() -> bool:
        [current] = engine.jobs(state="activated")
        return current.lease_until is not None and current.lease_until > first_lease

    VirtualClock.advance(engine.clock, timedelta(seconds=2))  # without running due work
    wait_until(extended, "the lease to be extended")

    # Then another worker cannot take the job
    assert engine.activate_jobs("work", worker="other", timeout=timedelta(seconds=5)) == []
    gate.set()
    runner.join(WAIT)
    engine.assert_that(instance).is_completed().has_variables(done=True)


def test_an_interrupt_in_a_handler_gives_the_job_back_uncharged() -> None:
    # Given a handler interrupted by Ctrl-C (KeyboardInterrupt while it runs)
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    interrupts = [KeyboardInterrupt()]

    def work(job: Job) -> dict[str, object]:
        if interrupts:
            raise interrupts.pop()
        return {"done": True}

    engine.register("work", work)
    instance = engine.start("p")

    # When the engine runs, the interrupt reaches the caller
    with pytest.raises(KeyboardInterrupt):
        engine.run_until_idle()

    # Then the job is given back as it was: no failed attempt, no lease, all retries left
    [job] = engine.jobs()
    assert (job.state, job.worker, job.retries) == ("activatable", None, 3)
    assert not [h for h in engine.history(instance.key) if h.event_type == "JobFailed"]
    # and the next run completes it
    engine.run_until_idle()
    engine.assert_that(instance).is_completed()


def test_run_until_idle_does_not_wait_for_jobs_another_worker_holds() -> None:
    # Given a job held by an external worker for five minutes
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    engine.start("p")
    [held] = engine.activate_jobs("work", worker="elsewhere", timeout=timedelta(minutes=5))
    ran: list[int] = []
    engine.register("work", lambda job: ran.append(job.key))
    before = engine.clock.now()

    # When this engine runs until idle
    assert engine.run_until_idle() == 0

    # Then it returned at once: it did not wait for (nor take) the other worker's job
    assert engine.clock.now() == before
    assert ran == []
    [job] = engine.jobs()
    assert (job.job_key, job.worker) == (held.key, "elsewhere")


def test_failed_attempts_and_new_incidents_are_logged_a_line_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = TestEngine(retry_policy=RetryPolicy(max_attempts=2, jitter=0.0))
    engine.deploy(ONE_TASK)

    def work(job: Job) -> None:
        raise ConnectionError("service down")

    engine.register("work", work)
    instance = engine.start("p")
    with caplog.at_level(logging.INFO, logger="legato"):
        engine.run_until_idle()
    lines = [r for r in caplog.records if r.name == "legato.jobs"]
    assert [r.levelname for r in lines] == ["WARNING", "ERROR"]
    failed, incident = (r.getMessage() for r in lines)
    assert f"of instance {instance.key} at t failed: ConnectionError: service down" in failed
    assert "1 attempt(s) left" in failed
    assert f"on instance {instance.key} (p) at t: ConnectionError: service down" in incident
    assert lines[1].legato["incident_key"] == engine.incidents()[0].incident_key  # type: ignore[attr-defined]


def test_a_result_that_cannot_be_stored_becomes_an_incident_naming_it() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    calls: list[int] = []

    def work(job: Job) -> dict[str, object]:
        calls.append(job.key)
        return {"ratio": float("inf")}

    engine.register("work", work)
    instance = engine.start("p")
    engine.run_until_idle()
    # one call: retrying would return the same result
    assert len(calls) == 1
    [incident] = engine.incidents()
    assert incident.instance_key == instance.key
    assert incident.message.startswith("the handler's result was refused: ")
    assert "'ratio'" in incident.message


def test_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(InvalidCommandError, match="concurrency must be at least 1"):
        TestEngine(concurrency=0)
    with pytest.raises(InvalidCommandError, match="job_lease must be positive"):
        TestEngine(job_lease=timedelta(0))
    engine = TestEngine()
    with pytest.raises(InvalidCommandError, match="module-level function"):
        engine.register("work", lambda job: None, isolated=True)
