"""How many transactions a single instance started and run alone takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from bpmn_helpers import services_in_sequence
from legato.store.sql import SqlStore
from legato.testing import TestEngine

TWO_TASKS = services_in_sequence(("a", "work"), ("b", "work"))


class _Counted:
    def __init__(self) -> None:
        self.begun = 0
        self.committed = 0


def _counting(engine: TestEngine) -> Iterator[_Counted]:
    store = engine.store
    if not isinstance(store, SqlStore):
        pytest.skip("counts SQL transactions")
    counted = _Counted()

    def begun(connection: Any) -> None:
        counted.begun += 1

    def committed(connection: Any) -> None:
        counted.committed += 1

    event.listen(store.engine, "begin", begun)
    event.listen(store.engine, "commit", committed)
    try:
        yield counted
    finally:
        event.remove(store.engine, "begin", begun)
        event.remove(store.engine, "commit", committed)


def _steady(engine: TestEngine) -> TestEngine:
    """``engine`` with its version chooser never reading the versions again on its own: its
    once-a-second refresh would add a transaction whenever a slow machine takes a second
    between two starts (what is counted here does not depend on the machine's speed)."""
    engine._versions.refresh = float("inf")
    return engine


@pytest.fixture
def engine() -> Iterator[TestEngine]:
    engine = _steady(TestEngine())
    engine.deploy(TWO_TASKS)
    engine.register("work", lambda job: {job.element_id: True})
    yield engine
    engine.close()


def test_an_instance_run_alone_commits_once_per_step_and_reads_nothing_more(
    engine: TestEngine,
) -> None:
    for _ in range(3):  # keys reserved, definitions and statements cached
        engine.start("p")
        engine.run_until_idle()
    for counted in _counting(engine):
        instance = engine.start("p")
        assert engine.run_until_idle() == 2
        # The start (it creates job a), a's outcome (it creates b), b's outcome (the
        # instance ends; the same transaction finds no further job): each commits before
        # the job it creates is handed out, and nothing else opens a transaction.
        assert (counted.begun, counted.committed) == (3, 3)
    assert engine.instance(instance.key).status == "completed"


def test_a_due_job_that_was_not_pushed_is_taken_by_the_last_commit() -> None:
    """A job created while the engine had no handler for its type waits in the table: the
    transaction that commits the outcome of the last pushed job finds it and holds it for
    this engine, so running on needs no transaction to look for it."""
    engine = _steady(TestEngine())
    engine.deploy(TWO_TASKS)
    try:
        first = engine.start("p")  # no handler yet: its job is not pushed
        engine.register("work", lambda job: {job.element_id: True})
        second = engine.start("p")
        engine.fire_due_timers()  # the first look for timers (then one per poll interval)
        sql = isinstance(engine.store, SqlStore)
        for counted in _counting(engine) if sql else iter([_Counted()]):
            assert engine.run_until_idle() == 4
            if sql:
                assert (counted.begun, counted.committed) == (4, 4)
        assert engine.instance(first.key).status == "completed"
        assert engine.instance(second.key).status == "completed"
    finally:
        engine.close()
