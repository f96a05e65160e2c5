"""A process the crash test kills with SIGKILL at chosen points.

Usage: crash_worker.py DATABASE_URL COUNT SIDE_EFFECTS_FILE

It deploys the model, starts COUNT instances (each with its own request id, so a restart
that repeats a start gets the instance it already made) and runs their jobs. Every handler
call appends a line to SIDE_EFFECTS_FILE, so the test can tell at-least-once handler calls
from state transitions applied in the engine.

With ``LEGATO_TEST_KILL_AT`` (see ``crash_points.py``) it kills itself at that point; its
phases are ``starts`` (the COUNT starts) and ``jobs`` (running the jobs until idle).
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from crash_points import KillSwitch

from legato import Engine, Job
from postgres_slots import wait_for_free_slots

MODEL = Path(__file__).with_name("crash_model.bpmn")


def main() -> None:
    wait_for_free_slots()
    url, count, side_effects = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    # A short lease: jobs a killed run held are free again a second after it died.
    engine = Engine(url, batch_size=10, job_lease=timedelta(seconds=1))
    engine.deploy(MODEL)
    kill = KillSwitch(engine)

    def work(job: Job) -> dict[str, object]:
        # Written through to the kernel before the kill can come: a SIGKILL loses no
        # written data (no fsync needed; the test kills processes, not the machine).
        with side_effects.open("a") as out:
            out.write(f"{job.key} {job.element_id}\n")
        kill.handler_called(f"in job {job.key}")
        return {job.element_id: True}

    engine.register("work", work, timeout=timedelta(seconds=1))
    kill.enter("starts")
    for i in range(count):
        engine.start("crash", {"i": i}, business_key=f"b{i}", request_id=f"r{i}")
    kill.enter("jobs")
    run_to_the_end(engine)
    print("idle", flush=True)


def run_to_the_end(engine: Engine) -> None:
    """Run until no job is left. ``run_until_idle`` leaves the jobs another worker holds to
    it; here every other worker was killed, so their leases are waited out and their jobs
    run too."""
    while True:
        engine.run_until_idle()
        leases = [j.lease_until for j in engine.jobs(state="activated") if j.lease_until]
        if not leases:
            return
        time.sleep(max((min(leases) - engine.clock.now()).total_seconds(), 0.0) + 0.05)


if __name__ == "__main__":
    main()
