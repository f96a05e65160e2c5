"""SQLite specifics of the SQL store: engine, pragmas and write transactions.

SQLite serialises writers with one database-wide lock. Taking that lock at the start of
every transaction (``BEGIN IMMEDIATE``) rather than at the first write (``BEGIN DEFERRED``)
means two writers queue on ``busy_timeout`` instead of one failing with "database is
locked" when it tries to upgrade its read lock; it is also what makes "select due jobs, then
mark them activated" safe without row locks.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from legato.errors import StoreError

SYNCHRONOUS_MODES = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
"""The values ``PRAGMA synchronous`` accepts."""


def create_sqlite_engine(
    url: sa.URL, *, synchronous: str = "FULL", busy_timeout: timedelta = timedelta(seconds=5)
) -> sa.Engine:
    """An engine for a SQLite database with Legato's pragmas and transaction handling.

    Args:
        url: ``sqlite:///path`` for a file, ``sqlite://`` for a private in-memory database.
        synchronous: ``PRAGMA synchronous``. ``FULL`` (the default) fsyncs the write-ahead
            log at every commit, so a committed command survives a power cut; ``NORMAL``
            survives a crash of the process but may lose the last commits on power loss.
        busy_timeout: how long a writer waits for another connection's write lock.

    Raises:
        StoreError: if ``synchronous`` is not a SQLite synchronous mode.
    """
    mode = synchronous.upper()
    if mode not in SYNCHRONOUS_MODES:
        raise StoreError(f"synchronous must be one of {sorted(SYNCHRONOUS_MODES)}, not {mode!r}")
    # The store guards its one connection with a lock, so it may move between threads.
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if url.database in (None, "", ":memory:"):
        # Every connection to ":memory:" is a new empty database: share exactly one.
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)
    pragmas = (
        # First, so that the pragmas below wait for other connections' locks too.
        f"PRAGMA busy_timeout={int(busy_timeout.total_seconds() * 1000)}",
        f"PRAGMA synchronous={mode}",
        "PRAGMA foreign_keys=ON",
    )

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # The sqlite3 module's own transaction handling begins lazily and only before DML;
        # switch it off so that the BEGIN below is the only one (SQLAlchemy's documented
        # recipe for pysqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma).fetchall()
            _use_wal(cursor, busy_timeout)
        finally:
            cursor.close()

    def on_begin(connection: sa.Connection) -> None:
        # Straight on the driver connection: ``exec_driver_sql`` set up a result and ran
        # the statement events, twice the cost of the BEGIN itself, for every transaction. A
        # driver error is wrapped as SQLAlchemy would (the store translates those).
        dbapi_connection: Any = connection.connection.dbapi_connection
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(
                "BEGIN IMMEDIATE", (), exc, sqlite3.Error, dialect=connection.dialect
            ) from exc

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def _use_wal(cursor: Any, patience: timedelta) -> None:
    """Switch the file to write-ahead logging (a no-op once it is).

    Changing the journal mode takes an exclusive lock, and SQLite does not always wait for
    it with the busy handler: processes opening a new file together can get "database is
    locked" at once. So the switch is retried until ``patience`` runs out.
    """
    deadline = time.monotonic() + patience.total_seconds()
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
