"""The testing kit on a database: a URL or a store of the test's choosing, or a factory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bpmn_helpers import chain, process, service
from legato import Engine
from legato.store.memory import MemoryStore
from legato.store.sql import SqlStore
from legato.testing import TestEngine, use_stores

THREE_DAYS = process(
    '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait">'
    "<bpmn:timerEventDefinition>"
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration>'
    '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>'
    + chain("s", "wait", "e")
)


def test_a_test_engine_on_a_database_url_keeps_the_virtual_clock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    engine = TestEngine(url)
    engine.deploy(THREE_DAYS)
    instance = engine.start("p")

    engine.clock.advance(timedelta(days=3))

    engine.assert_that(instance).is_completed().has_passed("wait")
    engine.close()
    with Engine(url) as reopened:  # it was the database, not memory
        assert reopened.instance(instance.key).status == "completed"


def test_a_test_engine_takes_a_given_store() -> None:
    store = MemoryStore()

    assert TestEngine(store=store).store is store


def test_a_url_and_a_store_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        TestEngine(f"sqlite:///{tmp_path / 'x.db'}", store=MemoryStore())


def test_use_stores_gives_each_test_engine_a_store_from_the_factory(tmp_path: Path) -> None:
    made: list[SqlStore] = []

    def new_store() -> SqlStore:
        made.append(SqlStore(f"sqlite:///{tmp_path / f'{len(made)}.db'}"))
        return made[-1]

    with use_stores(new_store):
        first, second = TestEngine(), TestEngine()
        inner = MemoryStore()
        with use_stores(lambda: inner):
            assert TestEngine().store is inner
        third = TestEngine()
    after = TestEngine()

    assert [first.store, second.store, third.store] == made
    assert isinstance(after.store, MemoryStore)
    for store in made:
        store.close()


def test_a_failed_assertion_names_the_jobs_no_handler_was_registered_for() -> None:
    engine = TestEngine()
    engine.deploy(
        process('<bpmn:startEvent id="s"/>' + service("charge", "charge-card")
                + '<bpmn:endEvent id="e"/>' + chain("s", "charge", "e"))
    )  # fmt: skip
    instance = engine.start("p")
    engine.run_until_idle()
    with pytest.raises(AssertionError) as failed:
        engine.assert_that(instance).is_completed()
    assert "no handler registered for the jobs waiting: type 'charge-card' (at 'charge')" in str(
        failed.value
    )
    engine.register("charge-card", lambda job: None)
    engine.run_until_idle()
    engine.assert_that(instance).is_completed()
