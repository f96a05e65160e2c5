"""Jobs for external workers: fetching with filters, long polling, results checked against the
lease, explicit retries, lease management (every store: see ``conftest.py``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bpmn_helpers import chain, process, service
from legato import (
    ActivatedJob,
    InvalidCommandError,
    JobRequest,
    JobStateError,
    NotFoundError,
    TooManyRequestsError,
)
from legato.engine import events as ev
from legato.testing import TestEngine

MINUTE = timedelta(minutes=1)
WAIT = 120.0
"""The longest a test waits for something another thread does (never reached when it works)."""

ONE_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service(
        "charge",
        "charge",
        '<zeebe:taskHeaders><zeebe:header key="h" value="v"/></zeebe:taskHeaders>',
    )
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "charge", "e")
)
OTHER = process(
    '<bpmn:startEvent id="s"/>'
    + service("ship", "ship")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "ship", "e"),
    process_id="q",
)
# A task inside a sub-process that has a local variable of its own.
NESTED = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:subProcess id="sub"><bpmn:extensionElements><zeebe:ioMapping>'
    '<zeebe:input source="=&quot;inner&quot;" target="level"/>'
    "</zeebe:ioMapping></bpmn:extensionElements>"
    '<bpmn:startEvent id="ss"/>'
    + service(
        "charge",
        "charge",
        '<zeebe:ioMapping><zeebe:input source="=amount * 2" target="double"/></zeebe:ioMapping>',
    )
    + '<bpmn:endEvent id="se"/>'
    + chain("ss", "charge", "se", prefix="g")
    + "</bpmn:subProcess>"
    '<bpmn:endEvent id="e"/>' + chain("s", "sub", "e"),
    process_id="n",
)
CAUGHT = process(
    '<bpmn:startEvent id="s"/>'
    + service("charge", "charge")
    + '<bpmn:boundaryEvent id="declined" attachedToRef="charge">'
    '<bpmn:errorEventDefinition errorRef="err"/></bpmn:boundaryEvent>'
    '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
    + chain("s", "charge", "e")
    + chain("declined", "e2", prefix="b"),
    process_id="c",
    extra='<bpmn:error id="err" errorCode="DECLINED"/>',
)


def _engine(*models: str) -> TestEngine:
    engine = TestEngine()
    for model in models or (ONE_TASK,):
        engine.deploy(model)
    return engine


def _fetch(engine: TestEngine, *requests: JobRequest, max_jobs: int = 10) -> list[ActivatedJob]:
    return engine.fetch_jobs(
        list(requests) or [JobRequest("charge", MINUTE)], worker="w", max_jobs=max_jobs
    )


def _keys(jobs: list[ActivatedJob]) -> list[int]:
    return [job.key for job in jobs]


def _parked_hook(engine: TestEngine) -> threading.Event:
    """An event set when a fetch of ``engine`` parks (starts to wait for jobs)."""
    parking = engine._external.parking
    parked = threading.Event()
    original = parking.park

    def park(job_types: frozenset[str], wake: Callable[[], None]) -> object:
        ticket = original(job_types, wake)
        parked.set()
        return ticket

    parking.park = park  # type: ignore[method-assign]
    return parked


def _woken(engine: TestEngine, *job_types: str) -> threading.Event:
    """An event set whenever ``engine`` wakes the fetches parked for ``job_types``."""
    event = threading.Event()
    engine._external.parking.park(frozenset(job_types), event.set)
    return event


# -- fetching --------------------------------------------------------------------------------


def test_a_fetched_job_carries_its_instance_lease_headers_and_variables() -> None:
    engine = _engine()
    instance = engine.start("p", {"amount": 42, "note": "x"}, business_key="order-1")
    [job] = _fetch(engine, JobRequest("charge", timedelta(seconds=30)))
    assert (job.type, job.instance_key, job.element_id) == ("charge", instance.key, "charge")
    assert (job.process_id, job.version, job.business_key) == ("p", 1, "order-1")
    assert job.definition_key == engine.state(instance.key).definition_key
    assert job.variables == {"amount": 42, "note": "x"}
    assert job.headers == {"h": "v"}
    assert (job.properties, job.priority, job.retries, job.worker) == ({}, 0, 3, "w")
    assert job.deadline == engine.clock.now() + timedelta(seconds=30)
    assert job.deadline.tzinfo is not None
    assert job.error_message is None and job.error_details is None
    assert job.element_instance_key in engine.state(instance.key).elements
    # Handed out once: the lease holds it.
    assert _fetch(engine) == []


def test_filters_on_business_key_process_and_version_apply_before_locking() -> None:
    engine = _engine(ONE_TASK, OTHER)
    a = engine.start("p", business_key="a")
    b = engine.start("p", business_key="b")
    q = engine.start("q", business_key="a")
    [job] = _fetch(engine, JobRequest("charge", MINUTE, business_key="b"))
    assert job.instance_key == b.key
    assert _fetch(engine, JobRequest("charge", MINUTE, process_ids=["q"])) == []
    assert _fetch(engine, JobRequest("ship", MINUTE, process_ids=["p"])) == []
    other_version = engine.state(q.key).definition_key
    assert _fetch(engine, JobRequest("charge", MINUTE, definition_keys=[other_version])) == []
    [ship] = _fetch(engine, JobRequest("ship", MINUTE, definition_keys=[other_version]))
    assert ship.instance_key == q.key
    # Not taken by the filtered looks above: still there for the right filter.
    [left] = _fetch(engine, JobRequest("charge", MINUTE, business_key="a", process_ids=["p"]))
    assert left.instance_key == a.key


def test_process_variables_filter_on_equal_root_values() -> None:
    engine = _engine()
    engine.start("p", {"region": "eu", "vip": True})
    wanted = engine.start("p", {"region": "us", "vip": True})
    engine.start("p", {"region": "us", "vip": 1})
    engine.start("p", {"region": "us"})
    request = JobRequest("charge", MINUTE, process_variables={"region": "us", "vip": True})
    [job] = _fetch(engine, request)
    assert job.instance_key == wanted.key
    assert _fetch(engine, request) == []
    # An empty filter is no filter.
    assert len(_fetch(engine, JobRequest("charge", MINUTE, process_variables={}))) == 3


def test_process_variables_filter_reads_past_many_jobs_that_do_not_match() -> None:
    engine = _engine()
    engine.start_many("p", [{"n": i} for i in range(250)])
    [job] = _fetch(engine, JobRequest("charge", MINUTE, process_variables={"n": 240}))
    assert job.variables["n"] == 240


def test_variables_selection_none_all_or_named() -> None:
    engine = _engine()
    engine.start_many("p", [{"a": 1, "b": 2, "c": 3}] * 3)
    [everything] = _fetch(engine, JobRequest("charge", MINUTE), max_jobs=1)
    [named] = _fetch(engine, JobRequest("charge", MINUTE, variables=["a", "c", "zz"]), max_jobs=1)
    [none] = _fetch(engine, JobRequest("charge", MINUTE, variables=[]), max_jobs=1)
    assert everything.variables == {"a": 1, "b": 2, "c": 3}
    assert named.variables == {"a": 1, "c": 3}
    assert none.variables == {}


def test_local_variables_are_the_job_element_scope_only() -> None:
    engine = _engine(NESTED)
    engine.start("n", {"amount": 21})
    [job] = _fetch(engine, JobRequest("charge", MINUTE, local_variables=True), max_jobs=1)
    assert job.variables == {"double": 42}
    engine.unlock_job(job.key)
    [again] = _fetch(engine, JobRequest("charge", MINUTE))
    assert again.variables == {"amount": 21, "level": "inner", "double": 42}


def test_max_jobs_counts_across_requests_in_their_order() -> None:
    engine = _engine(ONE_TASK, OTHER)
    engine.start_many("p", [{}] * 3)
    engine.start_many("q", [{}] * 3)
    requests = [JobRequest("charge", MINUTE), JobRequest("ship", 2 * MINUTE)]
    jobs = engine.fetch_jobs(requests, worker="w", max_jobs=4)
    assert [job.type for job in jobs] == ["charge"] * 3 + ["ship"]
    assert jobs[-1].deadline == engine.clock.now() + 2 * MINUTE
    assert [j.type for j in engine.fetch_jobs(requests, worker="w", max_jobs=9)] == ["ship"] * 2
    assert engine.fetch_jobs(requests, worker="w", max_jobs=0) == []


def test_a_lease_that_ran_out_makes_the_job_fetchable_again() -> None:
    engine = _engine()
    engine.start("p")
    [job] = _fetch(engine, JobRequest("charge", timedelta(seconds=30)))
    engine.clock.sleep(31)
    [again] = engine.fetch_jobs([JobRequest("charge", MINUTE)], worker="v", max_jobs=1)
    assert (again.key, again.worker) == (job.key, "v")


def test_activate_jobs_still_returns_jobs_over_the_same_path() -> None:
    engine = _engine()
    engine.start("p", {"amount": 1}, business_key="k")
    [job] = engine.activate_jobs("charge", worker="w", timeout=MINUTE)
    assert (job.type, job.variables, job.business_key, job.retries) == (
        "charge",
        {"amount": 1},
        "k",
        3,
    )
    assert job.context is not None and job.context.attempt == 1
    assert job.context.deadline == engine.clock.now() + MINUTE


def test_a_request_with_a_lease_that_is_not_positive_is_refused() -> None:
    engine = _engine()
    with pytest.raises(InvalidCommandError, match="must be positive"):
        _fetch(engine, JobRequest("charge", timedelta(0)))


# -- long polling ----------------------------------------------------------------------------


def test_a_long_poll_answers_empty_when_its_time_is_up() -> None:
    engine = _engine()
    jobs = engine.fetch_jobs(
        [JobRequest("charge", MINUTE)],
        worker="w",
        max_jobs=1,
        request_timeout=timedelta(milliseconds=20),
    )
    assert jobs == []
    assert len(engine._external.parking) == 0


def test_a_parked_fetch_gets_a_job_created_while_it_waits() -> None:
    engine = _engine()
    parked = _parked_hook(engine)
    got: list[ActivatedJob] = []

    def poll() -> None:
        got.extend(
            engine.fetch_jobs(
                [JobRequest("charge", MINUTE)],
                worker="w",
                max_jobs=1,
                request_timeout=timedelta(seconds=WAIT),
            )
        )

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    assert parked.wait(WAIT)
    instance = engine.start("p")
    thread.join(WAIT)
    assert not thread.is_alive()
    assert [job.instance_key for job in got] == [instance.key]


def test_jobs_made_available_in_this_process_wake_parked_fetches_of_their_type() -> None:
    engine = _engine(ONE_TASK, OTHER)
    charge, ship = _woken(engine, "charge"), _woken(engine, "ship")
    engine.start("p")  # created
    assert charge.is_set() and not ship.is_set()
    [job] = _fetch(engine)
    charge.clear()
    engine.unlock_job(job.key)  # unlocked
    assert charge.is_set()
    [job] = _fetch(engine)
    charge.clear()
    engine.fail_job(job.key, "boom", retries=2, retry_after=MINUTE)  # due again later
    assert charge.is_set()
    engine.clock.sleep(61)
    [job] = _fetch(engine)
    engine.fail_job(job.key, "boom", retries=0)
    charge.clear()
    engine.update_job(job.key, retries=1)  # retries reset
    assert charge.is_set()
    assert not ship.is_set()


def test_a_parked_fetch_wakes_when_a_lease_runs_out() -> None:
    engine = _engine()
    engine.start("p")
    [job] = engine.fetch_jobs(
        [JobRequest("charge", timedelta(milliseconds=1))], worker="dead", max_jobs=1
    )
    # The virtual clock stands still: the lease runs out when it is moved, and the parked
    # call, which knows when the next lease ends, looks again then.
    parked = _parked_hook(engine)
    got: list[ActivatedJob] = []

    def poll() -> None:
        got.extend(
            engine.fetch_jobs(
                [JobRequest("charge", MINUTE)],
                worker="w",
                max_jobs=1,
                request_timeout=timedelta(seconds=WAIT),
            )
        )

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    assert parked.wait(WAIT)
    engine.clock.sleep(1)
    thread.join(WAIT)
    assert _keys(got) == [job.key]


def test_an_async_fetch_waits_without_a_thread_and_wakes_on_a_new_job() -> None:
    engine = _engine()

    async def scenario() -> list[ActivatedJob]:
        parked = asyncio.Event()
        parking = engine._external.parking
        original = parking.park

        def park(job_types: frozenset[str], wake: Callable[[], None]) -> object:
            ticket = original(job_types, wake)
            parked.set()
            return ticket

        parking.park = park  # type: ignore[method-assign]
        fetching = asyncio.ensure_future(
            engine.fetch_jobs_async(
                [JobRequest("charge", MINUTE)],
                worker="w",
                max_jobs=5,
                request_timeout=timedelta(seconds=WAIT),
            )
        )
        await asyncio.wait_for(parked.wait(), WAIT)
        await asyncio.to_thread(engine.start, "p")
        return await asyncio.wait_for(fetching, WAIT)

    [job] = asyncio.run(scenario())
    assert job.type == "charge"
    assert len(engine._external.parking) == 0


def test_an_async_fetch_answers_at_once_or_empty_at_its_timeout() -> None:
    engine = _engine()
    engine.start("p")

    async def scenario() -> tuple[list[ActivatedJob], list[ActivatedJob]]:
        request = [JobRequest("charge", MINUTE)]
        first = await engine.fetch_jobs_async(request, worker="w", max_jobs=5)
        second = await engine.fetch_jobs_async(
            request, worker="w", max_jobs=5, request_timeout=timedelta(milliseconds=20)
        )
        return first, second

    first, second = asyncio.run(scenario())
    assert len(first) == 1 and second == []


def test_too_many_parked_fetches_are_refused() -> None:
    engine = _engine()
    parking = engine._external.parking
    tickets = [parking.park(frozenset({"x"}), lambda: None) for _ in range(parking.limit)]
    with pytest.raises(TooManyRequestsError, match="too many requests"):
        engine.fetch_jobs(
            [JobRequest("charge", MINUTE)],
            worker="w",
            max_jobs=1,
            request_timeout=timedelta(seconds=1),
        )
    # A call that does not wait is answered.
    assert engine.fetch_jobs([JobRequest("charge", MINUTE)], worker="w", max_jobs=1) == []
    for ticket in tickets:
        parking.leave(ticket)


# -- results ---------------------------------------------------------------------------------


def test_complete_with_local_variables_and_twice_is_refused() -> None:
    engine = _engine(NESTED)
    instance = engine.start("n", {"amount": 1})
    [job] = _fetch(engine)
    engine.complete_job(job.key, {"result": "ok"}, worker="w", local_variables={"mine": 1})
    engine.assert_that(instance).is_completed().has_variables(result="ok")
    assert "mine" not in engine.instance(instance.key).variables
    assert any(
        e.event_type == "VariableSet"
        and e.details.get("name") == "mine"
        and e.details.get("scope_key") == job.element_instance_key
        for e in engine.history(instance.key)
    )
    with pytest.raises(NotFoundError, match=f"job {job.key} does not exist"):
        engine.complete_job(job.key)


def test_a_job_never_fetched_cannot_be_completed() -> None:
    engine = _engine()
    instance = engine.start("p")
    [record] = engine.jobs()
    with pytest.raises(
        JobStateError, match=f"job {record.job_key} cannot be completed: it is not activated"
    ):
        engine.complete_job(record.job_key)
    assert engine.instance(instance.key).is_active


def test_a_stale_lease_is_refused() -> None:
    engine = _engine()
    engine.start("p")
    [job] = _fetch(engine, JobRequest("charge", timedelta(seconds=30)))
    engine.clock.sleep(30)
    for report in (
        lambda: engine.complete_job(job.key, worker="w"),
        lambda: engine.fail_job(job.key, "x", worker="w"),
        lambda: engine.throw_error(job.key, "E", worker="w"),
    ):
        with pytest.raises(JobStateError, match="stale lease"):
            report()
    with pytest.raises(JobStateError, match="cannot extend a lock that expired"):
        engine.update_job(job.key, timeout=MINUTE)
    [again] = _fetch(engine)
    assert again.key == job.key


def test_a_job_held_by_another_worker_is_refused_naming_both() -> None:
    engine = _engine()
    instance = engine.start("p")
    [job] = _fetch(engine)
    expected = f"Job {job.key} cannot be completed by worker 'x'. It is locked by worker 'w'."
    with pytest.raises(JobStateError) as refused:
        engine.complete_job(job.key, worker="x")
    assert str(refused.value) == expected
    with pytest.raises(JobStateError, match="cannot be failed by worker 'x'"):
        engine.fail_job(job.key, "boom", worker="x")
    with pytest.raises(JobStateError, match="by worker 'x'"):
        engine.update_job(job.key, timeout=MINUTE, worker="x")
    engine.complete_job(job.key, worker="w")
    engine.assert_that(instance).is_completed()


def test_explicit_retries_are_the_workers_decision_and_zero_is_an_incident() -> None:
    engine = _engine()
    instance = engine.start("p")
    [job] = _fetch(engine)
    engine.fail_job(job.key, "busy", retries=7, error_details="trace 1")
    [again] = _fetch(engine)  # at once: no backoff without retry_after
    assert (again.key, again.retries) == (job.key, 7)
    assert (again.error_message, again.error_details) == ("busy", "trace 1")
    engine.fail_job(job.key, "broken", retries=0, error_details="trace 2")
    [incident] = engine.incidents(instance_key=instance.key)
    assert (incident.message, incident.details, incident.job_key) == ("broken", "trace 2", job.key)
    view = engine.job(job.key)
    assert (view.state, view.retries, view.deadline, view.worker) == ("failed", 0, None, "")
    assert _fetch(engine) == []
    with pytest.raises(InvalidCommandError, match="negative"):
        engine.fail_job(job.key, "x", retries=-1)


def test_retry_after_delays_the_next_fetch() -> None:
    engine = _engine()
    engine.start("p")
    [job] = _fetch(engine)
    engine.fail_job(
        job.key,
        "later",
        retries=2,
        retry_after=MINUTE,
        variables={"seen": 1},
        local_variables={"attempt": 1},
    )
    assert _fetch(engine) == []
    engine.clock.sleep(60)
    [again] = _fetch(engine)
    assert again.variables == {"seen": 1, "attempt": 1}


def test_setting_retries_resolves_the_incident_and_makes_the_job_fetchable() -> None:
    engine = _engine()
    instance = engine.start("p")
    [job] = _fetch(engine)
    engine.fail_job(job.key, "broken", retries=0)
    engine.update_job(job.key, retries=2)
    assert engine.incidents(instance_key=instance.key) == []
    [again] = _fetch(engine)
    assert (again.key, again.retries) == (job.key, 2)
    history = [e.event_type for e in engine.history(instance.key)]
    assert history[-2:] == [ev.JobRetriesUpdated.type_name, ev.IncidentResolved.type_name]


def test_setting_retries_of_a_held_job_keeps_its_lease_and_zero_is_an_incident() -> None:
    engine = _engine()
    instance = engine.start("p")
    [job] = _fetch(engine)
    engine.update_job(job.key, retries=5, timeout=2 * MINUTE, worker="w")
    view = engine.job(job.key)
    assert (view.retries, view.worker, view.deadline) == (5, "w", engine.clock.now() + 2 * MINUTE)
    engine.update_job(job.key, retries=0)
    [incident] = engine.incidents(instance_key=instance.key)
    assert incident.job_key == job.key
    with pytest.raises(InvalidCommandError, match="negative"):
        engine.update_job(job.key, retries=-1)


def test_an_uncaught_bpmn_error_is_an_incident_and_a_caught_one_takes_the_boundary() -> None:
    engine = _engine(ONE_TASK, CAUGHT)
    uncaught = engine.start("p")
    caught = engine.start("c")
    jobs = {job.instance_key: job for job in _fetch(engine)}
    engine.throw_error(jobs[uncaught.key].key, "DECLINED", "no money", worker="w")
    [incident] = engine.incidents(instance_key=uncaught.key)
    assert "unhandled BPMN error 'DECLINED'" in incident.message
    engine.throw_error(jobs[caught.key].key, "DECLINED", variables={"why": "card"})
    engine.assert_that(caught).is_completed().has_passed("declined")


# -- leases ----------------------------------------------------------------------------------


def test_extend_a_held_lease() -> None:
    engine = _engine()
    engine.start("p")
    [job] = _fetch(engine, JobRequest("charge", timedelta(seconds=30)))
    engine.clock.sleep(20)
    engine.update_job(job.key, timeout=timedelta(seconds=30), worker="w")
    engine.clock.sleep(20)
    assert _fetch(engine) == []
    engine.complete_job(job.key, worker="w")
    with pytest.raises(NotFoundError):
        engine.update_job(job.key, timeout=MINUTE)


def test_extending_a_job_that_is_not_held_is_refused() -> None:
    engine = _engine()
    engine.start("p")
    [record] = engine.jobs()
    with pytest.raises(JobStateError, match="not activated"):
        engine.update_job(record.job_key, timeout=MINUTE)
    with pytest.raises(InvalidCommandError, match="positive"):
        engine.update_job(record.job_key, timeout=timedelta(0))


def test_lock_and_unlock() -> None:
    engine = _engine()
    engine.start("p")
    [record] = engine.jobs()
    engine.lock_job(record.job_key, worker="a", timeout=MINUTE)
    assert _fetch(engine) == []
    engine.lock_job(record.job_key, worker="a", timeout=2 * MINUTE)  # its own lock again
    with pytest.raises(JobStateError, match="locked by worker 'a'"):
        engine.lock_job(record.job_key, worker="b", timeout=MINUTE)
    view = engine.job(record.job_key)
    assert (view.state, view.worker, view.deadline) == (
        "activated",
        "a",
        engine.clock.now() + 2 * MINUTE,
    )
    engine.unlock_job(record.job_key)
    assert engine.job(record.job_key).state == "activatable"
    [job] = _fetch(engine)
    assert job.key == record.job_key
    engine.clock.sleep(61)
    engine.lock_job(record.job_key, worker="b", timeout=MINUTE)  # the lease ran out
    engine.complete_job(record.job_key, worker="b")
    for call in (
        lambda: engine.lock_job(record.job_key, worker="a", timeout=MINUTE),
        lambda: engine.unlock_job(record.job_key),
        lambda: engine.job(record.job_key),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_a_job_view_shows_any_state() -> None:
    engine = _engine()
    instance = engine.start("p", business_key="k")
    [record] = engine.jobs()
    view = engine.job(record.job_key)
    assert (view.state, view.worker, view.deadline, view.variables) == ("activatable", "", None, {})
    assert (view.instance_key, view.process_id, view.business_key) == (instance.key, "p", "k")
    assert view.created_at == engine.clock.now()


@pytest.mark.parametrize(
    "request_",
    [
        JobRequest(5, MINUTE),  # type: ignore[arg-type]
        JobRequest("charge", 60),  # type: ignore[arg-type]
        JobRequest("charge", MINUTE, variables="a"),
        JobRequest("charge", MINUTE, process_ids="p"),
        JobRequest("charge", MINUTE, definition_keys=["1"]),  # type: ignore[list-item]
        JobRequest("charge", MINUTE, process_variables=[("a", 1)]),  # type: ignore[arg-type]
    ],
)
def test_a_request_with_a_field_of_a_wrong_type_is_refused(request_: JobRequest) -> None:
    engine = _engine()
    with pytest.raises(InvalidCommandError, match="a JobRequest's"):
        _fetch(engine, request_)


def _camunda_task(process_id: str, priority: int) -> str:
    task = (
        f'<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="t"'
        f' camunda:taskPriority="{priority}"><bpmn:extensionElements><camunda:properties>'
        f'<camunda:property name="tier" value="{process_id}"/></camunda:properties>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    model = process(
        '<bpmn:startEvent id="s"/>' + task + '<bpmn:endEvent id="e"/>' + chain("s", "t", "e"),
        process_id=process_id,
    )
    return model.replace(
        "xmlns:zeebe=", 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe='
    )


def test_priority_and_extension_properties_come_from_the_model() -> None:
    engine = _engine(_camunda_task("low", 1), _camunda_task("high", 10))
    engine.start("low")
    engine.start("high")
    request = [JobRequest("t", MINUTE)]
    [first] = engine.fetch_jobs(request, worker="w", max_jobs=1, use_priority=True)
    assert (first.process_id, first.priority, first.properties) == ("high", 10, {"tier": "high"})
    engine.unlock_job(first.key)
    [oldest] = engine.fetch_jobs(request, worker="w", max_jobs=1)
    assert (oldest.process_id, oldest.priority) == ("low", 1)
    assert engine.job(oldest.key).properties == {"tier": "low"}


def test_a_notification_of_unknown_work_wakes_only_fetches_whose_types_have_jobs() -> None:
    engine = _engine(ONE_TASK, OTHER)
    charge, ship = _woken(engine, "charge"), _woken(engine, "ship")
    engine.start("q")  # a ship job: this process's own wake says its type
    ship.clear()
    engine._external.parking.notify()  # as from another node: which types is asked
    assert ship.is_set() and not charge.is_set()


def test_an_async_fetch_cancelled_while_it_looks_gives_its_jobs_back() -> None:
    engine = _engine()
    engine.start("p")
    external = engine._external
    looked, go_on, given_back = threading.Event(), threading.Event(), threading.Event()
    look, give_back = external._fetch_once, external.give_back

    def slow_look(*args: Any) -> Any:
        found = look(*args)
        looked.set()
        go_on.wait(WAIT)
        return found

    def noted_give_back(*args: Any) -> None:
        give_back(*args)
        given_back.set()

    external._fetch_once = slow_look  # type: ignore[method-assign]
    external.give_back = noted_give_back  # type: ignore[method-assign]

    async def scenario() -> None:
        fetching = asyncio.ensure_future(
            engine.fetch_jobs_async([JobRequest("charge", MINUTE)], worker="w", max_jobs=1)
        )
        await asyncio.to_thread(looked.wait, WAIT)  # the job is leased on the thread
        fetching.cancel()  # the caller went away (an HTTP client disconnected)
        with pytest.raises(asyncio.CancelledError):
            await fetching
        go_on.set()
        assert await asyncio.to_thread(given_back.wait, WAIT)

    asyncio.run(scenario())
    external._fetch_once = look  # type: ignore[method-assign]
    [record] = engine.jobs()
    assert engine.job(record.job_key).state == "activatable"
    assert _keys(_fetch(engine)) == [record.job_key]
