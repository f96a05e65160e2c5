"""The SQL :class:`~legato.store.ports.Store` on SQLAlchemy Core (SQLite and PostgreSQL).

One :class:`SqlStore` keeps one connection open for its whole life and runs one transaction at
a time on it (a lock serialises threads): SQLite admits one writer anyway, and reusing the
connection keeps the driver's prepared statements and SQLAlchemy's compiled cache warm.
Statements are built once at import time, so each call only binds parameters. Several engine
nodes share a PostgreSQL database by each opening their own store.

The transaction, :class:`SqlTransaction`, is assembled from one adapter per part of the port,
each beside its in-memory twin: :mod:`legato.store.jobs.sql`, :mod:`legato.store.timers.sql`
and so on, on the shared helpers of :mod:`legato.store._sql_base`. What SQLite and PostgreSQL
do differently (row locks, ``COPY`` and the other fast paths of a batch's writes) is asked of
one strategy object, :mod:`legato.store.dialects`, besides the engine factories of
:mod:`legato.store.sqlite` and :mod:`legato.store.postgres`; everything else is the same Core
code on both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from legato.errors import StoreError, StoreUnavailableError
from legato.store._sql_base import (
    _RESERVE_KEYS_STATEMENT,
    _STAGED_TABLE_MADE,
    SqlDialect,
    _translated_errors,
)
from legato.store.accounts.sql import SqlAccounts
from legato.store.analytics.sql import SqlAnalyticsReads
from legato.store.cockpit.sql import SqlCockpitReads
from legato.store.definitions.sql import SqlDefinitions
from legato.store.dialects import dialect_of
from legato.store.history.sql import SqlEventLogReads, SqlHistory
from legato.store.incidents.sql import SqlIncidents
from legato.store.instances.sql import SqlInstances
from legato.store.jobs.sql import SqlJobs
from legato.store.messages.sql import SqlMessages
from legato.store.migrations import upgrade_schema
from legato.store.nodes.sql import SqlNodes
from legato.store.ports import Listener, Store
from legato.store.postgres import (
    Wakeups,
    create_postgres_engine,
    is_postgres_url,
)
from legato.store.rebuild import rebuild_derived, rebuild_facts
from legato.store.retention.sql import SqlRetention
from legato.store.sqlite import create_sqlite_engine
from legato.store.timers.sql import SqlTimers
from legato.store.user_tasks.sql import SqlUserTasks

DERIVED_REVISION = "0009"
"""The revision that adds the tables of :mod:`legato.store.derived` (filled when it runs)."""

FACTS_REVISION = "0011"
"""The revision that adds the tables of :mod:`legato.store.facts` (filled when it runs)."""


class SqlStore:
    """A store in a SQL database.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path/to/file.db``, ``sqlite://`` (in memory,
            private to this store) or ``postgresql://user@host:5432/db`` (psycopg 3; the
            tables go to the connection's ``search_path``, see :mod:`legato.store.postgres`).
        synchronous: SQLite's ``PRAGMA synchronous``: ``FULL`` (default, durable on power
            loss) or ``NORMAL`` (durable on a process crash, faster). Ignored on PostgreSQL.
        busy_timeout: how long to wait for another process's write lock (SQLite).

    Raises:
        StoreError: if the database cannot be opened, uses an unsupported dialect, or has a
            schema other than the one this code knows.
    """

    def __init__(
        self,
        url: str,
        *,
        synchronous: str = "FULL",
        busy_timeout: timedelta = timedelta(seconds=5),
    ) -> None:
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"not a database URL: {url!r}") from exc
        if is_postgres_url(parsed):
            self._engine = create_postgres_engine(parsed)
        elif parsed.get_backend_name() == "sqlite":
            self._engine = create_sqlite_engine(
                parsed, synchronous=synchronous, busy_timeout=busy_timeout
            )
        else:
            raise StoreError(
                f"unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql"
            )
        self._sql = dialect_of(self._engine.dialect.name)
        # A reentrant lock so that a nested transaction() in one thread gets a clear error.
        self._lock = threading.RLock()
        self._broken = False
        try:
            self._connection = self._engine.connect()
        except sa.exc.DBAPIError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open {parsed!r}: {exc.orig}") from exc
        try:
            _prepare_schema(self._connection, self._sql)
            self._wake_channel = self._channel_of(self._connection, self._sql)
            self._keys_lock = threading.Lock()
            self._keys_connection: sa.Connection | None = None
            self._reserve_apart = (
                self._reserve_keys_apart if self._wake_channel is not None else None
            )
        except BaseException:
            self.close()
            raise

    @property
    def engine(self) -> sa.Engine:
        """The engine, for read-only tooling (each new connection is set up like the store's:
        SQLite's pragmas, PostgreSQL's ``search_path`` from the URL)."""
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """A transaction: commits when the block ends normally, rolls back on an exception.

        Raises:
            StoreError: if the database lock cannot be had in time, the commit fails, or a
                transaction of this store is already open in this thread.
        """
        with self._lock:
            if self._broken:
                self._reconnect()
            connection = self._connection
            if connection.in_transaction():
                raise StoreError("a transaction is already open; transactions do not nest")
            with _translated_errors():
                transaction = connection.begin()
            tx: SqlTransaction | None = None
            try:
                tx = SqlTransaction(connection, self._sql, self._wake_channel, self._reserve_apart)
                yield tx
                tx.close()
                try:
                    with _translated_errors():
                        transaction.commit()
                except StoreUnavailableError as exc:
                    # The server may have stored the commit before the connection dropped.
                    raise StoreUnavailableError(str(exc), maybe_committed=True) from exc
            except StoreUnavailableError:
                self._broken = True
                raise
            finally:
                if tx is not None:
                    tx.close()
                # Anything but a completed commit ends in a rollback, which also releases
                # SQLite's write lock for the next writer.
                if transaction.is_active:
                    # What the transaction made (a temporary table) may be gone with it. An
                    # invalidated connection has lost its info (and its session) already,
                    # and touching it would only raise.
                    if not connection.invalidated:
                        connection.info.pop(_STAGED_TABLE_MADE, None)
                    self._rollback(transaction)

    def _rollback(self, transaction: sa.RootTransaction) -> None:
        try:
            with _translated_errors():
                transaction.rollback()
        except StoreUnavailableError:
            # The connection is gone, and the server rolled the transaction back with it. The
            # error that led here says what happened; the connection is replaced next time.
            self._broken = True

    def _reconnect(self) -> None:
        """Replace a connection that the server closed (restart, failover, a killed
        backend). Fails with :class:`StoreUnavailableError` while the server is away; the
        next transaction tries again."""
        old = self._connection
        try:
            old.invalidate()
            old.close()
        except sa.exc.SQLAlchemyError:
            pass  # it is broken already; only its slot in the pool is released here
        with _translated_errors():
            self._connection = self._engine.connect()
        self._broken = False

    def _reserve_keys_apart(self, count: int) -> range:
        """Bump the key counter in a transaction of its own, on a connection of its own."""
        with self._keys_lock, _translated_errors():
            if self._keys_connection is None or self._keys_connection.invalidated:
                self._keys_connection = self._engine.connect()
            connection = self._keys_connection
            try:
                with connection.begin():
                    end = int(
                        connection.execute(_RESERVE_KEYS_STATEMENT, {"count": count}).scalar_one()
                    )
            except sa.exc.DBAPIError:
                # Replace a connection that the server closed, at the next reservation.
                connection.invalidate()
                raise
        return range(end - count, end)

    @staticmethod
    def _channel_of(connection: sa.Connection, dialect: SqlDialect) -> str | None:
        with _translated_errors():
            return dialect.wake_channel(connection)

    def listen(self, wake: Callable[[], None]) -> Listener | None:
        """Call ``wake`` whenever another transaction commits new due work: on PostgreSQL,
        through ``LISTEN``/``NOTIFY``; None on SQLite (one machine: nodes poll)."""
        if self._wake_channel is None:
            return None
        return Wakeups(self._engine.url, self._wake_channel, wake)

    def close(self) -> None:
        """Close the connection and release the engine."""
        with self._lock:
            self._connection.close()
            keys_connection = getattr(self, "_keys_connection", None)
            if keys_connection is not None:
                keys_connection.close()
            self._engine.dispose()


def _prepare_schema(connection: sa.Connection, dialect: SqlDialect) -> None:
    """Migrate the database to the schema this code knows, or refuse one it does not know.

    One transaction, holding the schema lock for the whole migration: nodes that open a
    database together migrate it once (SQLite: ``BEGIN IMMEDIATE`` takes the write lock;
    PostgreSQL: an advisory lock, since DDL takes no lock on tables that do not exist yet).
    See :mod:`legato.store.migrations` for the revisions and how older files are adopted.
    """
    with _translated_errors(), connection.begin():
        dialect.lock_schema(connection)
        applied = upgrade_schema(connection)
        for revision, rebuild in (
            (DERIVED_REVISION, rebuild_derived),
            (FACTS_REVISION, rebuild_facts),
        ):
            if revision in applied:
                # New derived tables start out empty: fill them from the history stored.
                tx = SqlTransaction(connection, dialect)
                try:
                    rebuild(tx)
                finally:
                    tx.close()


class SqlTransaction(
    SqlDefinitions,
    SqlInstances,
    SqlRetention,
    SqlCockpitReads,
    SqlAnalyticsReads,
    SqlHistory,
    SqlEventLogReads,
    SqlJobs,
    SqlTimers,
    SqlMessages,
    SqlUserTasks,
    SqlIncidents,
    SqlNodes,
    SqlAccounts,
):
    """Reads and writes inside one SQL transaction (the port: ``ports.Transaction``)."""


if TYPE_CHECKING:

    def _satisfies_port(store: SqlStore) -> Store:
        # mypy proves here that the adapter implements the port.
        return store
