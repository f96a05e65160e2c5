"""A process the event crash test kills: timers fall due and messages wait in the buffer.

Usage: events_worker.py DATABASE_URL COUNT

It publishes COUNT messages (each with a message id, kept for an hour), starts COUNT instances
that wait for one of them after a job, and COUNT instances that wait on a timer, then serves
until every instance ended.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from legato import Engine

MODEL = Path(__file__).with_name("events_model.bpmn")


def main() -> None:
    url, count = sys.argv[1], int(sys.argv[2])
    engine = Engine(url, batch_size=10)
    engine.deploy(MODEL)
    engine.register("work", lambda job: time.sleep(0.002), timeout=timedelta(seconds=1))
    for i in range(count):
        engine.publish_message(
            "go", f"k{i}", {"i": i}, time_to_live=timedelta(hours=1), message_id=f"m{i}"
        )
    for i in range(count):
        engine.start("messaged", {"key": f"k{i}"}, business_key=f"m{i}", request_id="start")
        engine.start("timed", business_key=f"t{i}", request_id="start")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        engine.run_once()
        with engine.store.transaction() as tx:
            if tx.count_instances(status="active") == 0:
                break
        time.sleep(0.01)
    print("idle", flush=True)


if __name__ == "__main__":
    main()
