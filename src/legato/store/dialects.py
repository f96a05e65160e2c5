"""What SQLite and PostgreSQL do differently, behind one strategy object.

A :class:`~legato.store.sql.SqlStore` picks :data:`SQLITE` or :data:`POSTGRES` for its
database and hands it to every transaction; the per-area adapters (``legato.store.*.sql``)
call it where the two databases differ instead of testing the dialect's name. The portable
statements stay in the area modules; what lives here is what one database does its own way:

- PostgreSQL's fast paths for a batch's writes: ``COPY … FROM STDIN`` for inserts and
  history, instance rows staged with COPY and saved by one ``UPDATE … FROM``, finished jobs
  deleted with one ``= ANY(array)`` statement, key lists as one array parameter;
- SQLite's own fast path: history rows made directly for its positional driver;
- row locks (``FOR UPDATE [SKIP LOCKED]`` on PostgreSQL; SQLite's transaction holds the write
  lock from BEGIN), advisory locks, the shared clock, the dialect's ``INSERT … ON CONFLICT``,
  and the JSON list test of the task queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._sql_base import (
    _ANY,
    _IN_CHUNK,
    _STAGED_TABLE_MADE,
    SqlDialect,
    SqlTransactionBase,
    _bound,
    _bp,
    _Query,
)
from legato.store._task_queries import _EMPTY_LIST
from legato.store.history.sql import _HISTORY_ORDER, _INSERT_HISTORY, _history_rows, _same
from legato.store.instances.sql import _INSERT_INSTANCE
from legato.store.postgres import current_schema, lock_id, lock_schema, wake_channel
from legato.store.records import HistoryChunk, InstanceRecord
from legato.store.schema import instances, to_micros

if TYPE_CHECKING:
    from collections.abc import Mapping


class SqliteDialect:
    """SQLite: one writer at a time, holding the write lock from ``BEGIN IMMEDIATE``."""

    name = "sqlite"

    def insert(self, table: sa.Table) -> sqlite.Insert:
        return sqlite.insert(table)

    def skip_locked(self, query: _Query, *, of: sa.Table | None = None) -> _Query:
        # The caller's BEGIN IMMEDIATE already holds the write lock: no other writer can
        # claim the same rows between the SELECT and the UPDATE that follows it.
        return query

    def lock_row(self, query: _Query) -> _Query | None:
        return None

    def key_array(self, column: sa.Column[Any], name: str) -> sa.ColumnElement[bool]:
        return column.in_(_bp(name, expanding=True))

    def key_lists(self, values: Sequence[Any]) -> Iterator[tuple[int, dict[str, Any]]]:
        """``IN (:k0, :k1, …)`` lists of at most ``_IN_CHUNK`` keys, each padded to a power
        of two by repeating its last value (harmless in an IN list), so that a handful of
        prepared statements serve every length."""
        for start in range(0, len(values), _IN_CHUNK):
            chunk = values[start : start + _IN_CHUNK]
            size = 1 << (len(chunk) - 1).bit_length()
            padded = [*chunk, *([chunk[-1]] * (size - len(chunk)))]
            yield size, {f"k{i}": value for i, value in enumerate(padded)}

    def value_list(self, values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
        """``values`` as one ``IN`` list (a query's filter, which no chunking may split):
        padded as in :meth:`key_lists` up to ``_IN_CHUNK`` values, longer ones as they are."""
        if len(values) > _IN_CHUNK:
            return len(values), {f"k{i}": value for i, value in enumerate(values)}
        return next(self.key_lists(values))

    def json_list_has_any(
        self, column: sa.ColumnElement[Any], names: Sequence[str]
    ) -> sa.ColumnElement[bool]:
        items = sa.func.json_each(column).table_valued("value")
        # The empty list (most tasks' candidate users) is ruled out before json_each runs.
        return sa.and_(
            column != _EMPTY_LIST,
            sa.exists().select_from(items).where(items.c.value.in_(list(names))),
        )

    def insert_many(
        self, tx: SqlTransactionBase, prepared: Prepared, values: Sequence[Mapping[str, Any]]
    ) -> None:
        tx._run_many(prepared, values)

    def update_instances(
        self,
        tx: SqlTransactionBase,
        records: Sequence[InstanceRecord],
        each: Callable[[Sequence[InstanceRecord]], None],
        *,
        states_only: bool = False,
    ) -> None:
        each(records)

    def append_history(
        self,
        tx: SqlTransactionBase,
        chunks: Sequence[HistoryChunk],
        each: Callable[[Sequence[HistoryChunk]], None],
    ) -> None:
        compiled = _INSERT_HISTORY.compiled(tx._dialect)
        if not compiled.positional or compiled.names != _HISTORY_ORDER:
            each(chunks)
            return
        # History is most of what a command writes: its rows are made here directly, and the
        # instant of a chunk is converted once, instead of going through the generic
        # per-value type processing.
        tx._raw_many(compiled.sql, list(_history_rows(chunks, to_micros)))

    def delete_jobs(
        self,
        tx: SqlTransactionBase,
        job_keys: Sequence[int],
        each: Callable[[Sequence[int]], None],
    ) -> None:
        each(job_keys)

    def prepare_count(self, tx: SqlTransactionBase) -> None:
        pass

    def try_lock(self, tx: SqlTransactionBase, name: str) -> bool:
        # Granted: SQLite's write lock serialises writers anyway.
        return True

    def database_now(self, tx: SqlTransactionBase) -> datetime | None:
        # One machine, one clock.
        return None

    def lock_schema(self, connection: sa.Connection) -> None:
        # BEGIN IMMEDIATE has taken the write lock.
        pass

    def wake_channel(self, connection: sa.Connection) -> str | None:
        # One machine: nodes poll.
        return None


class PostgresDialect:
    """PostgreSQL: many nodes at once, row locks, and bulk writes through ``COPY``."""

    name = "postgresql"

    def insert(self, table: sa.Table) -> postgresql.Insert:
        return postgresql.insert(table)

    def skip_locked(self, query: _Query, *, of: sa.Table | None = None) -> _Query:
        # Concurrent nodes claim disjoint rows without waiting on each other.
        return query.with_for_update(skip_locked=True, of=of)

    def lock_row(self, query: _Query) -> _Query | None:
        return query.with_for_update()

    def key_array(self, column: sa.Column[Any], name: str) -> sa.ColumnElement[bool]:
        """The keys as one array: an expanded IN list is new SQL text for every count of
        keys, and psycopg converts it again on every call beyond 50 parameters."""
        return column == sa.any_(_bp(name, type_=postgresql.ARRAY(sa.BigInteger)))

    def key_lists(self, values: Sequence[Any]) -> Iterator[tuple[int, dict[str, Any]]]:
        """One array parameter per list of at most ``_IN_CHUNK`` keys (:data:`_ANY`): psycopg
        does not cache its conversion of a query with more than 50 parameters (or 4 KB of
        text), and converting a long ``IN (%(k0)s, …)`` again cost milliseconds per query."""
        for start in range(0, len(values), _IN_CHUNK):
            yield _ANY, {"k": list(values[start : start + _IN_CHUNK])}

    def value_list(self, values: Sequence[Any]) -> tuple[int, dict[str, Any]]:
        """``values`` as one array parameter, however many."""
        return _ANY, {"k": list(values)}

    def json_list_has_any(
        self, column: sa.ColumnElement[Any], names: Sequence[str]
    ) -> sa.ColumnElement[bool]:
        has_any: sa.ColumnElement[bool] = sa.cast(column, postgresql.JSONB).has_any(
            postgresql.array(list(names), type_=sa.Text)
        )
        return has_any

    def insert_many(
        self, tx: SqlTransactionBase, prepared: Prepared, values: Sequence[Mapping[str, Any]]
    ) -> None:
        """One ``COPY … FROM STDIN`` stream (it costs the node less than pipelined
        single-row inserts) for two rows or more."""
        if len(values) < 2:
            tx._run_many(prepared, values)
            return
        compiled = prepared.compiled(tx._dialect)
        names = compiled.names
        tx._copy(
            f"COPY {prepared.table_name} ({', '.join(names)}) FROM STDIN",
            ([bound[name] for name in names] for bound in _bound(compiled, values)),
        )

    def update_instances(
        self,
        tx: SqlTransactionBase,
        records: Sequence[InstanceRecord],
        each: Callable[[Sequence[InstanceRecord]], None],
        *,
        states_only: bool = False,
    ) -> None:
        """Two rows or more: COPY them into ``legato_instance_rows``, then one UPDATE … FROM
        it (a COPY costs the node less per row than pipelined single-row UPDATEs); with
        ``states_only``, the UPDATE sets only the state and the revision."""
        if len(records) < 2:
            each(records)
            return
        info = tx._connection.info
        if not info.get(_STAGED_TABLE_MADE):
            # IF NOT EXISTS: after a rollback the table may or may not be there.
            tx._raw(_STAGE_INSTANCES)
            info[_STAGED_TABLE_MADE] = True
        compiled = _INSERT_INSTANCE.compiled(tx._dialect)
        parameters = (rows.instance_params(record) for record in records)
        tx._copy(
            _COPY_STAGED_INSTANCES,
            (
                [*(bound[name] for name in _STAGED_COLUMNS), record.revision - 1]
                for bound, record in zip(_bound(compiled, parameters), records, strict=True)
            ),
        )
        tx._raw(_UPDATE_STATES_FROM_STAGED if states_only else _UPDATE_FROM_STAGED)

    def append_history(
        self,
        tx: SqlTransactionBase,
        chunks: Sequence[HistoryChunk],
        each: Callable[[Sequence[HistoryChunk]], None],
    ) -> None:
        """Two chunks or more: their rows through ``COPY … FROM STDIN``, one stream per
        batch.

        A batch writes a chunk per command and instance (some 200 rows for a batch of 200
        commands); as single-row statements each costs psycopg its per-statement work. COPY
        sends them as one stream of rows, inside this transaction like any other write.
        """
        if len(chunks) < 2:
            each(chunks)
            return
        tx._copy(_COPY_HISTORY, _history_rows(chunks, _same))

    def delete_jobs(
        self,
        tx: SqlTransactionBase,
        job_keys: Sequence[int],
        each: Callable[[Sequence[int]], None],
    ) -> None:
        """Two keys or more: a batch's finished jobs in one statement (one array parameter)."""
        if len(job_keys) < 2:
            each(job_keys)
            return
        tx._raw(_DELETE_JOBS_ANY, [list(job_keys)])

    def prepare_count(self, tx: SqlTransactionBase) -> None:
        """Without JIT for this transaction. The count is thousands of index probes whose
        estimated cost passes ``jit_above_cost``, and compiling the plan took longer than
        running it (tens of ms measured on a million instances)."""
        tx._raw("SET LOCAL jit = off")

    def try_lock(self, tx: SqlTransactionBase, name: str) -> bool:
        """A transaction-level advisory lock (released at commit or rollback, and when the
        session dies)."""
        key = lock_id(name, tx._wake_channel or "")
        granted = tx._execute(sa.select(sa.func.pg_try_advisory_xact_lock(key)))
        return bool(granted.scalar())

    def database_now(self, tx: SqlTransactionBase) -> datetime | None:
        """``clock_timestamp()``."""
        value = tx._execute(sa.select(sa.func.clock_timestamp())).scalar()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def lock_schema(self, connection: sa.Connection) -> None:
        """An advisory lock: DDL takes no lock on tables that do not exist yet."""
        lock_schema(connection)

    def wake_channel(self, connection: sa.Connection) -> str | None:
        """``LISTEN``/``NOTIFY`` on a channel of the store's schema."""
        with connection.begin():
            return wake_channel(current_schema(connection))


_STAGED_COLUMNS = [column.name for column in instances.c]

_STAGE_INSTANCES = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS legato_instance_rows"
    " (LIKE instances, b_revision integer NOT NULL) ON COMMIT DELETE ROWS"
)

_COPY_STAGED_INSTANCES = (
    f"COPY legato_instance_rows ({', '.join(_STAGED_COLUMNS)}, b_revision) FROM STDIN"
)

_UPDATE_FROM_STAGED = (
    "UPDATE instances AS i SET "
    + ", ".join(f"{name} = u.{name}" for name in _STAGED_COLUMNS if name != "instance_key")
    + " FROM legato_instance_rows AS u"
    " WHERE i.instance_key = u.instance_key AND i.revision = u.b_revision"
)
"""A batch's instance rows are streamed into a temporary table (one per connection, emptied at
every commit) and saved by one UPDATE from it, with the same revision check as the portable
``UPDATE … WHERE revision = :b_revision``."""

_UPDATE_STATES_FROM_STAGED = (
    "UPDATE instances AS i SET state = u.state, revision = u.revision"
    " FROM legato_instance_rows AS u"
    " WHERE i.instance_key = u.instance_key AND i.revision = u.b_revision"
)
"""The same, for saves that changed none of the summary columns."""

_COPY_HISTORY = f"COPY history ({', '.join(_HISTORY_ORDER)}) FROM STDIN"

_DELETE_JOBS_ANY = "DELETE FROM jobs WHERE job_key = ANY(%s)"

SQLITE = SqliteDialect()
POSTGRES = PostgresDialect()


def dialect_of(name: str) -> SqlDialect:
    """The strategy for SQLAlchemy's dialect ``name``.

    Raises:
        ValueError: for a database other than SQLite and PostgreSQL.
    """
    if name == "sqlite":
        return SQLITE
    if name == "postgresql":
        return POSTGRES
    raise ValueError(f"unsupported database {name!r}")


if TYPE_CHECKING:

    def _satisfy(sqlite_dialect: SqliteDialect, postgres_dialect: PostgresDialect) -> None:
        # mypy proves here that both strategies implement the protocol.
        _: SqlDialect = sqlite_dialect
        _ = postgres_dialect
