"""An engine node for the multi-node fault tests: ``Engine(url).serve()`` with handlers.

Usage: node_worker.py DATABASE_URL NODE_NAME LOG_FILE [--job-pause S] [--batch N] [--poll S]
       [--concurrency N] [--hold-at CALL[,CALL...] --gate DIR]

Every handler call appends ``job_key element_id node`` to LOG_FILE, so a test can tell
at-least-once handler calls (a killed node's jobs run again elsewhere) from state transitions
applied in the engine (the history). SIGTERM stops the node gracefully.

The test sets the moments that matter instead of guessing them from the machine's speed:

* ``--hold-at 10,40 --gate DIR``: the node's 10th (and 40th) handler call creates the file
  ``DIR/held-10-NODE_NAME`` and waits, holding its jobs, until the test creates
  ``DIR/release-10`` (for at most HOLD_LIMIT seconds);
* ``LEGATO_TEST_KILL_AT=serve:handler:N`` (see ``crash_points.py``): the node kills itself
  with SIGKILL inside its Nth handler call, after logging it, and says first which job it
  dies in and until when its lease on that job runs.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import signal
import time
from datetime import timedelta
from pathlib import Path

from crash_points import KillSwitch

from legato import Engine, Job
from postgres_slots import wait_for_free_slots

HOLD_LIMIT = 120.0


def main() -> None:
    wait_for_free_slots()
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("log", type=Path)
    parser.add_argument("--job-pause", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--hold-at", type=lambda text: {int(n) for n in text.split(",")})
    parser.add_argument("--gate", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # A long job lease (60 s): within the test, a takeover can only come from the sweep
    # that finds a silent node dead (node_timeout 3 s).
    engine = Engine(
        args.url,
        worker_name=args.name,
        batch_size=args.batch,
        concurrency=args.concurrency,
        job_lease=timedelta(seconds=60),
    )
    kill = KillSwitch(engine)
    numbers = itertools.count(1)  # thread-safe: handlers may run side by side

    def work(job: Job) -> dict[str, object]:
        call = next(numbers)
        if args.hold_at and call in args.hold_at:
            hold(args.gate, call, args.name)
        if args.job_pause:
            time.sleep(args.job_pause)  # a call to some service
        # Written through to the kernel before a kill can come: a SIGKILL loses no written
        # data (no fsync needed; the tests kill processes, not the machine).
        with args.log.open("a") as out:
            out.write(f"{job.key} {job.element_id} {args.name}\n")
        deadline = job.context.deadline.isoformat() if job.context and job.context.deadline else ""
        kill.handler_called(f"in job {job.key} leased until {deadline}")
        return {f"done_{job.element_id}": args.name}

    engine.register("work", work, timeout=timedelta(seconds=60))
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    kill.enter("serve")
    print("serving", flush=True)
    engine.serve(
        poll_interval=args.poll,
        heartbeat_interval=timedelta(seconds=0.5),
        node_timeout=timedelta(seconds=3),
    )
    engine.close()


def hold(gate: Path, call: int, name: str) -> None:
    """Say that this node is in its handler call number ``call``; wait for the release."""
    (gate / f"held-{call}-{name}").touch()
    release = gate / f"release-{call}"
    deadline = time.monotonic() + HOLD_LIMIT
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    main()
