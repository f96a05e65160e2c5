"""Kill a migration batch with SIGKILL between and inside its chunks: every instance is
either migrated and marked done, or neither, and the batch resumes where it stopped."""

from __future__ import annotations

from pathlib import Path
from subprocess import CompletedProcess

import pytest

from integration.crash_points import KillPoint, assert_killed_at, run_worker
from legato import Engine

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
COUNT = 350  # four chunks of at most 100


def _run(url: str, mode: str, kill_at: KillPoint | None = None) -> CompletedProcess[str]:
    return run_worker(HERE / "migration_worker.py", [url, str(COUNT), mode], kill_at)


def _progress(url: str) -> tuple[int, int, list[int]]:
    """The batch's done count, the instances on version 2, and each instance's
    ``InstanceMigrated`` events."""
    engine = Engine(url)
    try:
        [batch] = engine.batch_operations()
        instances = engine.instances(limit=10 * COUNT)
        migrated = [
            sum(e.event_type == "InstanceMigrated" for e in engine.history(i.key))
            for i in instances
        ]
        return batch.done, sum(i.version == 2 for i in instances), migrated
    finally:
        engine.close()


def test_a_killed_batch_resumes_and_migrates_each_instance_once(fresh_url: str) -> None:
    setup = _run(fresh_url, "setup")
    assert setup.returncode == 0 and "ready" in setup.stdout, setup.stderr
    # Before the second chunk commits: the first chunk's 100 are migrated and marked.
    point = KillPoint.parse("migrate:commit:2:timers")
    assert_killed_at(_run(fresh_url, "migrate", point), point)
    done, on_v2, _ = _progress(fresh_url)
    assert done == on_v2 == 100
    # Just after the third chunk committed (the first run's second chunk was lost).
    point = KillPoint.parse("migrate:committed:2:timers")
    assert_killed_at(_run(fresh_url, "migrate", point), point)
    done, on_v2, _ = _progress(fresh_url)
    assert done == on_v2 == 300
    final = _run(fresh_url, "migrate")
    assert final.returncode == 0 and "idle" in final.stdout, final.stderr
    done, on_v2, migrated = _progress(fresh_url)
    assert done == on_v2 == COUNT
    assert migrated == [1] * COUNT
    engine = Engine(fresh_url)
    try:
        [batch] = engine.batch_operations()
        assert (batch.status, batch.failed) == ("completed", 0)
        # Each instance still waits at its task, with exactly one reminder timer.
        instance = engine.instances(limit=1)[0]
        assert len(engine.state(instance.key).timers) == 1
    finally:
        engine.close()
