"""What every part of the SQL transaction shares: the connection and its cursor, the
statement helpers (prepared statements, ``executemany``, ``COPY``), error translation and key
reservation."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult

from legato.errors import ConflictError, StoreError, StoreUnavailableError
from legato.store._prepared import Prepared, bind_parameters, result_rows
from legato.store.records import HistoryChunk, InstanceRecord
from legato.store.schema import KEY_COUNTER, key_counters, timers

_IN_CHUNK = 500
"""Keys per ``IN (...)`` list: far below SQLite's bound-variable limit (999 before 3.32)."""

_bp = sa.bindparam


def _columns(table: sa.Table, *, without: str | None = None) -> list[str]:
    return [column.name for column in table.c if column.name != without]


def _insert(table: sa.Table) -> Prepared:
    return Prepared(sa.insert(table), _columns(table))


def _by_key(table: sa.Table, key_column: str) -> Prepared:
    return Prepared(sa.select(table).where(table.c[key_column] == _bp("key")))


_RESERVE_KEYS_STATEMENT = (
    sa.update(key_counters)
    .where(key_counters.c.name == KEY_COUNTER)
    .values(next_key=key_counters.c.next_key + _bp("count"))
    .returning(key_counters.c.next_key)
)

_RESERVE_KEYS = Prepared(_RESERVE_KEYS_STATEMENT)

_STAGED_TABLE_MADE = "legato_instance_rows"
"""Key in a connection's ``info``: its temporary table exists (dropped again on rollback)."""

_NOTIFY = Prepared(sa.select(sa.func.pg_notify(_bp("channel"), "").label("notified")))

_ANY = 0
"""The "size" of a key list passed as one array parameter (``= ANY(:k)``, PostgreSQL; see
:meth:`~legato.store.dialects.SqlDialect.key_lists`)."""


def _in_list(column: sa.Column[Any], size: int) -> sa.ColumnElement[bool]:
    if size == _ANY:
        return column == sa.any_(_bp("k", type_=postgresql.ARRAY(column.type)))
    return column.in_([_bp(f"k{i}", type_=column.type) for i in range(size)])


@functools.cache
def listing_query(table: sa.Table, by_instance: bool, by_definition: bool) -> Prepared:
    """Rows of an instance, or the start-event rows of a definition (timers, subscriptions).

    Given only a definition, the rows of instances are left out: they are the instance's
    business and are listed through the instance.
    """
    key = table.c.timer_key if table is timers else table.c.subscription_key
    order = [table.c.due_at, key] if table is timers else [key]
    query = sa.select(table).order_by(*order)
    if by_instance:
        query = query.where(table.c.instance_key == _bp("instance_key"))
    elif by_definition:
        query = query.where(table.c.instance_key.is_(None))
    if by_definition:
        query = query.where(table.c.definition_key == _bp("definition_key"))
    return Prepared(query)


@functools.cache
def upsert_statement(dialect: SqlDialect, table: sa.Table) -> Prepared:
    """INSERT … ON CONFLICT (primary key) DO UPDATE: one statement, no read first."""
    statement = dialect.insert(table)
    updates = {column.name: statement.excluded[column.name] for column in table.c}
    keys = [column.name for column in table.primary_key]
    for key in keys:
        del updates[key]
    return Prepared(
        statement.on_conflict_do_update(index_elements=keys, set_=updates), _columns(table)
    )


class _TranslatedErrors:
    """Turns driver errors into :class:`StoreError` (keeping the cause).

    A plain context manager class: every transaction enters it twice (begin, commit), and a
    generator-based one cost a generator and its frames each time.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, sa.exc.StatementError):
            # Errors raised while binding parameters (e.g. a naive datetime) arrive wrapped.
            if isinstance(exc.orig, StoreError):
                raise exc.orig from exc
            raise translated_error(exc.orig or exc) from exc
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise StoreError(f"database error: {exc}") from exc


_TRANSLATED_ERRORS = _TranslatedErrors()


def _translated_errors() -> _TranslatedErrors:
    """Turn driver errors into :class:`StoreError` (keeping the cause)."""
    return _TRANSLATED_ERRORS


_CONFLICT_STATES = frozenset({"23505", "40001", "40P01", "55P03"})
"""PostgreSQL SQLSTATEs of losing a race: unique violation, serialization failure, deadlock,
lock not available. The transaction is rolled back and its command can run again."""

_SQLITE_CONFLICTS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})

_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})
"""PostgreSQL SQLSTATEs of a server shutting down or starting (besides class 08, connection
exceptions)."""


def translated_error(exc: BaseException) -> StoreError:
    """The :class:`StoreError` for a driver error: a :class:`ConflictError` when another
    transaction won a race for the same rows or keys, a :class:`StoreUnavailableError` when
    the server cannot be reached."""
    state = getattr(exc, "sqlstate", None) or getattr(exc, "sqlite_errorname", None)
    if state in _CONFLICT_STATES or state in _SQLITE_CONFLICTS:
        return ConflictError(f"concurrent change: {exc}")
    if is_connection_error(exc, state):
        return StoreUnavailableError(f"database unavailable: {exc}")
    if (state is not None and str(state).startswith("23")) or "IntegrityError" in type(
        exc
    ).__name__:
        return StoreError(f"constraint violated: {exc}")
    return StoreError(f"database error: {exc}")


def is_connection_error(exc: BaseException, state: str | None) -> bool:
    """Whether ``exc`` says the server is out of reach (PostgreSQL only: on SQLite an
    ``OperationalError`` means a locked or broken file, not a connection)."""
    if state is not None:
        return state.startswith("08") or state in _UNAVAILABLE_STATES
    module = type(exc).__module__
    # psycopg raises OperationalError without a SQLSTATE when the socket is gone.
    return module.startswith("psycopg") and type(exc).__name__ == "OperationalError"


def _bound(compiled: Any, values: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each parameter set bound for a named-style (psycopg) compiled statement."""
    for each in values:
        bound: dict[str, Any] = bind_parameters(compiled, each)
        yield bound


class SqlTransactionBase:
    """The state and helpers of one SQL transaction that the per-area adapters build on."""

    def __init__(
        self,
        connection: sa.Connection,
        dialect: SqlDialect,
        wake_channel: str | None = None,
        reserve_apart: Callable[[int], range] | None = None,
    ) -> None:
        self._connection = connection
        self._reserve_apart = reserve_apart
        self._dialect = connection.dialect
        self._sql = dialect
        dbapi = connection.dialect.loaded_dbapi
        self._dbapi_error: type[Exception] = dbapi.Error
        # One cursor on the connection SQLAlchemy began the transaction on: the hot-path
        # statements run here, inside the same BEGIN ... COMMIT.
        self._cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self._open = True
        self._wake_channel = wake_channel
        self._woken = wake_channel is None

    def close(self) -> None:
        """Refuse further use: a statement after the end would silently start a new one."""
        if self._open:
            self._open = False
            self._cursor.close()

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("the transaction has ended")

    def _wake_nodes(self) -> None:
        """Tell idle nodes and long-polling workers that work arrived (PostgreSQL ``NOTIFY``,
        delivered only if this transaction commits; once per transaction). A hint only:
        nodes also poll, so a lost notification delays work by one poll interval at most."""
        if not self._woken:
            self._woken = True
            self._run(_NOTIFY, {"channel": self._wake_channel})

    def _run(self, prepared: Prepared, values: Mapping[str, Any]) -> Any:
        """Execute a prepared statement once; returns the DBAPI cursor."""
        self._check_open()
        compiled = prepared.compiled(self._dialect)
        parameters = bind_parameters(compiled, values)
        try:
            self._cursor.execute(compiled.sql, parameters)
        except Exception as exc:
            raise self._translated(exc) from exc
        return self._cursor

    def _run_many(self, prepared: Prepared, values: Sequence[Mapping[str, Any]]) -> None:
        """Execute a prepared statement for each parameter set (DBAPI ``executemany``)."""
        self._check_open()
        compiled = prepared.compiled(self._dialect)
        bind = compiled.bind
        batch = [bind(each) for each in values]
        try:
            # On PostgreSQL psycopg pipelines the statements of an executemany (one round
            # trip). A multi-row INSERT and an INSERT from unnest() of arrays were both
            # measured: they cut the server's CPU but cost the node more than they saved.
            self._cursor.executemany(compiled.sql, batch)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _insert_many(self, prepared: Prepared, values: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows: ``executemany``, or on PostgreSQL one ``COPY … FROM STDIN`` stream
        (see :meth:`~legato.store.dialects.SqlDialect.insert_many`).

        ``prepared`` is an insert of every column of its table (:func:`_insert`).
        """
        self._sql.insert_many(self, prepared, values)

    def _copy(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL: stream ``rows`` with ``COPY … FROM STDIN`` inside this transaction."""
        self._check_open()
        try:
            with self._cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _raw(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        """Execute driver-level SQL text once (PostgreSQL-only statements)."""
        self._check_open()
        try:
            self._cursor.execute(sql, parameters)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _raw_many(self, sql: str, parameters: Sequence[Sequence[Any]]) -> None:
        """Execute driver-level SQL text for each parameter set (``executemany``)."""
        try:
            self._cursor.executemany(sql, parameters)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _fetch(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Any]:
        cursor = self._run(prepared, values)
        return result_rows(prepared.compiled(self._dialect), cursor.fetchall())

    def _translated(self, exc: Exception) -> Exception:
        if isinstance(exc, self._dbapi_error):
            return translated_error(exc)
        return exc

    def _execute(
        self,
        statement: sa.Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        """Execute a Core statement the ordinary way (queries built per call, IN lists)."""
        self._check_open()
        with _translated_errors():
            return self._connection.execute(statement, parameters)

    def reserve_keys(self, count: int) -> range:
        """Reserve ``count`` fresh keys.

        On SQLite the counter row is bumped inside the transaction (one writer at a time
        anyway), so a reservation is durable exactly when the rows that use its keys are. On
        PostgreSQL it is bumped in a short transaction of its own: the row lock would
        otherwise be held until this transaction's commit and make every other node that
        needs keys wait for it. Keys of a block whose transaction rolls back are then never
        used, which keeps them unique.
        """
        if count < 1:
            raise StoreError(f"cannot reserve {count} keys")
        if self._reserve_apart is not None:
            self._check_open()
            return self._reserve_apart(count)
        end = int(self._run(_RESERVE_KEYS, {"count": count}).fetchone()[0])
        return range(end - count, end)


_Query = TypeVar("_Query", bound=sa.Select[Any])


class SqlDialect(Protocol):
    """The operations whose SQL or strategy depends on the database."""

    @property
    def name(self) -> str:
        """SQLAlchemy's name of the dialect (``sqlite``, ``postgresql``)."""

    def __hash__(self) -> int:
        """Hashable: the statement builders cache one statement per dialect."""

    def insert(self, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
        """An ``INSERT`` into ``table`` that offers ``ON CONFLICT`` clauses."""

    def skip_locked(self, query: _Query, *, of: sa.Table | None = None) -> _Query:
        """``query`` made to lock the rows it picks, skipping rows another transaction
        holds (``of``: the table whose rows are locked, when ``query`` joins others)."""

    def lock_row(self, query: _Query) -> _Query | None:
        """``query`` made to lock the row it reads until the transaction ends; None where
        the transaction holds the database's write lock anyway."""

    def key_array(self, column: sa.Column[Any], name: str) -> sa.ColumnElement[bool]:
        """``column`` is one of the integer keys bound to the parameter ``name``."""

    def key_lists(self, values: Sequence[Any]) -> Iterator[tuple[int, dict[str, Any]]]:
        """The parameters of key lists for ``values``, with each list's size for
        :func:`~legato.store._sql_base._in_list`."""

    def value_list(self, values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
        """The parameters of ``values`` (not empty) as one list, with its size for
        :func:`~legato.store._sql_base._in_list`."""

    def json_list_has_any(
        self, column: sa.ColumnElement[Any], names: Sequence[str]
    ) -> sa.ColumnElement[bool]:
        """The JSON list in ``column`` holds any of ``names`` (not empty)."""

    def insert_many(
        self, tx: SqlTransactionBase, prepared: Prepared, values: Sequence[Mapping[str, Any]]
    ) -> None:
        """Insert rows (``prepared`` inserts every column of its table)."""

    def update_instances(
        self,
        tx: SqlTransactionBase,
        records: Sequence[InstanceRecord],
        each: Callable[[Sequence[InstanceRecord]], None],
        *,
        states_only: bool = False,
    ) -> None:
        """Save instance rows with their revision check (``each``: the portable way, one
        ``executemany``); the cursor's ``rowcount`` tells how many were saved. With
        ``states_only``, only the state and revision columns are written."""

    def append_history(
        self,
        tx: SqlTransactionBase,
        chunks: Sequence[HistoryChunk],
        each: Callable[[Sequence[HistoryChunk]], None],
    ) -> None:
        """Insert history chunks, one row each (``each``: the portable way)."""

    def delete_jobs(
        self,
        tx: SqlTransactionBase,
        job_keys: Sequence[int],
        each: Callable[[Sequence[int]], None],
    ) -> None:
        """Delete the jobs of these keys (unknown keys are ignored; ``each``: the portable
        way)."""

    def prepare_count(self, tx: SqlTransactionBase) -> None:
        """Set the transaction up for a count over many index probes."""

    def try_lock(self, tx: SqlTransactionBase, name: str) -> bool:
        """Take the lock ``name`` until ``tx`` ends, if no other transaction holds it."""

    def database_now(self, tx: SqlTransactionBase) -> datetime | None:
        """The database server's clock, where nodes share one; else None."""

    def lock_schema(self, connection: sa.Connection) -> None:
        """Keep other nodes from migrating the schema until this transaction ends."""

    def wake_channel(self, connection: sa.Connection) -> str | None:
        """The channel that tells other nodes about new work (read in a transaction of its
        own); None where they poll."""
