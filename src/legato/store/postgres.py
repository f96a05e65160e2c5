"""PostgreSQL specifics of the SQL store: the driver, the engine and schema creation.

The store's statements are the same SQLAlchemy Core as on SQLite; what differs is kept here
and in the PostgreSQL strategy of :mod:`legato.store.dialects` (``FOR UPDATE SKIP LOCKED`` on
the claims, ``ON CONFLICT`` from the PostgreSQL insert construct, ``COPY`` for a batch's rows).

Transactions run at PostgreSQL's default READ COMMITTED. That is enough for what the store
promises: claims of jobs and timers lock the rows they pick (``FOR UPDATE SKIP LOCKED``), so
two nodes never hand out the same row, and a saved instance carries the revision it was read
at (``UPDATE … WHERE revision = :old``), so a node that lost a race changes no row and rolls
back instead of overwriting the winner.

The tables live in the connection's ``search_path``: to keep several Legato databases in one
PostgreSQL database, give each its own schema, e.g.
``postgresql://user@host/db?options=-csearch_path%3Dlegato``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from legato.errors import StoreError

logger = logging.getLogger("legato.store")

DRIVER = "psycopg"
"""The DBAPI driver (psycopg 3); ``postgresql://`` URLs are mapped to it."""

SCHEMA_LOCK = 0x4C656761746F
"""The ``pg_advisory_xact_lock`` key under which a node creates or checks the schema (the
bytes of "Legato"). It is database-wide, so stores of different schemas in one database
only queue briefly for each other at start."""


def postgres_url(url: sa.URL) -> sa.URL:
    """``url`` with the psycopg driver (``postgresql://`` and ``postgres://`` map to it).

    Raises:
        StoreError: if the URL names another PostgreSQL driver.
    """
    # Read the driver from the URL itself: get_driver_name() answers SQLAlchemy's default
    # for a bare "postgresql://", which is psycopg2 before SQLAlchemy 2.1.
    driver = url.drivername.partition("+")[2]
    if driver not in ("", DRIVER):
        raise StoreError(
            f"unsupported PostgreSQL driver {driver!r}; use postgresql:// or "
            f"postgresql+{DRIVER}:// (psycopg 3)"
        )
    return url.set(drivername=f"postgresql+{DRIVER}")


def is_postgres_url(url: sa.URL) -> bool:
    """Whether ``url`` names a PostgreSQL database (any driver)."""
    return url.get_backend_name() in ("postgresql", "postgres")


def create_postgres_engine(url: sa.URL) -> sa.Engine:
    """An engine for a PostgreSQL database through psycopg 3.

    Raises:
        StoreError: if the URL names another driver or psycopg is not installed.
    """
    url = postgres_url(url)
    # Defaults that the URL's query can override: libpq waits for ever on an unreachable
    # host, and a name in pg_stat_activity tells the nodes' sessions from others.
    connect_args = {
        name: value for name, value in _CONNECT_DEFAULTS.items() if name not in url.query
    }
    options: dict[str, Any] = {
        "connect_args": connect_args,
        # A connection that the server or a proxy closed while it sat in the pool is
        # replaced at checkout instead of failing the first statement.
        "pool_pre_ping": True,
    }
    try:
        engine = sa.create_engine(url, **options)
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        raise StoreError(f"PostgreSQL needs psycopg 3: {exc}") from exc
    sa.event.listen(engine, "connect", _set_session_limits)
    return engine


_CONNECT_DEFAULTS: dict[str, Any] = {
    # libpq waits for ever on an unreachable host.
    "connect_timeout": 10,
    # A name in pg_stat_activity tells the nodes' sessions from others.
    "application_name": "legato",
    # TCP keepalives find a peer that vanished without closing its socket (a machine that
    # lost power, a partition) in about half a minute instead of the kernel's two hours.
    "keepalives": 1,
    "keepalives_idle": 15,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

SESSION_LIMITS = {"lock_timeout": "30s", "idle_in_transaction_session_timeout": "5min"}
"""Session settings of every store connection. A row lock that is not granted within 30 s
fails the transaction, which is then retried (a lost race, not a hang); a session that sits
in an open transaction for five minutes (a stuck node) is ended by the server, releasing its
row and advisory locks."""


def _set_session_limits(dbapi_connection: Any, _record: Any) -> None:
    # SET is transactional in PostgreSQL and psycopg opens a transaction for it; commit so
    # the settings outlive it, before SQLAlchemy takes the connection over.
    with dbapi_connection.cursor() as cursor:
        for name, value in SESSION_LIMITS.items():
            cursor.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    dbapi_connection.commit()


def lock_schema(connection: sa.Connection) -> None:
    """Wait for the schema lock until the current transaction ends.

    Nodes that start together would otherwise all see no tables and all try to create them;
    under the lock the first creates the schema and the others find it done. The lock is a
    transaction-level advisory lock, so a node that dies while holding it releases it.
    """
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))


def lock_id(name: str, scope: str = "") -> int:
    """The advisory-lock key of a named duty: a stable signed 64-bit number, the same in
    every node (Python's ``hash`` of a string differs per process). Advisory locks are
    database-wide, so the key includes ``scope`` (the Legato database's wake-up channel, one
    per schema): Legato databases that share a PostgreSQL database by schema sweep, expire
    and retain independently."""
    digest = hashlib.sha256(f"legato:{scope}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def wake_channel(schema: str) -> str:
    """The ``NOTIFY`` channel on which a transaction that creates due work wakes the idle
    nodes of the same Legato database: one per schema, since notifications are
    database-wide and Legato databases may share one PostgreSQL database by schema."""
    channel = f"legato_work.{schema}"
    if len(channel.encode()) > 63:  # NAMEDATALEN: pg_notify refuses longer channel names
        channel = f"legato_work.{hashlib.sha256(schema.encode()).hexdigest()[:32]}"
    return channel


def current_schema(connection: sa.Connection) -> str:
    """The schema the store's tables live in (the first of the ``search_path``)."""
    return str(connection.scalar(sa.select(sa.func.current_schema())))


class Wakeups:
    """Listens on a wake-up ``channel`` (see :func:`wake_channel`) in a thread of its own and
    calls ``wake`` on every notification.

    It keeps its own autocommit connection (a listening session must not sit inside the
    store's transactions). When that connection drops, it reconnects with a growing pause
    (up to 5 s); notifications sent meanwhile are lost, which is why nodes also poll.
    """

    def __init__(self, url: sa.URL, channel: str, wake: Callable[[], None]) -> None:
        self._channel = channel
        self._conninfo = (
            postgres_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._wake = wake
        self._stop = threading.Event()
        self.connected = threading.Event()
        """Set while the listening session is up (tests wait for it)."""
        self._thread = threading.Thread(target=self._run, name="legato-wakeups", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening (returns within about a second)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        pause = 0.1
        while not self._stop.is_set():
            try:
                self._listen()
                pause = 0.1
            except psycopg.Error as exc:
                self.connected.clear()
                logger.info("wake-up listener lost its connection (%s); reconnecting", exc)
                # A reconnect may have missed notifications: wake once to poll.
                self._wake()
                self._stop.wait(pause)
                pause = min(pause * 2, 5.0)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self.connected.set()
            while not self._stop.is_set():
                # A timeout, so that close() is noticed within a second.
                for _ in connection.notifies(timeout=1.0):
                    self._wake()
