"""Listings: where each instance waits and what it holds; filters that cannot match are
refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpmn_helpers import chain, process, service
from legato import InvalidCommandError
from legato.runtime import queries
from legato.testing import TestEngine

PARALLEL = process(
    '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/><bpmn:userTask id="review"/>'
    + service("charge", "charge-card")
    + '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
    + chain("s", "fork")
    + chain("fork", "review", "e1", prefix="a")
    + chain("fork", "charge", "e2", prefix="b")
)


def test_listed_instances_say_where_they_wait_and_hold_their_variables() -> None:
    engine = TestEngine()
    engine.deploy(PARALLEL)
    first = engine.start("p", {"amount": 12, "nested": {"$odd": [1, 2]}})
    second = engine.start("p", {"amount": 7})
    [job] = engine.jobs(instance_key=second.key)
    # An external worker completes a job it fetched (holds).
    engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
    engine.complete_job(job.job_key, {"charged": True})
    listed = {i.key: i for i in engine.instances()}
    assert sorted(listed[first.key].active_elements) == ["charge", "review"]
    assert listed[first.key].variables == {"amount": 12, "nested": {"$odd": [1, 2]}}
    assert listed[second.key].active_elements == ("review",)
    assert listed[second.key].variables == {"amount": 7, "charged": True}
    # The same as the instance read on its own.
    assert listed[first.key] == engine.instance(first.key)
    assert listed[second.key] == engine.instance(second.key)


@pytest.mark.parametrize(
    ("listing", "valid"),
    [
        ("instances", "active, completed, terminated, suspended, incident"),
        ("jobs", "activatable, activated, failed"),
        ("user_tasks", "created, completed, canceled"),
        ("incidents", "open, resolved"),
    ],
)
def test_a_status_filter_that_matches_nothing_by_construction_is_refused(
    listing: str, valid: str
) -> None:
    engine = TestEngine()
    argument = "status" if listing == "instances" else "state"
    with pytest.raises(
        InvalidCommandError, match=f"{argument} must be one of {valid}, got 'bogus'"
    ):
        getattr(engine, listing)(**{argument: "bogus"})
    for value in valid.split(", "):
        assert getattr(engine, listing)(**{argument: value}) == []


def test_the_read_side_counts_the_instances_that_ended() -> None:
    engine = TestEngine()
    engine.deploy(PARALLEL)
    assert queries.count_ended(engine.store) == 0
    done = engine.start("p")
    for job in engine.jobs(instance_key=done.key):
        engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
        engine.complete_job(job.job_key, {})
    [task] = engine.user_tasks(instance_key=done.key)
    engine.complete_user_task(task.user_task_key, {})
    cancelled = engine.start("p")
    engine.cancel(cancelled.key)
    engine.start("p")  # still waiting
    assert engine.instance(done.key).status == "completed"
    assert queries.count_ended(engine.store) == 2
