"""The engine never switches the cyclic garbage collector off, and keeps its pauses short."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from bpmn_helpers import services_in_sequence
from legato.runtime.collector import YOUNG_THRESHOLD, CollectorPolicy
from legato.testing import TestEngine

TWO_TASKS = services_in_sequence(("a", "work"), ("b", "work"))


@pytest.fixture
def collector_state() -> Iterator[None]:
    """Each test starts with the collector on, nothing frozen and CPython's thresholds, and
    leaves it so."""
    threshold = gc.get_threshold()
    enabled = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    gc.set_threshold(700, threshold[1], threshold[2])
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    if enabled:
        gc.enable()
    else:
        gc.disable()


def _engine(seen: list[bool]) -> TestEngine:
    engine = TestEngine()
    engine.batch_size = 50
    engine.deploy(TWO_TASKS)

    def work(job: Any) -> dict[str, int]:
        seen.append(gc.isenabled())
        return {"n": 1}

    engine.register("work", work)
    return engine


def test_the_collector_stays_on_while_batches_run(collector_state: None) -> None:
    seen: list[bool] = []
    engine = _engine(seen)
    try:
        engine.start_many("p", [{"i": i} for i in range(100)])
        assert gc.isenabled()
        assert engine.run_until_idle() == 200
    finally:
        engine.close()
    assert gc.isenabled()
    assert len(seen) == 200 and all(seen)  # every handler ran with the collector on


def test_a_process_that_switched_the_collector_off_keeps_it_off(collector_state: None) -> None:
    gc.disable()
    seen: list[bool] = []
    engine = _engine(seen)
    try:
        engine.start_many("p", [{"i": i} for i in range(100)])
        assert engine.run_until_idle() == 200
    finally:
        engine.close()
    assert not gc.isenabled()
    assert seen and not any(seen)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold()[0] == 700


def test_the_policy_freezes_what_survives_every_so_many_commands(
    collector_state: None,
) -> None:
    policy = CollectorPolicy(every=10)
    policy.ran(1)  # the first batch freezes what the process set up (definitions, imports)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    gc.unfreeze()
    policy.ran(9)
    assert gc.get_freeze_count() == 0
    survivor = [[i] for i in range(100)]
    policy.ran(1)
    assert gc.get_freeze_count() >= len(survivor)


def test_garbage_that_a_freeze_kept_alive_is_collected_after_so_many_freezes(
    collector_state: None,
) -> None:
    """A cycle that was alive at a freeze and dropped later is not kept for ever."""
    policy = CollectorPolicy(every=1, thaw_every=3)
    policy.ran(1)  # first freeze
    cycle: list[Any] = []
    cycle.append(cycle)
    watched = _Watched(cycle)
    policy.ran(1)  # the cycle is alive and frozen
    del cycle
    policy.ran(1)
    assert not watched.collected  # frozen: an ordinary collection does not see it
    policy.ran(1)  # the third freeze since the first one thaws everything first
    assert watched.collected


class _Watched:
    """Holds a weak reference to an object that sits in a reference cycle."""

    def __init__(self, target: list[Any]) -> None:
        self._marker = _Marker()
        target.append(self._marker)
        self._ref = weakref.ref(self._marker)
        del self._marker

    @property
    def collected(self) -> bool:
        return self._ref() is None


class _Marker:
    pass


def test_a_threshold_the_process_set_is_kept(collector_state: None) -> None:
    gc.set_threshold(1234)
    CollectorPolicy().ran(1)
    assert gc.get_threshold()[0] == 1234


def test_full_collections_do_not_scan_the_cached_states(collector_state: None) -> None:
    """Once the engine froze them, the cached states are out of the collector's generations
    (a full collection does not visit them); thawed, they are back in."""
    engine = TestEngine()
    engine.deploy(TWO_TASKS)
    try:
        keys = []
        for _ in range(5):
            keys += [info.key for info in engine.start_many("p", [{"i": i} for i in range(200)])]
        cached = engine._executor.cached_state(keys[0])
        assert cached is not None
        assert not _tracked(cached)  # frozen: in no generation a collection scans
        gc.unfreeze()
        assert _tracked(cached)
    finally:
        engine.close()


def _tracked(target: object) -> bool:
    """Whether ``target`` is in one of the generations that collections scan."""
    return any(candidate is target for candidate in gc.get_objects())


def test_a_closed_engine_leaves_nothing_frozen(collector_state: None) -> None:
    seen: list[bool] = []
    engine = _engine(seen)
    engine.start_many("p", [{"i": i} for i in range(200)])
    assert engine.run_until_idle() == 400
    assert gc.get_freeze_count() > 0  # the policy froze what survived
    gone = weakref.ref(engine)
    engine.close()
    assert gc.get_freeze_count() == 0
    del engine
    gc.collect()
    assert gone() is None  # nothing frozen keeps the closed engine alive
