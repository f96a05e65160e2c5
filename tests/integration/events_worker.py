"""A process the event crash test kills: timers fall due and messages wait in the buffer.

Usage: events_worker.py DATABASE_URL COUNT

It publishes COUNT messages (each with a message id, kept for an hour), starts COUNT instances
that wait for one of them after a job, and COUNT instances that wait on a timer, fires the
timers as they fall due, then runs the jobs until every instance ended (and fails if all that
takes longer than SERVE_LIMIT seconds).

With ``LEGATO_TEST_KILL_AT`` (see ``crash_points.py``) it kills itself at that point; its
phases are ``publish``, ``starts``, ``timers`` (until every timer fired) and ``jobs``. The
timers go first so that a kill point in either phase is reached with work left in it
whatever the kills before it let through.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from crash_points import KillSwitch

from legato import Engine, Job
from postgres_slots import wait_for_free_slots

MODEL = Path(__file__).with_name("events_model.bpmn")
SERVE_LIMIT = 180.0


def main() -> None:
    wait_for_free_slots()
    url, count = sys.argv[1], int(sys.argv[2])
    # A short lease: jobs a killed run held are free again a second after it died.
    engine = Engine(url, batch_size=10, job_lease=timedelta(seconds=1))
    engine.deploy(MODEL)
    kill = KillSwitch(engine)

    def work(job: Job) -> None:
        kill.handler_called(f"in job {job.key}")

    engine.register("work", work, timeout=timedelta(seconds=1))
    kill.enter("publish")
    for i in range(count):
        engine.publish_message(
            "go", f"k{i}", {"i": i}, time_to_live=timedelta(hours=1), message_id=f"m{i}"
        )
    kill.enter("starts")
    for i in range(count):
        engine.start("messaged", {"key": f"k{i}"}, business_key=f"m{i}", request_id="start")
        engine.start("timed", business_key=f"t{i}", request_id="start")
    deadline = time.monotonic() + SERVE_LIMIT
    kill.enter("timers")
    while _timers_left(engine):
        if not engine.fire_due_timers():
            _wait(deadline, "timers still waiting")  # they fall due 0.3 s after the start
    kill.enter("jobs")
    while _active(engine):
        if not engine.run_once():
            _wait(deadline, "instances still active")
    print("idle", flush=True)


def _timers_left(engine: Engine) -> bool:
    with engine.store.transaction() as tx:
        return bool(tx.list_timers())


def _active(engine: Engine) -> bool:
    with engine.store.transaction() as tx:
        return tx.count_instances(status="active") > 0


def _wait(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        sys.exit(f"{what} after {SERVE_LIMIT} s")
    time.sleep(0.01)


if __name__ == "__main__":
    main()
