"""Service tasks: handlers, results, retries with backoff, incidents, idempotency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest

from bpmn_helpers import chain, process, service
from legato import BpmnError, InvalidCommandError, Job, JobContext, NonRetryableError, RetryPolicy
from legato.testing import TestEngine

RETRY = (
    '<legato:retry maxAttempts="3" initialInterval="PT10S" backoffCoefficient="2"'
    ' maximumInterval="PT1M" jitter="0"/>'
)
ONE_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service("charge", "charge", RETRY)
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "charge", "e")
)


def test_handler_gets_job_and_its_result_becomes_variables() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    seen: list[Job] = []

    @engine.task("charge")
    def charge(job: Job) -> dict[str, object]:
        seen.append(job)
        return {"charged": job.variables["amount"] * 2}

    instance = engine.start("p", {"amount": 21}, business_key="order-1")
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_variables(charged=Decimal(42))
    [job] = seen
    assert (job.element_id, job.instance_key, job.type) == ("charge", instance.key, "charge")
    assert job.retries == 3
    assert job.business_key == "order-1"
    assert job.idempotency_key == str(job.key)


def test_failed_attempts_are_retried_with_exponential_backoff_then_become_an_incident() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    attempts: list[tuple[object, int]] = []

    @engine.task("charge")
    def charge(job: Job, context: JobContext) -> None:
        attempts.append((engine.clock.now(), context.attempt))
        raise ConnectionError("payment provider unreachable")

    instance = engine.start("p")
    engine.run_until_idle()
    start = attempts[0][0]
    assert [(t - start, a) for t, a in attempts] == [  # type: ignore[operator]
        (timedelta(0), 1),
        (timedelta(seconds=10), 2),
        (timedelta(seconds=30), 3),
    ]
    [incident] = engine.incidents()
    assert incident.error_type == "job_failed"
    assert "payment provider unreachable" in incident.message
    assert incident.details is not None and "ConnectionError" in incident.details
    engine.assert_that(instance).is_active().has_incident("charge")
    [job] = engine.jobs()
    assert job.state == "failed" and job.retries == 0


def test_operator_retry_after_fixing_data_completes_the_instance() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)

    @engine.task("charge")
    def charge(job: Job) -> dict[str, object]:
        if job.variables.get("card") != "valid":
            raise NonRetryableError("card declined")
        return {"paid": True}

    instance = engine.start("p", {"card": "expired"})
    engine.run_until_idle()
    [incident] = engine.incidents()
    assert incident.message == "NonRetryableError: card declined"
    engine.retry(incident.incident_key, variables={"card": "valid"})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_variables(paid=True, card="valid")


def test_idempotency_key_keeps_a_retried_charge_from_being_made_twice() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    ledger: dict[str, int] = {}
    calls = 0

    @engine.task("charge")
    def charge(job: Job, context: JobContext) -> dict[str, object]:
        nonlocal calls
        calls += 1
        ledger.setdefault(context.idempotency_key, job.variables["amount"])
        if calls == 1:
            raise TimeoutError("response lost after the charge was made")
        return {"receipt": context.idempotency_key}

    instance = engine.start("p", {"amount": 100})
    engine.run_until_idle()
    assert calls == 2
    assert len(ledger) == 1
    engine.assert_that(instance).is_completed()


def test_bpmn_error_without_catching_event_is_an_incident() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)

    @engine.task("charge")
    def charge(job: Job) -> None:
        raise BpmnError("INSUFFICIENT_FUNDS", "balance too low")

    instance = engine.start("p")
    engine.run_until_idle()
    [incident] = engine.incidents(instance_key=instance.key)
    assert incident.error_type == "unhandled_error"
    assert "INSUFFICIENT_FUNDS" in incident.message


def test_async_handlers_run_concurrently_in_a_batch() -> None:
    import asyncio

    engine = TestEngine()
    engine.deploy(ONE_TASK)
    running = 0
    peak = 0

    @engine.task("charge")
    async def charge(job: Job) -> dict[str, object]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return {"done": True}

    instances = [engine.start("p") for _ in range(5)]
    engine.run_until_idle()
    assert peak == 5
    for instance in instances:
        engine.assert_that(instance).is_completed()


@contextmanager
def held_until_done() -> Iterator[Callable[[Job], None]]:
    """A handler that returns only when the block has ended: slower than any timeout, on
    any machine (a handler that sleeps a while may finish first when the machine is slow)."""
    done = threading.Event()

    def hang(job: Job) -> None:
        done.wait(60)

    try:
        yield hang
    finally:
        done.set()


def test_handler_timeout_fails_the_attempt() -> None:
    engine = TestEngine(retry_policy=RetryPolicy(max_attempts=1))
    engine.deploy(ONE_TASK.replace(RETRY, ""))
    with held_until_done() as hang:
        engine.register("charge", hang, timeout=timedelta(milliseconds=50))
        engine.start("p")
        engine.run_until_idle()
    [incident] = engine.incidents()
    assert "did not finish within" in incident.message


def test_external_worker_completes_jobs_and_duplicates_are_refused() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    instance = engine.start("p")
    [job] = engine.activate_jobs("charge", worker="w1")
    assert engine.activate_jobs("charge", worker="w2") == []
    engine.complete_job(job.key, {"ok": True})
    engine.assert_that(instance).is_completed().has_variables(ok=True)
    with pytest.raises(Exception):  # noqa: B017 - the job row is gone: NotFoundError
        engine.complete_job(job.key, {"ok": False})
    assert engine.instance(instance.key).variables["ok"] is True


def test_completing_a_finished_job_through_the_engine_is_an_invalid_command() -> None:
    from legato.engine import commands as cmd

    engine = TestEngine()
    engine.deploy(ONE_TASK)
    instance = engine.start("p")
    [job] = engine.activate_jobs("charge", worker="w1")
    engine.complete_job(job.key)
    with pytest.raises(InvalidCommandError):
        engine._submit(cmd.CompleteJob(instance_key=instance.key, job_key=job.key))


def test_expired_lease_hands_the_job_to_another_worker() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    engine.start("p")
    [first] = engine.activate_jobs("charge", worker="dead", timeout=timedelta(seconds=30))
    engine.clock.sleep(31)
    [again] = engine.activate_jobs("charge", worker="alive")
    assert again.key == first.key


def test_model_timeout_limits_a_slow_handler() -> None:
    xml = ONE_TASK.replace(RETRY, '<legato:timeout duration="PT0.05S"/>')
    engine = TestEngine(retry_policy=RetryPolicy(max_attempts=1))
    engine.deploy(xml)
    with held_until_done() as hang:
        engine.register("charge", hang)
        engine.start("p")
        engine.run_until_idle()
    [incident] = engine.incidents()
    assert "did not finish within" in incident.message
