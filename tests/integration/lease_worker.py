"""An engine node for the job-lease tests: ``Engine(url).serve()`` with logged handlers.

Usage: lease_worker.py DATABASE_URL NODE_NAME LOG_FILE [options]

Two job types: ``hold`` waits until the file ``--gate`` exists (no timeout), ``work`` sleeps
``--pause`` seconds under a ``--timeout``. Every call appends ``start KEY TYPE NODE`` when it
begins and ``end KEY TYPE NODE`` when it returns, so a test counts handler calls (side
effects) per job. SIGTERM stops the node gracefully.
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
    parser.add_argument("--gate", type=Path, required=True)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--node-timeout", type=float, default=60.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    engine = Engine(
        args.url,
        worker_name=args.name,
        concurrency=args.concurrency,
        job_lease=timedelta(seconds=args.lease),
    )

    def note(what: str, job: Job) -> None:
        with args.log.open("a") as out:
            out.write(f"{what} {job.key} {job.type} {args.name}\n")
            out.flush()
            os.fsync(out.fileno())

    def hold(job: Job) -> None:
        note("start", job)
        while not args.gate.exists():
            time.sleep(0.02)
        note("end", job)

    def work(job: Job) -> None:
        note("start", job)
        time.sleep(args.pause)  # a call to some service
        note("end", job)

    engine.register("hold", hold)
    engine.register("work", work, timeout=timedelta(seconds=args.timeout))
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    print("serving", flush=True)
    engine.serve(
        poll_interval=0.05,
        heartbeat_interval=timedelta(seconds=0.5),
        node_timeout=timedelta(seconds=args.node_timeout),
    )
    engine.close()


if __name__ == "__main__":
    main()
