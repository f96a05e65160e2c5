"""Kill the engine while timers are due and messages are buffered: none lost, none twice.

Each kill lands at a point named in advance (see ``crash_points.py``): amid the publishing
of the messages, amid the starts, just before and just after the commit of a firing of due
timers and of a correlation of buffered messages, before the commit of a batch of jobs, and
inside a handler. So every kill interrupts work by construction, whatever the machine's
speed.
"""

from __future__ import annotations

import collections
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from integration.crash_points import KillPoint, assert_killed_at, run_worker
from legato import Engine

# A crash loop: a dozen processes killed one after another, on each store.
pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
COUNT = 40

# Batches of 10 (40 timers, 40 buffered messages, 80 jobs): every kill that waits for a
# firing or a correlation finds one left, and the last kill leaves jobs for the last run.
KILLS = [
    KillPoint.parse(point)
    for point in (
        "publish:commit:20",  # before the 20th message is buffered
        "starts:commit:50",  # amid the starts
        "timers:commit:1:timers",  # before the commit of the first firing of due timers
        "timers:committed:1:timers",  # just after a firing committed
        "timers:commit:2:timers",
        "jobs:commit:1:messages",  # before a correlation of buffered messages commits
        "jobs:committed:1:messages",
        "jobs:handler:7",
        "jobs:commit:2:jobs",
    )
]


def _run(url: str, kill_at: KillPoint | None) -> CompletedProcess[str]:
    return run_worker(HERE / "events_worker.py", [url, str(COUNT)], kill_at)


def _buffered(engine: Engine) -> int:
    with engine.store.transaction() as tx:
        now = engine.clock.now()
        return sum(len(tx.find_messages("go", f"k{i}", now)) for i in range(COUNT))


def test_kills_lose_no_timer_or_message_and_fire_none_twice(fresh_url: str) -> None:
    url = fresh_url
    for point in KILLS:
        assert_killed_at(_run(url, point), point)
        engine = Engine(url)
        if point.phase == "publish":
            assert 0 < _buffered(engine) < COUNT, "the kill must interrupt the publishing"
        if point.phase == "starts":
            assert 0 < len(engine.instances(limit=10 * COUNT)) < 2 * COUNT
        engine.close()
    engine = Engine(url)
    statuses = [i.status for i in engine.instances(limit=10 * COUNT)]
    engine.close()
    assert statuses.count("completed") < 2 * COUNT, "the kills must leave work for the last run"

    final = _run(url, None)
    assert final.returncode == 0, final.stderr
    assert "idle" in final.stdout

    engine = Engine(url)
    instances = engine.instances(limit=10 * COUNT)
    keys = sorted(i.business_key or "" for i in instances)
    assert keys == sorted([f"m{i}" for i in range(COUNT)] + [f"t{i}" for i in range(COUNT)])
    assert all(i.status == "completed" for i in instances)
    for info in instances:
        kinds = collections.Counter(h.event_type for h in engine.history(info.key))
        if info.process_id == "timed":
            assert kinds["TimerScheduled"] == 1 and kinds["TimerTriggered"] == 1
        else:
            assert kinds["MessageCorrelated"] == 1
            variables = engine.instance(info.key).variables
            assert variables["i"] == int(variables["key"][1:])
        assert kinds["JobCompleted"] == 1
        assert engine.replay(info.key).to_json() == engine.state(info.key).to_json()
    with engine.store.transaction() as tx:
        assert tx.list_timers() == []
        assert tx.claim_due_timers(engine.clock.now(), 10, engine.clock.now()) == []
    assert engine.jobs() == []
    engine.close()
