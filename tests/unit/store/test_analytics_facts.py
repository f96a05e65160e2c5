"""The analytics facts on every store: written by the command's transaction, equal to a
rebuild from the history, read by the SLA sweep's open-instance queries, and removed with
their instances by retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bpmn_helpers import chain, process, service
from legato.runtime.retention import sweep_ended_instances
from legato.store.facts import ElementFact, IncidentFact, InstanceFact
from legato.store.rebuild import rebuild_facts, rebuild_facts_in_steps
from legato.testing import TestEngine

pytestmark = pytest.mark.usefixtures("engine_store")

WORK = process(
    '<bpmn:startEvent id="s"/>'
    + service("charge", "charge")
    + '<bpmn:userTask id="review"/><bpmn:endEvent id="e"/>'
    + chain("s", "charge", "review", "e")
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _run(engine: TestEngine) -> tuple[int, int, int]:
    """One instance completed (a failed attempt, a user task), one terminated after an
    incident, one still running at ``charge``."""
    engine.deploy(WORK)
    done = engine.start("p", business_key="done").key
    failed = engine.start("p").key
    engine.clock.advance(timedelta(minutes=5))
    running = engine.start("p").key
    [job] = engine.jobs(instance_key=done)
    engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
    engine.fail_job(job.job_key, "flaky", retries=1, retry_after=timedelta(seconds=1))
    engine.clock.advance(timedelta(seconds=2))
    [job] = engine.jobs(instance_key=done)
    engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
    engine.complete_job(job.job_key)
    [task] = engine.user_tasks(instance_key=done)
    engine.clock.advance(timedelta(minutes=10))
    engine.complete_user_task(task.user_task_key, user="ann")
    [job] = engine.jobs(instance_key=failed)
    engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
    engine.fail_job(job.job_key, "card declined", retries=0)
    [incident] = engine.incidents(instance_key=failed)
    engine.clock.advance(timedelta(minutes=1))
    engine.retry(incident.incident_key, retries=1)
    engine.cancel(failed)
    return done, failed, running


def _snapshot(
    engine: TestEngine, keys: list[int]
) -> tuple[list[InstanceFact], list[ElementFact], list[IncidentFact], object]:
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=1)
    with engine.store.transaction() as tx:
        facts = tx.facts_of(keys)
        reads = (
            tx.throughput("p", [], since, until, timedelta(hours=1)),
            tx.cycle_times("p", [1], since, until),
            tx.element_stats("p", [], since, until),
            tx.error_rate("p", [1], since, until),
        )
    return (*facts, reads)


def test_the_live_facts_follow_the_history_and_equal_a_rebuild() -> None:
    engine = TestEngine(start=T0)
    try:
        done, failed, running = _run(engine)
        live = _snapshot(engine, [done, failed, running])
        instances, elements, incidents, _ = live
        by_key = {fact.instance_key: fact for fact in instances}
        assert by_key[done].outcome == "completed"
        assert by_key[done].business_key == "done"
        assert by_key[done].duration_us == (15 * 60 + 2) * 10**6
        assert by_key[failed].outcome == "terminated" and by_key[failed].incidents == 1
        assert by_key[running].outcome == "active" and by_key[running].ended_at is None
        charge = [e for e in elements if e.element_id == "charge" and e.instance_key == done]
        assert [(e.retries, e.outcome) for e in charge] == [(1, "completed")]
        [review] = [e for e in elements if e.element_id == "review" and e.instance_key == done]
        assert review.completed_by == "ann" and review.element_type == "userTask"
        assert review.duration_us == 10 * 60 * 10**6
        [incident] = incidents
        assert (incident.instance_key, incident.element_id) == (failed, "charge")
        assert incident.resolved_at == T0 + timedelta(minutes=16, seconds=2)

        with engine.store.transaction() as tx:
            assert rebuild_facts(tx, batch=2) == 3
        assert _snapshot(engine, [done, failed, running]) == live
        assert rebuild_facts_in_steps(engine.store.transaction, batch=1) == 3
        assert _snapshot(engine, [done, failed, running]) == live
    finally:
        engine.close()


def test_the_open_reads_page_through_the_running_ones_oldest_first() -> None:
    engine = TestEngine(start=T0)
    try:
        engine.deploy(WORK)
        keys = []
        for _ in range(5):
            keys.append(engine.start("p").key)
            engine.clock.advance(timedelta(minutes=1))
        engine.cancel(keys[1])
        cutoff = T0 + timedelta(minutes=3, seconds=30)
        with engine.store.transaction() as tx:
            first = tx.open_instance_facts("p", 1, cutoff, 2)
            last = first[-1]
            rest = tx.open_instance_facts("p", 1, cutoff, 2, (last.started_at, last.instance_key))
            elements = tx.open_element_facts("p", 1, "charge", cutoff, 10)
            assert tx.open_instance_facts("p", 2, cutoff, 10) == []
        assert [f.instance_key for f in first] == [keys[0], keys[2]]
        assert [f.instance_key for f in rest] == [keys[3]]
        assert [e.instance_key for e in elements] == [keys[0], keys[2], keys[3]]
        assert all(e.ended_at is None and e.element_type == "serviceTask" for e in elements)
    finally:
        engine.close()


def test_retention_removes_the_facts_and_keeps_the_rollups() -> None:
    engine = TestEngine(start=T0)
    try:
        done, failed, running = _run(engine)
        since, until = T0 - timedelta(days=1), T0 + timedelta(days=1)
        with engine.store.transaction() as tx:
            before = tx.throughput("p", [], since, until, timedelta(days=1))
        engine.clock.advance(timedelta(days=40))
        report = sweep_ended_instances(engine.store, timedelta(days=30), now=engine.clock.now())
        assert report.deleted == 2
        with engine.store.transaction() as tx:
            instances, elements, incidents = tx.facts_of([done, failed, running])
            assert [f.instance_key for f in instances] == [running]
            assert {e.instance_key for e in elements} == {running}
            assert incidents == []
            assert tx.throughput("p", [], since, until, timedelta(days=1)) == before
    finally:
        engine.close()


def test_an_engine_without_analytics_writes_no_facts() -> None:
    engine = TestEngine(start=T0, analytics=False)
    try:
        engine.deploy(WORK)
        key = engine.start("p").key
        with engine.store.transaction() as tx:
            assert tx.facts_of([key]) == ([], [], [])
    finally:
        engine.close()


def test_the_facts_follow_a_migration_and_equal_a_rebuild() -> None:
    renamed = WORK.replace('"review"', '"approve"').replace("_review_", "_approve_")
    engine = TestEngine(start=T0)
    try:
        engine.deploy(WORK)
        before = engine.start("p").key  # completes 'charge' on version 1, then migrates
        waiting = engine.start("p").key  # still at 'charge' when it migrates
        [job] = engine.jobs(instance_key=before)
        engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
        engine.clock.advance(timedelta(seconds=30))
        engine.complete_job(job.job_key)
        engine.deploy(renamed)
        engine.clock.advance(timedelta(minutes=3))
        plan = engine.migration_plan("p", 1, 2, {"review": "approve"})
        engine.migrate(plan, [before, waiting])
        with engine.store.transaction() as tx:
            instances, elements, _ = tx.facts_of([before, waiting])
        assert {(i.instance_key, i.version) for i in instances} == {(before, 2), (waiting, 2)}
        running = {
            (e.instance_key, e.element_id, e.version) for e in elements if e.ended_at is None
        }
        assert running == {(before, "approve", 2), (waiting, "charge", 2)}
        [charged] = [e for e in elements if e.instance_key == before and e.element_id == "charge"]
        assert charged.version == 1  # it ran before the migration
        [task] = engine.user_tasks(instance_key=before)
        engine.clock.advance(timedelta(minutes=2))
        engine.complete_user_task(task.user_task_key, user="ann")
        live = _snapshot(engine, [before, waiting])
        with engine.store.transaction() as tx:
            assert rebuild_facts(tx, batch=1) == 2
        assert _snapshot(engine, [before, waiting]) == live
    finally:
        engine.close()


def test_a_job_completed_in_the_instant_it_began_leaves_no_row_as_in_a_rebuild() -> None:
    engine = TestEngine(start=T0)
    try:
        engine.deploy(WORK)
        key = engine.start("p").key  # 'charge' begins at T0, in this command's batch
        [job] = engine.jobs(instance_key=key)
        engine.lock_job(job.job_key, worker="w", timeout=timedelta(minutes=1))
        engine.complete_job(job.job_key)  # a later batch, the same virtual instant
        with engine.store.transaction() as tx:
            _, elements, _ = tx.facts_of([key])
            stats = tx.element_stats("p", [], T0 - timedelta(days=1), T0 + timedelta(days=1))
        assert [e.element_id for e in elements] == ["review"]  # 'charge' took no time
        [charge] = [s for s in stats if s.element_id == "charge"]
        assert (charge.completed, charge.total_ms) == (1, 0.0)  # counted in the rollups
        live = _snapshot(engine, [key])
        with engine.store.transaction() as tx:
            assert rebuild_facts(tx, batch=1) == 1
        assert _snapshot(engine, [key]) == live
    finally:
        engine.close()
