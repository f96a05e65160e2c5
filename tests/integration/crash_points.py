"""Kill a worker process at a chosen point, so that a crash test's kill lands where it says.

A kill timed by the clock lands wherever the machine happens to be (on a fast machine often
after the work is done); a kill at a point lands there by construction. The worker scripts of
the crash tests read the point from the environment variable ``LEGATO_TEST_KILL_AT``::

    PHASE:handler:N          inside the Nth handler call, after its side effect
    PHASE:commit:N           before the Nth transaction commit reaches the database
    PHASE:committed:N        right after the Nth commit (when the next transaction begins)
    PHASE:commit:N:TABLE     before the commit of the Nth transaction that removed rows
                             from TABLE (jobs: jobs completed; timers: timers fired;
                             messages: buffered messages correlated)
    PHASE:committed:N:TABLE  right after that commit

Counting starts when the worker announces PHASE (:meth:`KillSwitch.enter`); the worker
scripts name their phases in their docstrings. Transactions are seen through the SQLAlchemy
engine of the engine's store (its ``begin`` and ``commit`` events), so nothing in Legato
knows about this. Just before it dies the process prints ``killed at POINT`` (and a detail,
e.g. the job in hand) on stdout, so the test can tell that the kill landed at its point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from legato import Engine
from legato.store.schema import metadata
from legato.store.sql import SqlStore

ENV = "LEGATO_TEST_KILL_AT"

POINTS = ("handler", "commit", "committed")


@dataclass(frozen=True, slots=True)
class KillPoint:
    """Where a worker kills itself: see the module docstring."""

    phase: str
    point: str
    count: int
    table: str | None = None

    @classmethod
    def parse(cls, text: str) -> KillPoint:
        parts = text.split(":")
        if len(parts) not in (3, 4) or parts[1] not in POINTS or not parts[2].isdigit():
            raise ValueError(f"not a kill point: {text!r} (see {__name__})")
        phase, point, count = parts[0], parts[1], int(parts[2])
        table = parts[3] if len(parts) == 4 else None
        if count < 1 or (table is not None and (point == "handler" or table not in TABLE_KEYS)):
            raise ValueError(f"not a kill point: {text!r} (see {__name__})")
        return cls(phase, point, count, table)

    def __str__(self) -> str:
        suffix = f":{self.table}" if self.table else ""
        return f"{self.phase}:{self.point}:{self.count}{suffix}"


TABLE_KEYS = {
    name: metadata.tables[name].primary_key.columns.keys()[0]
    for name in ("jobs", "timers", "messages")
}
"""The tables whose removed rows a kill point can wait for, with their key columns."""


def die(point: KillPoint, detail: str = "") -> None:
    """Say where, then SIGKILL this process (no cleanup, no flush of anything but stdout)."""
    print(f"killed at {point}{' ' + detail if detail else ''}", flush=True)
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillSwitch:
    """The kill point of this process (none without ``LEGATO_TEST_KILL_AT``)."""

    def __init__(self, engine: Engine, spec: str | None = None) -> None:
        text = os.environ.get(ENV, "") if spec is None else spec
        self.point = KillPoint.parse(text) if text else None
        self._lock = threading.Lock()
        self._armed = False
        self._seen = 0
        self._die_at_next_begin = False
        self._rows_at_begin: set[Any] = set()
        if self.point is not None and self.point.point != "handler":
            if not isinstance(engine.store, SqlStore):
                raise TypeError("transaction kill points need a SQL store")
            sa.event.listen(engine.store.engine, "begin", self._on_begin)
            sa.event.listen(engine.store.engine, "commit", self._on_commit)

    def enter(self, phase: str) -> None:
        """The worker enters ``phase``: the count of the kill point starts if it is its phase."""
        if self.point is not None and self.point.phase == phase:
            with self._lock:
                self._armed = True

    def handler_called(self, detail: str = "") -> None:
        """Called by a handler after its side effect: dies in the Nth call of the phase."""
        if self.point is None or self.point.point != "handler":
            return
        with self._lock:
            if not self._armed:
                return
            self._seen += 1
            if self._seen == self.point.count:
                die(self.point, detail)

    # -- transactions ---------------------------------------------------------------------------

    def _on_begin(self, connection: sa.Connection) -> None:
        assert self.point is not None
        if not self._armed:
            return
        if self._die_at_next_begin:
            die(self.point)
        if self.point.table is not None:
            # Runs after the store's own begin listener (SQLite's BEGIN IMMEDIATE), so this
            # reads inside the transaction: the rows as the last commit left them.
            self._rows_at_begin = self._rows(connection, self.point.table)

    def _on_commit(self, connection: sa.Connection) -> None:
        point = self.point
        assert point is not None
        if not self._armed:
            return
        if point.table is not None:
            # What this transaction removed: it is the only writer (one worker at a time).
            removed = self._rows_at_begin - self._rows(connection, point.table)
            if not removed:
                return
        self._seen += 1
        if self._seen != point.count:
            return
        if point.point == "commit":
            die(point)
        self._die_at_next_begin = True

    @staticmethod
    def _rows(connection: sa.Connection, table: str) -> set[Any]:
        # Straight on the driver connection, inside the store's transaction.
        dbapi_connection: Any = connection.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SELECT {TABLE_KEYS[table]} FROM {table}")
            return {row[0] for row in cursor.fetchall()}
        finally:
            cursor.close()


# -- the test's side ------------------------------------------------------------------------------


TESTS = Path(__file__).resolve().parent.parent


def worker_env(kill_at: KillPoint | None) -> dict[str, str]:
    """The environment of a worker process: its kill point, if any, and ``tests/`` on the
    path (for ``postgres_slots``)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop(ENV, None)
    if kill_at is not None:
        env[ENV] = str(kill_at)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env


def run_worker(
    script: Path, args: Sequence[str], kill_at: KillPoint | None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run a worker script to its end (or its kill point) and capture what it printed."""
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=worker_env(kill_at),
        timeout=timeout,
    )


def assert_killed_at(worker: subprocess.CompletedProcess[str], point: KillPoint) -> None:
    """The worker died at its kill point, before it was done (it prints ``idle`` when done)."""
    assert worker.returncode == -signal.SIGKILL, (str(point), worker.returncode, worker.stderr)
    assert f"killed at {point}" in worker.stdout, (str(point), worker.stdout, worker.stderr)
    assert "idle" not in worker.stdout, str(point)
