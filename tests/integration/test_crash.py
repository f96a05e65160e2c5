"""Kill the engine with SIGKILL at random moments; nothing is lost and nothing applied twice."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from legato import Engine

HERE = Path(__file__).parent
COUNT = 150
KILLS = 12


def _spawn(url: str, side_effects: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(HERE / "crash_worker.py"), url, str(COUNT), str(side_effects)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_sigkill_at_random_points_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    side_effects = tmp_path / "side-effects.txt"
    rng = random.Random(20261129)
    for _ in range(KILLS):
        worker = _spawn(url, side_effects)
        time.sleep(rng.uniform(0.4, 1.2))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    interrupted = Engine(url)
    unfinished = COUNT - len(interrupted.instances(status="completed", limit=10 * COUNT))
    interrupted.close()
    assert unfinished > 0, "the kills must interrupt work for this test to mean anything"
    final = _spawn(url, side_effects)
    out, err = final.communicate(timeout=240)
    assert final.returncode == 0, err
    assert "idle" in out

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
    # Handlers ran at least once per job (at-least-once); some ran twice because of the kills.
    calls = side_effects.read_text().split("\n")
    assert len({line.split()[0] for line in calls if line}) == 4 * COUNT
    assert engine.jobs() == []
    engine.close()
