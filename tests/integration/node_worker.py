"""An engine node for the multi-node fault tests: ``Engine(url).serve()`` with handlers.

Usage: node_worker.py DATABASE_URL NODE_NAME LOG_FILE [--job-pause S] [--batch N] [--poll S]

Every handler call appends ``job_key element_id node`` to LOG_FILE, so a test can tell
at-least-once handler calls (a killed node's jobs run again elsewhere) from state transitions
applied in the engine (the history). SIGTERM stops the node gracefully.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

from legato import Engine, Job


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("log", type=Path)
    parser.add_argument("--job-pause", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = Engine(args.url, worker_name=args.name, batch_size=args.batch)

    def work(job: Job) -> dict[str, object]:
        if args.job_pause:
            time.sleep(args.job_pause)  # a call to some service: kills land inside
        with args.log.open("a") as out:
            out.write(f"{job.key} {job.element_id} {args.name}\n")
            out.flush()
            os.fsync(out.fileno())
        return {f"done_{job.element_id}": args.name}

    # A long job lease (60 s): within the test, a takeover can only come from the sweep
    # that finds a silent node dead (node_timeout 3 s).
    engine.register("work", work, timeout=timedelta(seconds=60))
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    print("serving", flush=True)
    engine.serve(
        poll_interval=args.poll,
        heartbeat_interval=timedelta(seconds=0.5),
        node_timeout=timedelta(seconds=3),
    )
    engine.close()


if __name__ == "__main__":
    main()
