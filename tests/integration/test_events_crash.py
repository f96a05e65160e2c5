"""Kill the engine while timers are due and messages are buffered: none lost, none twice."""

from __future__ import annotations

import collections
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from legato import Engine

HERE = Path(__file__).parent
COUNT = 40
KILLS = 8


def _spawn(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "events_worker.py"), url, str(COUNT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kills_lose_no_timer_or_message_and_fire_none_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    rng = random.Random(7)
    for _ in range(KILLS):
        worker = _spawn(url)
        time.sleep(rng.uniform(0.4, 1.4))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    final = _spawn(url)
    out, err = final.communicate(timeout=240)
    assert final.returncode == 0, err
    assert "idle" in out

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
        assert engine.replay(info.key).to_json() == engine.state(info.key).to_json()
    with engine.store.transaction() as tx:
        assert tx.list_timers() == []
        assert tx.claim_due_timers(engine.clock.now(), 10, engine.clock.now()) == []
    engine.close()
