"""Migration batches: many instances migrated durably, with progress, failures, a rate limit,
pause, resume and cancel (every store)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpmn_helpers import chain, process
from legato import InstanceFilter, InvalidCommandError, NotFoundError
from legato.testing import TestEngine

V1 = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:endEvent id="e"/>'
    + chain("s", "review", "e")
)
V2 = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:endEvent id="done"/>'
    + chain("s", "review", "done")
)


def _engine(count: int) -> tuple[TestEngine, list[int]]:
    engine = TestEngine()
    engine.deploy(V1)
    keys = [
        engine.start("p", business_key=f"c{i % 2}", variables={"i": i}).key for i in range(count)
    ]
    engine.deploy(V2)
    return engine, keys


def _versions(engine: TestEngine, keys: list[int]) -> list[int]:
    return [engine.instance(key).version for key in keys]


def test_a_batch_migrates_every_active_instance_of_the_source_version() -> None:
    engine, keys = _engine(230)
    ended = engine.start("p", version=1)
    engine.complete_user_task(engine.user_tasks(instance_key=ended.key)[0].user_task_key, {})
    newer = engine.start("p", version=2)
    plan = engine.migration_plan("p", 1, 2)
    batch = engine.migrate_in_batch(plan, by="olga")
    assert (batch.status, batch.total, batch.done, batch.pending) == ("running", 230, 0, 230)
    assert batch.spec["target_version"] == 2
    engine.run_until_idle()
    batch = engine.batch_operation(batch.key)
    assert (batch.status, batch.done, batch.failed, batch.pending) == ("completed", 230, 0, 0)
    assert batch.ended_at is not None
    assert set(_versions(engine, keys)) == {2}
    assert engine.instance(ended.key).version == 1
    assert engine.instance(newer.key).version == 2
    history = engine.history(keys[0])
    assert [e.details["by"] for e in history if e.event_type == "InstanceMigrated"] == ["olga"]
    assert [b.key for b in engine.batch_operations()] == [batch.key]


def test_instances_that_no_longer_fit_are_failed_with_their_reason() -> None:
    engine, keys = _engine(5)
    engine.suspend(keys[1])
    engine.complete_user_task(engine.user_tasks(instance_key=keys[3])[0].user_task_key, {})
    batch = engine.migrate_in_batch(engine.migration_plan("p", 1, 2), keys)
    batch = engine.run_batch_operation(batch.key)
    assert (batch.status, batch.done, batch.failed) == ("completed", 3, 2)
    failures = dict(engine.batch_failures(batch.key))
    assert sorted(failures) == [keys[1], keys[3]]
    assert "suspended" in failures[keys[1]]
    assert "completed" in failures[keys[3]]
    assert _versions(engine, keys) == [2, 1, 2, 1, 2]


def test_a_filter_selects_the_instances() -> None:
    engine, keys = _engine(10)
    plan = engine.migration_plan("p", 1, 2)
    batch = engine.migrate_in_batch(plan, filter=InstanceFilter(business_key="c1"))
    assert batch.total == 5
    engine.run_batch_operation(batch.key)
    assert _versions(engine, keys) == [1, 2] * 5
    with pytest.raises(InvalidCommandError, match=r"filter\.version"):
        engine.migrate_in_batch(plan, filter=InstanceFilter(process_id="p", version=2))
    with pytest.raises(InvalidCommandError, match="not both"):
        engine.migrate_in_batch(plan, keys, filter=InstanceFilter(business_key="c1"))
    with pytest.raises(InvalidCommandError, match="rate"):
        engine.migrate_in_batch(plan, keys, rate=0)


def test_a_paused_batch_waits_and_a_cancelled_one_ends() -> None:
    engine, keys = _engine(30)
    plan = engine.migration_plan("p", 1, 2)
    batch = engine.migrate_in_batch(plan, keys[:10])
    assert engine.pause_batch_operation(batch.key).status == "paused"
    with engine.store.transaction() as tx:
        assert [r.batch_key for r in tx.list_batch_operations(status="paused")] == [batch.key]
        assert tx.list_batch_operations(status="running") == []
    engine.run_until_idle()
    assert engine.batch_operation(batch.key).done == 0
    with pytest.raises(InvalidCommandError, match="is paused"):
        engine.pause_batch_operation(batch.key)
    engine.resume_batch_operation(batch.key)
    engine.run_until_idle()
    assert engine.batch_operation(batch.key).status == "completed"
    other = engine.migrate_in_batch(plan, keys[10:])
    assert engine.cancel_batch_operation(other.key).status == "cancelled"
    engine.run_until_idle()
    assert _versions(engine, keys) == [2] * 10 + [1] * 20
    with pytest.raises(InvalidCommandError, match="is cancelled"):
        engine.resume_batch_operation(other.key)
    with pytest.raises(NotFoundError):
        engine.batch_operation(12345)


def test_the_rate_limit_spaces_the_chunks_on_the_clock() -> None:
    engine, _ = _engine(200)
    batch = engine.migrate_in_batch(engine.migration_plan("p", 1, 2), rate=50)
    before = engine.clock.now()
    assert engine.run_batch_operation(batch.key).done == 200
    # Four chunks of 50, a second apart: the virtual clock moved three seconds.
    assert engine.clock.now() - before == timedelta(seconds=3)
