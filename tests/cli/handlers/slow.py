"""Handlers for the shutdown and hang tests of ``legato serve`` / ``legato worker``.

``LEGATO_TEST_LOG`` names a file that gets ``start KEY`` and ``end KEY`` lines; ``work``
sleeps ``LEGATO_TEST_PAUSE`` seconds (1 by default) between them.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import legato


def _note(what: str, job: legato.Job) -> None:
    with Path(os.environ["LEGATO_TEST_LOG"]).open("a") as out:
        out.write(f"{what} {job.key}\n")
        out.flush()
        os.fsync(out.fileno())


@legato.handler("work", timeout=timedelta(minutes=5))
def work(job: legato.Job) -> dict[str, object]:
    _note("start", job)
    time.sleep(float(os.environ.get("LEGATO_TEST_PAUSE", "1")))
    _note("end", job)
    return {"worked": True}


@legato.handler("hang", timeout=timedelta(milliseconds=500))
def hang(job: legato.Job) -> None:
    _note("start", job)
    time.sleep(3600)


@legato.handler("normal", timeout=timedelta(seconds=30))
def normal(job: legato.Job) -> dict[str, object]:
    return {"normal": True}


@legato.handler("hang-isolated", timeout=timedelta(milliseconds=500), isolated=True)
def hang_isolated(job: legato.Job) -> None:
    time.sleep(3600)


@legato.handler("fail-isolated", timeout=timedelta(seconds=30), isolated=True)
def fail_isolated(job: legato.Job) -> None:
    raise ValueError(f"no account for {job.variables.get('customer')}")


@legato.handler("ok-isolated", timeout=timedelta(seconds=30), isolated=True)
def ok_isolated(job: legato.Job, context: legato.JobContext) -> dict[str, object]:
    return {"pid": os.getpid(), "attempt": context.attempt}
