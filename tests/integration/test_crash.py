"""Kill the engine with SIGKILL at chosen points; nothing is lost and nothing applied twice.

Each kill lands at a point named in advance (see ``crash_points.py``): while instances are
being started, inside a handler call, just before and just after the commit of a batch of
completed jobs, at different depths of the work. So every kill interrupts work by
construction, whatever the machine's speed, and the test checks that it did.
"""

from __future__ import annotations

import collections
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from integration.crash_points import KillPoint, assert_killed_at, run_worker
from legato import Engine
from legato.store.rebuild import rebuild_facts

# A crash loop: a dozen processes killed one after another, on each store.
pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
COUNT = 150
JOBS = 4 * COUNT  # a, b, c and d of every instance

# Batches of 10 jobs: the kills below let at most about 430 of the 600 jobs commit, so work
# is left for the next process at every kill.
KILLS = [
    KillPoint.parse(point)
    for point in (
        "starts:commit:40",  # before the commit of the 40th start: the rest are not started
        "jobs:handler:5",  # inside a handler, after its side effect: the batch is lost
        "jobs:commit:3:jobs",  # before the commit of the third batch of completed jobs
        "jobs:committed:4:jobs",  # just after the fourth batch committed
        "jobs:handler:47",
        "jobs:commit:1:jobs",
        "jobs:committed:9:jobs",
        "jobs:handler:1",
        "jobs:commit:12:jobs",
        "jobs:committed:1:jobs",
        "jobs:handler:80",
        "jobs:commit:6:jobs",
    )
]


def _run(url: str, side_effects: Path, kill_at: KillPoint | None) -> CompletedProcess[str]:
    return run_worker(HERE / "crash_worker.py", [url, str(COUNT), str(side_effects)], kill_at)


def _instances(url: str) -> list[str]:
    engine = Engine(url)
    try:
        return [i.status for i in engine.instances(limit=10 * COUNT)]
    finally:
        engine.close()


def test_sigkill_at_chosen_points_loses_nothing_and_applies_nothing_twice(
    fresh_url: str, tmp_path: Path
) -> None:
    url = fresh_url
    side_effects = tmp_path / "side-effects.txt"
    for number, point in enumerate(KILLS):
        assert_killed_at(_run(url, side_effects, point), point)
        if number == 0:
            # It interrupted the starts: some instances exist, not all.
            assert 0 < len(_instances(url)) < COUNT
    statuses = _instances(url)
    assert statuses.count("completed") < COUNT, "the kills must leave work for the last run"

    final = _run(url, side_effects, None)
    assert final.returncode == 0, final.stderr
    assert "idle" in final.stdout

    engine = Engine(url)
    instances = engine.instances(limit=10 * COUNT)
    # Every start went through exactly once, whatever the kills repeated.
    assert sorted(i.business_key or "" for i in instances) == sorted(f"b{i}" for i in range(COUNT))
    assert all(i.status == "completed" for i in instances), [i.status for i in instances]
    for info in instances:
        history = engine.history(info.key)
        assert [h.position for h in history] == list(range(1, len(history) + 1))
        completed = collections.Counter(
            h.details["key"] for h in history if h.event_type == "ElementCompleted"
        )
        assert max(completed.values()) == 1, "an element instance completed twice"
        jobs_done = collections.Counter(
            h.details["job_key"] for h in history if h.event_type == "JobCompleted"
        )
        assert sorted(jobs_done.values()) == [1, 1, 1, 1]
        assert [h.element_id for h in history if h.event_type == "ElementCompleted"].count("d") == 1
        assert engine.replay(info.key).to_json() == engine.state(info.key).to_json()
    # Handlers ran at least once per job (at-least-once), and again for every call whose
    # outcome a kill threw away: a kill inside a handler, or before a batch's commit.
    calls = [line.split() for line in side_effects.read_text().splitlines()]
    assert len({key for key, _ in calls}) == JOBS
    lost = [p for p in KILLS if p.point == "handler" or (p.point == "commit" and p.table)]
    assert len(calls) - JOBS >= len(lost)
    assert engine.jobs() == []
    # The analytics facts were written by the same transactions as the history: they equal
    # what a rebuild from the history gives.
    keys = [info.key for info in instances]
    assert _facts(engine, keys) == _rebuilt(engine, keys)
    engine.close()


def _facts(engine: Engine, keys: list[int]) -> object:
    since, until = datetime.now(UTC) - timedelta(days=2), datetime.now(UTC) + timedelta(days=1)
    with engine.store.transaction() as tx:
        return (
            tx.facts_of(keys),
            tx.throughput("crash", [], since, until, timedelta(hours=1)),
            tx.cycle_times("crash", [], since, until),
            tx.element_stats("crash", [], since, until),
        )


def _rebuilt(engine: Engine, keys: list[int]) -> object:
    with engine.store.transaction() as tx:
        rebuild_facts(tx)
    return _facts(engine, keys)
