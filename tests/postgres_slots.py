"""Wait for a free connection slot of the shared PostgreSQL server instead of failing.

The test server allows 100 connections to every suite that runs on it at once (two runs of
this suite, and other checkouts' suites). When they are all taken, a new connection is
refused with "sorry, too many clients already" and the test that asked for it would fail for
what other processes did. :func:`wait_for_free_slots` makes psycopg, in this process, try
again with a growing pause for up to two minutes before it gives up; any other connection
error fails at once as before. The test process calls it when it loads the PostgreSQL
fixtures (``postgres_fixtures.py``); the worker processes the tests start call it themselves.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

PATIENCE = 120.0
"""Seconds to wait for a free slot before the refusal is raised after all."""

_FULL = ("too many clients already", "remaining connection slots are reserved")


def wait_for_free_slots() -> None:
    """Make psycopg's ``connect`` wait for a free connection slot (idempotent)."""
    if getattr(psycopg.connect, "waits_for_slots", False):
        return
    refusing = psycopg.Connection.connect

    def connect(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        deadline = time.monotonic() + PATIENCE
        pause = 0.05
        while True:
            try:
                return refusing(*args, **kwargs)
            except psycopg.OperationalError as exc:
                if not any(text in str(exc) for text in _FULL) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    connect.waits_for_slots = True  # type: ignore[attr-defined]
    # SQLAlchemy's dialect calls the module's connect(); the wake-up listener does too.
    psycopg.connect = connect
