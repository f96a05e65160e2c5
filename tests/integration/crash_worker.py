"""A process the crash test kills with SIGKILL at random moments.

Usage: crash_worker.py DATABASE_URL COUNT SIDE_EFFECTS_FILE

It deploys the model, starts COUNT instances (each with its own request id, so a restart
that repeats a start gets the instance it already made) and runs their jobs. Every handler
call appends a line to SIDE_EFFECTS_FILE, so the test can tell at-least-once handler calls
from state transitions applied in the engine.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from legato import Engine, Job

MODEL = Path(__file__).with_name("crash_model.bpmn")


def main() -> None:
    url, count, side_effects = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    engine = Engine(url, batch_size=10)
    engine.deploy(MODEL)

    def work(job: Job) -> dict[str, object]:
        time.sleep(0.002)  # a call to some service: long enough for kills to land inside
        with side_effects.open("a") as out:
            out.write(f"{job.key} {job.element_id}\n")
            out.flush()
            os.fsync(out.fileno())
        return {job.element_id: True}

    engine.register("work", work, timeout=timedelta(seconds=1))
    for i in range(count):
        engine.start("crash", {"i": i}, business_key=f"b{i}", request_id=f"r{i}")
    engine.run_until_idle()
    print("idle", flush=True)


if __name__ == "__main__":
    main()
