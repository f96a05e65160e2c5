"""The SQL :class:`~legato.store.ports.Store` on SQLAlchemy Core (SQLite and PostgreSQL).

One :class:`SqlStore` keeps one connection open for its whole life and runs one transaction at
a time on it (a lock serialises threads): SQLite admits one writer anyway, and reusing the
connection keeps the driver's prepared statements and SQLAlchemy's compiled cache warm.
Statements are built once at import time, so each call only binds parameters. Several engine
nodes share a PostgreSQL database by each opening their own store.

Dialect specifics live in small functions (:func:`due_jobs_query`, :func:`upsert_statement`)
and in the engine factories of :mod:`legato.store.sqlite` and :mod:`legato.store.postgres`;
everything else is the same Core code on both.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult

from legato.errors import ConflictError, NotFoundError, StoreError, StoreUnavailableError
from legato.store import _cockpit_sql as cockpit
from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared, bind_parameters, result_rows
from legato.store._rules import dump_json, message_is_stale, utc
from legato.store._task_queries import tasks_count, tasks_select
from legato.store.derived import DerivedRows
from legato.store.migrations import upgrade_schema
from legato.store.ports import ENDED_STATUSES, Listener, Store, iter_chunks
from legato.store.postgres import (
    Wakeups,
    create_postgres_engine,
    current_schema,
    is_postgres_url,
    lock_id,
    lock_schema,
    wake_channel,
)
from legato.store.rebuild import rebuild_derived
from legato.store.records import (
    SUSPENDED,
    ApiKeyRecord,
    DecisionEvaluationRecord,
    DefinitionRecord,
    ElementCountsRecord,
    FormRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceQuery,
    InstanceRecord,
    JobRecord,
    MessageRecord,
    NodeRecord,
    SubscriptionRecord,
    TimerRecord,
    UserRecord,
    UserTaskQuery,
    UserTaskRecord,
)
from legato.store.schema import (
    KEY_COUNTER,
    api_keys,
    decision_evaluations,
    definitions,
    forms,
    history,
    incidents,
    instance_variables,
    instances,
    jobs,
    key_counters,
    messages,
    nodes,
    server_secrets,
    start_requests,
    subscriptions,
    timers,
    to_micros,
    user_tasks,
    users,
)
from legato.store.sqlite import create_sqlite_engine

DERIVED_REVISION = "0009"
"""The revision that adds the tables of :mod:`legato.store.derived` (filled when it runs)."""

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
_INSERT_DEFINITION = _insert(definitions)
_DEFINITION_BY_KEY = _by_key(definitions, "definition_key")
_DEFINITION_BY_VERSION = Prepared(
    sa.select(definitions).where(
        definitions.c.process_id == _bp("process_id"), definitions.c.version == _bp("version")
    )
)
# Served by ux_definitions_process_version read backwards: one index probe.
_LATEST_DEFINITION = Prepared(
    sa.select(definitions)
    .where(definitions.c.process_id == _bp("process_id"))
    .order_by(definitions.c.version.desc())
    .limit(1)
)
_ALL_DEFINITIONS = Prepared(
    sa.select(definitions).order_by(definitions.c.process_id, definitions.c.version)
)
_INSERT_INSTANCE = _insert(instances)
# Optimistic concurrency: the WHERE on the old revision makes a stale save match no row.
_UPDATE_INSTANCE = Prepared(
    sa.update(instances).where(
        instances.c.instance_key == _bp("b_instance_key"),
        instances.c.revision == _bp("b_revision"),
    ),
    _columns(instances, without="instance_key"),
)
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
"""PostgreSQL: a batch's instance rows are streamed into a temporary table (one per
connection, emptied at every commit) and saved by one UPDATE from it, with the same revision
check as ``_UPDATE_INSTANCE``."""
_STAGED_TABLE_MADE = "legato_instance_rows"
"""Key in a connection's ``info``: its temporary table exists (dropped again on rollback)."""
_INSTANCE_BY_KEY = _by_key(instances, "instance_key")
_INSTANCE_REVISION = Prepared(
    sa.select(instances.c.revision).where(instances.c.instance_key == _bp("key"))
)
_INSTANCE_SUMMARY = [column for column in instances.c if column.name != "state"]
_INSERT_START_REQUEST = _insert(start_requests)
_START_REQUEST = Prepared(
    sa.select(start_requests.c.instance_key).where(start_requests.c.request_id == _bp("request_id"))
)
_INSERT_HISTORY = _insert(history)
_HISTORY_ORDER = ("instance_key", "position", "event_count", "at", "events")
"""The column order of the history chunk rows that ``append_history`` builds itself (SQLite's
positional ``_INSERT_HISTORY`` and PostgreSQL's ``COPY``)."""
_COPY_HISTORY = f"COPY history ({', '.join(_HISTORY_ORDER)}) FROM STDIN"
_HISTORY = Prepared(
    sa.select(history).where(history.c.instance_key == _bp("key")).order_by(history.c.position)
)
_INSERT_JOB = _insert(jobs)
_UPDATE_JOB = Prepared(
    sa.update(jobs).where(jobs.c.job_key == _bp("b_job_key")), _columns(jobs, without="job_key")
)
# Batches of single-key deletes (executemany), as for timers below.
_DELETE_JOB = Prepared(sa.delete(jobs).where(jobs.c.job_key == _bp("key")))
_DELETE_JOBS_ANY = "DELETE FROM jobs WHERE job_key = ANY(%s)"
"""PostgreSQL: a batch's finished jobs in one statement (one array parameter)."""
_JOB_BY_KEY = _by_key(jobs, "job_key")
_LEASE = {
    "state": "activated",
    "worker": _bp("worker"),
    "lease_until": _bp("lease_until"),
    "available_at": _bp("lease_until"),
}
_LEASE_JOBS = sa.update(jobs).where(jobs.c.job_key.in_(_bp("keys", expanding=True))).values(_LEASE)
_LEASE_JOBS_ANY = (
    sa.update(jobs)
    .where(jobs.c.job_key == sa.any_(_bp("keys", type_=postgresql.ARRAY(sa.BigInteger))))
    .values(_LEASE)
)
"""PostgreSQL: the keys as one array (an expanded IN list is new SQL text for every count of
keys, and psycopg converts it again on every call beyond 50 parameters)."""
_LEASE_AVAILABLE = (
    sa.update(jobs)
    .where(jobs.c.job_key.in_(_bp("keys", expanding=True)), jobs.c.available_at <= _bp("now"))
    .values(_LEASE)
    .returning(*jobs.c)
)
"""Leases those of the keys' jobs still available (built once: building it cost more than
running it)."""
_LEASE_AVAILABLE_ANY = (
    sa.update(jobs)
    .where(
        jobs.c.job_key == sa.any_(_bp("keys", type_=postgresql.ARRAY(sa.BigInteger))),
        jobs.c.available_at <= _bp("now"),
    )
    .values(_LEASE)
    .returning(*jobs.c)
)
_INSERT_TIMER = _insert(timers)
# Batches of single-key deletes (executemany): each is a primary-key probe on a statement
# prepared once, cheaper than building and compiling IN lists of varying length.
_DELETE_TIMER = Prepared(sa.delete(timers).where(timers.c.timer_key == _bp("key")))
_CLAIM_TIMER = Prepared(
    sa.update(timers)
    .where(timers.c.timer_key == _bp("key"))
    .values(state="claimed", lease_until=_bp("lease_until"), available_at=_bp("lease_until"))
)
# An ordered ix_timers_due scan that stops at the first row.
_NEXT_TIMER_DUE = Prepared(
    sa.select(timers.c.available_at)
    .where(timers.c.available_at.is_not(None))
    .order_by(timers.c.available_at)
    .limit(1)
)
_INSERT_SUBSCRIPTION = _insert(subscriptions)
_DELETE_SUBSCRIPTION = Prepared(
    sa.delete(subscriptions).where(subscriptions.c.subscription_key == _bp("key"))
)
_DELETE_MESSAGE = Prepared(sa.delete(messages).where(messages.c.message_key == _bp("key")))
_MESSAGE_BY_ID = Prepared(sa.select(messages).where(messages.c.message_id == _bp("message_id")))
_USER_TASK_BY_KEY = _by_key(user_tasks, "user_task_key")
_INCIDENT_BY_KEY = _by_key(incidents, "incident_key")
_NOTIFY = Prepared(sa.select(sa.func.pg_notify(_bp("channel"), "").label("notified")))


@functools.cache
def due_jobs_query(dialect_name: str, typed: bool) -> sa.Select[Any]:
    """The query that picks jobs to hand out, oldest due first (``ix_jobs_due`` in order).

    On SQLite the caller's ``BEGIN IMMEDIATE`` already holds the database write lock, so no
    other writer can claim the same rows between this SELECT and the UPDATE that leases them.
    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent nodes claim disjoint rows without
    waiting on each other.
    """
    query = (
        sa.select(jobs)
        .where(jobs.c.available_at <= _bp("now"))
        .order_by(jobs.c.available_at, jobs.c.job_key)
        .limit(_bp("max_jobs", type_=sa.Integer))
    )
    if typed:
        query = query.where(jobs.c.job_type.in_(_bp("types", expanding=True)))
    if dialect_name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


@functools.cache
def fetchable_jobs_query(
    dialect_name: str,
    business_key: bool,
    process_ids: bool,
    definition_keys: bool,
    after: bool,
    by_priority: bool = False,
) -> sa.Select[Any]:
    """The query that picks jobs for external workers: due jobs of some types (``ix_jobs_due``
    in order), joined to their instances only when a filter reads them, so that the filters
    hold before anything is locked. One statement per shape of filters."""
    query = (
        sa.select(jobs)
        .where(
            jobs.c.available_at <= _bp("now"),
            jobs.c.job_type.in_(_bp("types", expanding=True)),
        )
        .order_by(jobs.c.available_at, jobs.c.job_key)
        .limit(_bp("limit", type_=sa.Integer))
    )
    if by_priority:
        # The due jobs of the types are sorted (no index gives this order): what Camunda's
        # usePriority costs too.
        query = query.order_by(None).order_by(
            jobs.c.priority.desc(), jobs.c.available_at, jobs.c.job_key
        )
    if business_key or process_ids or definition_keys:
        query = query.join(instances, instances.c.instance_key == jobs.c.instance_key)
    if business_key:
        query = query.where(instances.c.business_key == _bp("business_key"))
    if process_ids:
        query = query.where(instances.c.process_id.in_(_bp("process_ids", expanding=True)))
    if definition_keys:
        query = query.where(instances.c.definition_key.in_(_bp("definition_keys", expanding=True)))
    if after and not by_priority:
        query = query.where(
            sa.tuple_(jobs.c.available_at, jobs.c.job_key)
            > sa.tuple_(_bp("after_at", type_=jobs.c.available_at.type), _bp("after_key"))
        )
    if dialect_name == "postgresql":
        # Lock only the job rows (not the instances: other nodes advance them meanwhile);
        # rows another fetch is handing out are skipped instead of waited for.
        query = query.with_for_update(skip_locked=True, of=jobs)
    return query


def _held_jobs(job_keys: Sequence[int], worker: str) -> sa.Update:
    """An update of those of ``job_keys`` that ``worker`` holds."""
    return sa.update(jobs).where(
        jobs.c.job_key.in_(list(job_keys)), jobs.c.state == "activated", jobs.c.worker == worker
    )


@functools.cache
def next_due_query(typed: bool) -> sa.Select[Any]:
    """The earliest ``available_at`` (an ordered ``ix_jobs_due`` scan stopping at one row)."""
    query = (
        sa.select(jobs.c.available_at)
        .where(jobs.c.available_at.is_not(None))
        .order_by(jobs.c.available_at)
        .limit(1)
    )
    if typed:
        query = query.where(jobs.c.job_type.in_(_bp("types", expanding=True)))
    return query


@functools.cache
def due_timers_query(dialect_name: str) -> Prepared:
    """The timers to claim, earliest available first (``ix_timers_due`` in order).

    The same reasoning as :func:`due_jobs_query`: SQLite's write lock, taken at BEGIN, keeps
    other writers out between this SELECT and the UPDATE that claims the rows; PostgreSQL
    gets ``FOR UPDATE SKIP LOCKED`` so that nodes claim disjoint timers without waiting.
    """
    query = (
        sa.select(timers)
        .where(timers.c.available_at <= _bp("now"))
        .order_by(timers.c.available_at, timers.c.timer_key)
        .limit(_bp("max_timers", type_=sa.Integer))
    )
    if dialect_name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return Prepared(query)


def _null_safe_equal(column: sa.ColumnElement[Any], name: str, is_null: bool) -> Any:
    # ``column = NULL`` is never true in SQL, while the port compares correlation keys like
    # Python (None equals None). ``IS NULL`` is used instead of ``IS NOT DISTINCT FROM``
    # because both SQLite and PostgreSQL answer it from an index.
    return column.is_(None) if is_null else column == _bp(name)


@functools.cache
def subscriptions_query(correlated: bool, key_is_null: bool) -> Prepared:
    """Open subscriptions of a kind and name, oldest (by key) first.

    ``correlated`` (messages): the instance subscriptions with the given correlation key
    (one ``ix_subscriptions_lookup`` probe) plus the start-event subscriptions of the name
    (``ix_subscriptions_start``), as a UNION ALL so that each half is its own index probe; an
    OR in one WHERE would make the database scan every subscription of the name.
    Otherwise (signals) every subscription of the name, from the lookup index's prefix.
    """
    c = subscriptions.c
    same_name = sa.and_(c.kind == _bp("kind"), c.name == _bp("name"))
    if not correlated:
        return Prepared(sa.select(subscriptions).where(same_name).order_by(c.subscription_key))
    waiting = sa.select(subscriptions).where(
        same_name,
        _null_safe_equal(c.correlation_key, "correlation_key", key_is_null),
        c.instance_key.is_not(None),
    )
    starts = sa.select(subscriptions).where(same_name, c.instance_key.is_(None))
    return Prepared(sa.union_all(waiting, starts).order_by(sa.literal_column("subscription_key")))


_ANY = 0
"""The "size" of a key list passed as one array parameter (``= ANY(:k)``, PostgreSQL)."""


def _in_lists(values: Sequence[Any], dialect: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The parameters of key lists for ``values``, at most ``_IN_CHUNK`` each, with each
    list's size for :func:`_in_list`.

    PostgreSQL gets one array parameter per list (:data:`_ANY`): psycopg does not cache its
    conversion of a query with more than 50 parameters (or 4 KB of text), and converting a
    long ``IN (%(k0)s, …)`` again cost milliseconds per query. Elsewhere an
    ``IN (:k0, :k1, …)`` list is padded to a power of two by repeating its last value
    (harmless in an IN list), so a handful of prepared statements serve every length.
    """
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start : start + _IN_CHUNK]
        if dialect == "postgresql":
            yield _ANY, {"k": list(chunk)}
            continue
        size = 1 << (len(chunk) - 1).bit_length()
        padded = [*chunk, *([chunk[-1]] * (size - len(chunk)))]
        yield size, {f"k{i}": value for i, value in enumerate(padded)}


def _in_list(column: sa.Column[Any], size: int) -> sa.ColumnElement[bool]:
    if size == _ANY:
        return column == sa.any_(_bp("k", type_=postgresql.ARRAY(column.type)))
    return column.in_([_bp(f"k{i}", type_=column.type) for i in range(size)])


@functools.cache
def instances_in_query(size: int, with_state: bool) -> Prepared:
    """Instances (or only their keys and revisions) by an IN list of ``size`` keys: one
    primary key probe per key in one statement."""
    c = instances.c
    selected = [*c] if with_state else [c.instance_key, c.revision]
    return Prepared(sa.select(*selected).where(_in_list(c.instance_key, size)))


@functools.cache
def message_subscriptions_in_query(size: int) -> Prepared:
    """Instance subscriptions of the message ``name`` by an IN list of ``size`` correlation
    keys: one ``ix_subscriptions_lookup`` probe per key."""
    c = subscriptions.c
    return Prepared(
        sa.select(subscriptions).where(
            c.kind == "message",
            c.name == _bp("name"),
            _in_list(c.correlation_key, size),
            c.instance_key.is_not(None),
        )
    )


_MESSAGE_STARTS = Prepared(
    sa.select(subscriptions).where(
        subscriptions.c.kind == "message",
        subscriptions.c.name == _bp("name"),
        subscriptions.c.instance_key.is_(None),
    )
)


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
def messages_query(key_is_null: bool) -> Prepared:
    """Unexpired messages of a name and correlation key, oldest (by key) first.

    ``ix_messages_lookup`` gives the rows of the name and key already in key order; the
    expiry is checked on those few rows.
    """
    c = messages.c
    return Prepared(
        sa.select(messages)
        .where(
            c.name == _bp("name"),
            _null_safe_equal(c.correlation_key, "correlation_key", key_is_null),
            c.expires_at > _bp("now"),
        )
        .order_by(c.message_key)
    )


@functools.cache
def insert_message_statement(dialect_name: str) -> Prepared:
    """INSERT … ON CONFLICT (message_id) DO NOTHING: a duplicate id is detected by the
    unique index in the same statement, race-free on PostgreSQL too; the caller reads the
    buffered message when no row was inserted. A clash on the primary key still fails."""
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = dialect_insert(messages).on_conflict_do_nothing(
        index_elements=[messages.c.message_id],
        index_where=messages.c.message_id.is_not(None),
    )
    return Prepared(statement, _columns(messages))


@functools.cache
def upsert_statement(dialect_name: str, table: sa.Table) -> Prepared:
    """INSERT … ON CONFLICT (primary key) DO UPDATE: one statement, no read first."""
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = dialect_insert(table)
    updates = {column.name: statement.excluded[column.name] for column in table.c}
    keys = [column.name for column in table.primary_key]
    for key in keys:
        del updates[key]
    return Prepared(
        statement.on_conflict_do_update(index_elements=keys, set_=updates), _columns(table)
    )


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
        # A reentrant lock so that a nested transaction() in one thread gets a clear error.
        self._lock = threading.RLock()
        self._broken = False
        try:
            self._connection = self._engine.connect()
        except sa.exc.DBAPIError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open {parsed!r}: {exc.orig}") from exc
        try:
            _prepare_schema(self._connection)
            self._wake_channel = self._channel_of(self._connection)
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
                tx = SqlTransaction(connection, self._wake_channel, self._reserve_apart)
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
    def _channel_of(connection: sa.Connection) -> str | None:
        if connection.dialect.name != "postgresql":
            return None
        with _translated_errors(), connection.begin():
            return wake_channel(current_schema(connection))

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


def _prepare_schema(connection: sa.Connection) -> None:
    """Migrate the database to the schema this code knows, or refuse one it does not know.

    One transaction, holding the schema lock for the whole migration: nodes that open a
    database together migrate it once (SQLite: ``BEGIN IMMEDIATE`` takes the write lock;
    PostgreSQL: an advisory lock, since DDL takes no lock on tables that do not exist yet).
    See :mod:`legato.store.migrations` for the revisions and how older files are adopted.
    """
    with _translated_errors(), connection.begin():
        if connection.dialect.name == "postgresql":
            lock_schema(connection)
        applied = upgrade_schema(connection)
        if DERIVED_REVISION in applied:
            # The derived tables start out empty: fill them from the history already stored.
            tx = SqlTransaction(connection)
            try:
                rebuild_derived(tx)
            finally:
                tx.close()


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn driver errors into :class:`StoreError` (keeping the cause)."""
    try:
        yield
    except sa.exc.StatementError as exc:
        # Errors raised while binding parameters (e.g. a naive datetime) arrive wrapped.
        if isinstance(exc.orig, StoreError):
            raise exc.orig from exc
        raise translated_error(exc.orig or exc) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"database error: {exc}") from exc


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


def _history_chunks(records: Sequence[HistoryRecord]) -> Iterator[tuple[HistoryRecord, list[Any]]]:
    """The history chunks of ``records``: each chunk's first record and its events.

    Consecutive events of one instance at one instant, with consecutive positions, make one
    chunk (a command's events for one instance); anything else starts a new chunk, so any
    sequence of records is stored faithfully. An event is ``[event_type, element_id,
    payload]``.
    """
    events: list[Any] = []
    first: HistoryRecord | None = None
    following = 0
    for record in records:
        if (
            first is None
            or record.position != following
            or record.instance_key != first.instance_key
            or record.at != first.at
        ):
            if first is not None:
                yield first, events
            first, events = record, []
        events.append([record.event_type, record.element_id, record.payload])
        following = record.position + 1
    if first is not None:
        yield first, events


def _history_rows(
    records: Sequence[HistoryRecord], at: Callable[[datetime], Any]
) -> Iterator[tuple[Any, ...]]:
    """History chunk rows in :data:`_HISTORY_ORDER`, the instant converted by ``at``."""
    for first, events in _history_chunks(records):
        yield first.instance_key, first.position, len(events), at(first.at), dump_json(events)


def _bound(compiled: Any, values: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each parameter set bound for a named-style (psycopg) compiled statement."""
    for each in values:
        bound: dict[str, Any] = bind_parameters(compiled, each)
        yield bound


def _same(value: datetime) -> datetime:
    return value


class SqlTransaction:
    """Reads and writes inside one SQL transaction (the port: ``ports.Transaction``)."""

    def __init__(
        self,
        connection: sa.Connection,
        wake_channel: str | None = None,
        reserve_apart: Callable[[int], range] | None = None,
    ) -> None:
        self._connection = connection
        self._reserve_apart = reserve_apart
        self._dialect = connection.dialect
        self._dialect_name = connection.dialect.name
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
        batch = [bind_parameters(compiled, each) for each in values]
        try:
            # On PostgreSQL psycopg pipelines the statements of an executemany (one round
            # trip). A multi-row INSERT and an INSERT from unnest() of arrays were both
            # measured: they cut the server's CPU but cost the node more than they saved.
            self._cursor.executemany(compiled.sql, batch)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _insert_many(self, prepared: Prepared, values: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows: on PostgreSQL as one ``COPY … FROM STDIN`` stream (it costs the node
        less than pipelined single-row inserts), elsewhere with ``executemany``.

        ``prepared`` is an insert of every column of its table (:func:`_insert`).
        """
        if self._dialect_name != "postgresql" or len(values) < 2:
            self._run_many(prepared, values)
            return
        compiled = prepared.compiled(self._dialect)
        names = compiled.names
        self._copy(
            f"COPY {prepared.table_name} ({', '.join(names)}) FROM STDIN",
            ([bound[name] for name in names] for bound in _bound(compiled, values)),
        )

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

    # -- keys ---------------------------------------------------------------------------------
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

    # -- definitions --------------------------------------------------------------------------
    def insert_definition(self, record: DefinitionRecord) -> None:
        """Store a new process version."""
        self._run(_INSERT_DEFINITION, rows.definition_params(record))

    def get_definition(self, definition_key: int) -> DefinitionRecord | None:
        """One version by key."""
        found = self._fetch(_DEFINITION_BY_KEY, {"key": definition_key})
        return rows.definition_record(found[0]) if found else None

    def find_definition(
        self, process_id: str, version: int | None = None
    ) -> DefinitionRecord | None:
        """A process by id: the given version, or the latest when ``version`` is None."""
        if version is None:
            found = self._fetch(_LATEST_DEFINITION, {"process_id": process_id})
        else:
            parameters = {"process_id": process_id, "version": version}
            found = self._fetch(_DEFINITION_BY_VERSION, parameters)
        return rows.definition_record(found[0]) if found else None

    def list_definitions(self) -> list[DefinitionRecord]:
        """Every version of every process, by process id then version."""
        return [rows.definition_record(row) for row in self._fetch(_ALL_DEFINITIONS, {})]

    # -- instances ----------------------------------------------------------------------------
    def insert_instance(self, record: InstanceRecord) -> None:
        """Store a new instance."""
        self._run(_INSERT_INSTANCE, rows.instance_params(record))

    def update_instance(self, record: InstanceRecord) -> None:
        """Save an instance whose ``revision`` was incremented by the caller.

        Raises:
            StoreError: if the stored revision is not ``record.revision - 1``.
        """
        parameters = rows.instance_params(record)
        parameters["b_instance_key"] = parameters.pop("instance_key")
        parameters["b_revision"] = record.revision - 1
        if self._run(_UPDATE_INSTANCE, parameters).rowcount != 1:
            raise ConflictError(
                f"instance {record.instance_key} was changed concurrently "
                f"(expected revision {record.revision - 1})"
            )

    def insert_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Store several new instances (one ``executemany``, or one COPY on PostgreSQL)."""
        if records:
            self._insert_many(_INSERT_INSTANCE, [rows.instance_params(r) for r in records])

    def update_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Save several instances with one revision check: one ``executemany``, or on
        PostgreSQL one UPDATE from rows staged with COPY (:meth:`_update_instances_staged`).

        The driver reports the rows changed by the whole batch; fewer than the records means
        some instance was changed concurrently, and the caller's transaction rolls back.
        """
        if not records:
            return
        if self._dialect_name == "postgresql" and len(records) > 1:
            self._update_instances_staged(records)
        else:
            batch = []
            for record in records:
                parameters = rows.instance_params(record)
                parameters["b_instance_key"] = parameters.pop("instance_key")
                parameters["b_revision"] = record.revision - 1
                batch.append(parameters)
            self._run_many(_UPDATE_INSTANCE, batch)
        if self._cursor.rowcount != len(records):
            raise ConflictError(
                f"{len(records) - self._cursor.rowcount} of {len(records)} instances were "
                "changed concurrently"
            )

    def _update_instances_staged(self, records: Sequence[InstanceRecord]) -> None:
        """PostgreSQL: COPY the rows into ``legato_instance_rows``, then one UPDATE … FROM
        it (a COPY costs the node less per row than pipelined single-row UPDATEs)."""
        info = self._connection.info
        if not info.get(_STAGED_TABLE_MADE):
            # IF NOT EXISTS: after a rollback the table may or may not be there.
            self._raw(_STAGE_INSTANCES)
            info[_STAGED_TABLE_MADE] = True
        compiled = _INSERT_INSTANCE.compiled(self._dialect)
        parameters = (rows.instance_params(record) for record in records)
        self._copy(
            _COPY_STAGED_INSTANCES,
            (
                [*(bound[name] for name in _STAGED_COLUMNS), record.revision - 1]
                for bound, record in zip(_bound(compiled, parameters), records, strict=True)
            ),
        )
        self._raw(_UPDATE_FROM_STAGED)

    def get_revision(self, instance_key: int) -> int | None:
        """The stored revision of an instance."""
        found = self._fetch(_INSTANCE_REVISION, {"key": instance_key})
        return int(found[0].revision) if found else None

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        """One instance by key (with its state)."""
        found = self._fetch(_INSTANCE_BY_KEY, {"key": instance_key})
        return rows.instance_record(found[0]) if found else None

    def get_instances(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys (with their states); unknown keys are left out."""
        found = []
        for size, values in _in_lists(list(dict.fromkeys(instance_keys)), self._dialect_name):
            found += self._fetch(instances_in_query(size, True), values)
        return [rows.instance_record(row) for row in found]

    def get_revisions(self, instance_keys: Sequence[int]) -> dict[int, int]:
        """The stored revision of each of these instances (unknown keys are left out)."""
        revisions: dict[int, int] = {}
        for size, values in _in_lists(list(dict.fromkeys(instance_keys)), self._dialect_name):
            for row in self._fetch(instances_in_query(size, False), values):
                revisions[int(row.instance_key)] = int(row.revision)
        return revisions

    def list_instances(
        self,
        *,
        status: str | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InstanceRecord]:
        """Instances, newest first, with an empty ``state`` (it is not read)."""
        query = _with_status(sa.select(*_INSTANCE_SUMMARY), status)
        for column, value in (
            (instances.c.process_id, process_id),
            (instances.c.business_key, business_key),
        ):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(instances.c.started_at.desc(), instances.c.instance_key.desc())
        result = self._execute(query.limit(limit).offset(offset))
        return [rows.instance_record(row, with_state=False) for row in result]

    def count_instances(self, *, status: str | None = None) -> int:
        """How many instances there are (with that status)."""
        query = _with_status(sa.select(sa.func.count()).select_from(instances), status)
        return int(self._execute(query).scalar_one())

    # -- cockpit queries and the tables derived from history ---------------------------------
    def search_instances(self, query: InstanceQuery) -> list[InstanceRecord]:
        """The page of instances ``query`` asks for, newest first (states not read)."""
        result = self._execute(cockpit.search_select(query))
        return [rows.instance_record(row, with_state=False) for row in result]

    def count_instances_upto(self, query: InstanceQuery, cap: int) -> int:
        """How many instances ``query`` finds, up to ``cap``.

        PostgreSQL: without JIT for this transaction. The count is thousands of index
        probes whose estimated cost passes ``jit_above_cost``, and compiling the plan took
        longer than running it (tens of ms measured on a million instances)."""
        if self._dialect_name == "postgresql":
            self._raw("SET LOCAL jit = off")
        return int(self._execute(cockpit.count_select(query, cap)).scalar_one())

    def instance_summaries(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys, states not read."""
        found: list[InstanceRecord] = []
        for chunk in iter_chunks(list(instance_keys), _IN_CHUNK):
            query = sa.select(*cockpit.INSTANCE_SUMMARY).where(
                instances.c.instance_key.in_(list(chunk))
            )
            found += [rows.instance_record(row, with_state=False) for row in self._execute(query)]
        return found

    def write_derived(self, derived: DerivedRows, shard: int) -> None:
        """Upsert and delete root variables, add counter deltas, insert evaluations."""
        upserts, deletes = cockpit.variable_rows(derived)
        if upserts:
            self._run_many(cockpit.variable_upsert(self._dialect_name), upserts)
        if deletes:
            self._run_many(cockpit.VARIABLE_DELETE, deletes)
        counts = cockpit.count_rows(derived, shard)
        if counts:
            self._run_many(cockpit.counts_upsert(self._dialect_name), counts)
        evaluations = cockpit.evaluation_rows(derived)
        if evaluations:
            self._run_many(cockpit.EVALUATION_INSERT, evaluations)

    def clear_derived(self) -> None:
        """Empty the derived tables."""
        for table in cockpit.DERIVED_TABLES:
            self._execute(sa.delete(table))

    def element_counts(self, definition_keys: Sequence[int]) -> list[ElementCountsRecord]:
        """Per element, the counters of these versions summed over shards and versions."""
        if not definition_keys:
            return []
        result = self._execute(cockpit.element_counts_select(definition_keys))
        return [
            ElementCountsRecord(
                row.element_id,
                int(row.active),
                int(row.completed),
                int(row.terminated),
                int(row.incidents),
            )
            for row in result
        ]

    def counts_by_definition(self) -> dict[int, tuple[int, int, int, int]]:
        """Per definition key: instances active, completed, terminated; open incidents."""
        return {
            row.definition_key: (
                int(row.active),
                int(row.completed),
                int(row.terminated),
                int(row.incidents),
            )
            for row in self._execute(cockpit.COUNTS_BY_DEFINITION)
        }

    def open_incident_causes(
        self, limit: int
    ) -> list[tuple[str, str, str, str, int, datetime, datetime]]:
        """Open incidents counted by exact cause (one GROUP BY)."""
        result = self._execute(cockpit.OPEN_INCIDENT_CAUSES.limit(limit)).all()
        oldest_type = incidents.c.created_at.type
        return [
            (
                row.process_id,
                row.element_id,
                row.error_type,
                row.message,
                int(row.total),
                _moment(row.oldest, oldest_type, self._dialect),
                _moment(row.newest, oldest_type, self._dialect),
            )
            for row in result
        ]

    def open_incidents_with_process(self, limit: int) -> list[tuple[str, IncidentRecord]]:
        """Open incidents, oldest first, with their instances' process ids."""
        result = self._execute(cockpit.OPEN_INCIDENTS_WITH_PROCESS.limit(limit))
        return [(row.process_id, rows.incident_record(row)) for row in result]

    def list_decision_evaluations(
        self, decision_id: str, *, after: tuple[datetime, int, int] | None, limit: int
    ) -> list[DecisionEvaluationRecord]:
        """A decision's evaluations, newest first."""
        result = self._execute(cockpit.evaluations_select(decision_id, after, limit))
        return [
            DecisionEvaluationRecord(
                instance_key=row.instance_key,
                position=row.position,
                decision_id=row.decision_id,
                decision_key=row.decision_key,
                decision_version=row.decision_version,
                element_id=row.element_id,
                element_instance_key=row.element_instance_key,
                evaluated_at=row.evaluated_at,
                matched_rules=tuple(row.matched_rules),
                result=row.result,
            )
            for row in result
        ]

    # -- idempotent starts --------------------------------------------------------------------
    def find_start_request(self, request_id: str) -> int | None:
        """The instance key a start request id produced, if it was seen before."""
        found = self._fetch(_START_REQUEST, {"request_id": request_id})
        return int(found[0].instance_key) if found else None

    def insert_start_request(self, request_id: str, instance_key: int, at: datetime) -> None:
        """Remember which instance a start request id produced (unique per request id)."""
        parameters = {"request_id": request_id, "instance_key": instance_key, "requested_at": at}
        self._run(_INSERT_START_REQUEST, parameters)

    # -- history ------------------------------------------------------------------------------
    def append_history(self, records: Sequence[HistoryRecord]) -> None:
        """Append events (positions are given by the caller and unique per instance)."""
        if not records:
            return
        self._check_open()
        if self._dialect_name == "postgresql" and len(records) > 1:
            self._copy_history(records)
            return
        compiled = _INSERT_HISTORY.compiled(self._dialect)
        if (
            self._dialect.name != "sqlite"
            or not compiled.positional
            or compiled.names != _HISTORY_ORDER
        ):
            # executemany: one prepared statement stepped once per chunk.
            chunks = [
                rows.history_params(first, events) for first, events in _history_chunks(records)
            ]
            self._run_many(_INSERT_HISTORY, chunks)
            return
        # History is most of what a command writes: its rows are made here directly, and the
        # instant of a chunk is converted once, instead of going through the generic
        # per-value type processing.
        try:
            self._cursor.executemany(compiled.sql, list(_history_rows(records, to_micros)))
        except Exception as exc:
            raise self._translated(exc) from exc

    def _copy_history(self, records: Sequence[HistoryRecord]) -> None:
        """PostgreSQL: history chunk rows through ``COPY … FROM STDIN``, one stream per batch.

        A batch writes a chunk per command and instance (some 200 rows for a batch of 200
        commands); as single-row statements each costs psycopg its per-statement work. COPY
        sends them as one stream of rows, inside this transaction like any other write.
        """
        self._copy(_COPY_HISTORY, _history_rows(records, _same))

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order (its chunks expanded into events)."""
        return [
            record
            for row in self._fetch(_HISTORY, {"key": instance_key})
            for record in rows.history_records(row)
        ]

    # -- jobs ---------------------------------------------------------------------------------
    def insert_jobs(self, records: Sequence[JobRecord]) -> None:
        """Store new jobs."""
        if records:
            self._insert_many(_INSERT_JOB, [rows.job_params(r) for r in records])
            if any(record.state == "activatable" for record in records):
                self._wake_nodes()

    def update_job(self, record: JobRecord) -> None:
        """Replace a job's row.

        Raises:
            NotFoundError: if the job does not exist.
        """
        parameters = rows.job_params(record)
        parameters["b_job_key"] = parameters.pop("job_key")
        if record.state == "activatable":
            self._wake_nodes()
        if self._run(_UPDATE_JOB, parameters).rowcount != 1:
            raise NotFoundError(f"job {record.job_key} does not exist")

    def delete_jobs(self, job_keys: Sequence[int]) -> None:
        """Remove finished or cancelled jobs (unknown keys are ignored)."""
        if not job_keys:
            return
        if self._dialect_name == "postgresql" and len(job_keys) > 1:
            self._raw(_DELETE_JOBS_ANY, [list(job_keys)])
            return
        self._run_many(_DELETE_JOB, [{"key": key} for key in job_keys])

    def get_job(self, job_key: int, *, for_update: bool = False) -> JobRecord | None:
        """One job by key; ``for_update`` locks its row (PostgreSQL ``FOR UPDATE``; SQLite's
        transaction holds the write lock already)."""
        if for_update and self._dialect_name == "postgresql":
            query = sa.select(jobs).where(jobs.c.job_key == job_key).with_for_update()
            row = self._execute(query).first()
            return rows.job_record(row) if row is not None else None
        found = self._fetch(_JOB_BY_KEY, {"key": job_key})
        return rows.job_record(found[0]) if found else None

    def find_fetchable_jobs(
        self,
        job_types: Sequence[str],
        now: datetime,
        limit: int,
        *,
        business_key: str | None = None,
        process_ids: Sequence[str] | None = None,
        definition_keys: Sequence[int] | None = None,
        after: tuple[datetime, int] | None = None,
        by_priority: bool = False,
    ) -> list[JobRecord]:
        """Due jobs of instances that match, oldest due first (highest priority first with
        ``by_priority``), locked on PostgreSQL."""
        if limit < 1 or not job_types:
            return []
        query = fetchable_jobs_query(
            self._dialect_name,
            business_key is not None,
            process_ids is not None,
            definition_keys is not None,
            after is not None and not by_priority,
            by_priority,
        )
        parameters: dict[str, Any] = {"now": utc(now), "limit": limit, "types": list(job_types)}
        if business_key is not None:
            parameters["business_key"] = business_key
        if process_ids is not None:
            parameters["process_ids"] = list(process_ids)
        if definition_keys is not None:
            parameters["definition_keys"] = list(definition_keys)
        if after is not None and not by_priority:
            parameters["after_at"], parameters["after_key"] = utc(after[0]), after[1]
        return [rows.job_record(row) for row in self._execute(query, parameters)]

    def lease_jobs(
        self, job_keys: Sequence[int], worker: str, now: datetime, lease_until: datetime
    ) -> list[JobRecord]:
        """Lease those of these jobs still available at ``now`` (a conditional ``UPDATE``:
        a job another transaction leased first is left out)."""
        parameters = {"now": utc(now), "worker": worker, "lease_until": utc(lease_until)}
        lease = _LEASE_AVAILABLE_ANY if self._dialect_name == "postgresql" else _LEASE_AVAILABLE
        leased: dict[int, JobRecord] = {}
        for chunk in iter_chunks(list(job_keys), _IN_CHUNK):
            for row in self._execute(lease, {**parameters, "keys": list(chunk)}):
                leased[row.job_key] = rows.job_record(row)
        return [leased[key] for key in job_keys if key in leased]

    def activate_jobs(
        self,
        job_types: Sequence[str] | None,
        worker: str,
        max_jobs: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[JobRecord]:
        """Hand out up to ``max_jobs`` due jobs, oldest due first, leased to ``worker``."""
        now, lease_until = utc(now), utc(lease_until)
        if max_jobs < 1 or (job_types is not None and not job_types):
            return []
        query = due_jobs_query(self._dialect_name, job_types is not None)
        parameters: dict[str, Any] = {"now": now, "max_jobs": max_jobs}
        if job_types is not None:
            parameters["types"] = list(job_types)
        picked = [rows.job_record(row) for row in self._execute(query, parameters)]
        keys = [job.job_key for job in picked]
        lease = {"worker": worker, "lease_until": lease_until}
        lease_jobs = _LEASE_JOBS_ANY if self._dialect_name == "postgresql" else _LEASE_JOBS
        for chunk in iter_chunks(keys, _IN_CHUNK):
            self._execute(lease_jobs, {**lease, "keys": list(chunk)})
        return [
            replace(job, state="activated", worker=worker, lease_until=lease_until)
            for job in picked
        ]

    def extend_leases(
        self, job_keys: Sequence[int], worker: str, lease_until: datetime
    ) -> list[int]:
        """Extend ``worker``'s leases of these jobs (one ``UPDATE … RETURNING`` per chunk)."""
        lease_until = utc(lease_until)
        held: list[int] = []
        for chunk in iter_chunks(sorted(job_keys), _IN_CHUNK):
            statement = (
                _held_jobs(chunk, worker)
                .values(lease_until=lease_until, available_at=lease_until)
                .returning(jobs.c.job_key)
            )
            held.extend(row.job_key for row in self._execute(statement))
        return sorted(held)

    def release_jobs(self, job_keys: Sequence[int], worker: str) -> int:
        """Give back ``worker``'s jobs: activatable again from their due time."""
        released = 0
        for chunk in iter_chunks(sorted(job_keys), _IN_CHUNK):
            statement = _held_jobs(chunk, worker).values(
                state="activatable", worker=None, lease_until=None, available_at=jobs.c.due_at
            )
            released += self._execute(statement).rowcount
        if released:
            self._wake_nodes()
        return released

    def next_job_due_at(
        self,
        job_types: Sequence[str] | None,
        *,
        held: bool = True,
        after: datetime | None = None,
    ) -> datetime | None:
        """When the next job (of these types) becomes due, counting expiring leases unless
        ``held`` is False; the first such time later than ``after`` when given."""
        if job_types is not None and not job_types:
            return None
        parameters: dict[str, Any] | None = (
            None if job_types is None else {"types": list(job_types)}
        )
        query = next_due_query(job_types is not None)
        if not held:
            query = query.where(jobs.c.state == "activatable")
        if after is not None:
            query = query.where(jobs.c.available_at > _bp("after"))
            parameters = {**(parameters or {}), "after": utc(after)}
        value: datetime | None = self._execute(query, parameters).scalar()
        return value

    def list_jobs(
        self, *, instance_key: int | None = None, state: str | None = None
    ) -> list[JobRecord]:
        """Jobs, oldest first (by key)."""
        query = sa.select(jobs).order_by(jobs.c.job_key)
        if instance_key is not None:
            query = query.where(jobs.c.instance_key == instance_key)
        if state is not None:
            query = query.where(jobs.c.state == state)
        return [rows.job_record(row) for row in self._execute(query)]

    # -- timers -------------------------------------------------------------------------------
    def insert_timers(self, records: Sequence[TimerRecord]) -> None:
        """Store new timers (one ``executemany``)."""
        if records:
            self._run_many(_INSERT_TIMER, [rows.timer_params(r) for r in records])
            self._wake_nodes()

    def delete_timers(self, timer_keys: Sequence[int]) -> None:
        """Remove fired or cancelled timers (unknown keys are ignored)."""
        if timer_keys:
            self._run_many(_DELETE_TIMER, [{"key": key} for key in timer_keys])

    def claim_due_timers(
        self, now: datetime, max_timers: int, lease_until: datetime
    ) -> list[TimerRecord]:
        """Claim up to ``max_timers`` due timers (or expired claims) until ``lease_until``.

        Earliest available first, ties by key.
        """
        now, lease_until = utc(now), utc(lease_until)
        if max_timers < 1:
            return []
        query = due_timers_query(self._dialect_name)
        found = self._fetch(query, {"now": now, "max_timers": max_timers})
        claimed = [rows.timer_record(row, claimed_until=lease_until) for row in found]
        if claimed:
            claim = [{"key": t.timer_key, "lease_until": lease_until} for t in claimed]
            self._run_many(_CLAIM_TIMER, claim)
        return claimed

    def next_timer_due_at(self) -> datetime | None:
        """When the next timer becomes due (counting expiring claims)."""
        found = self._fetch(_NEXT_TIMER_DUE, {})
        return found[0].available_at if found else None

    def list_timers(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[TimerRecord]:
        """Timers by due time, then key.

        With ``instance_key``, that instance's timers (of ``definition_key`` if also given);
        with only ``definition_key``, the timer start events of that definition; with
        neither, every timer.
        """
        query = listing_query(timers, instance_key is not None, definition_key is not None)
        parameters = {"instance_key": instance_key, "definition_key": definition_key}
        return [rows.timer_record(row) for row in self._fetch(query, parameters)]

    # -- message and signal subscriptions ----------------------------------------------------
    def insert_subscriptions(self, records: Sequence[SubscriptionRecord]) -> None:
        """Store new subscriptions (one ``executemany``)."""
        if records:
            parameters = [rows.subscription_params(r) for r in records]
            self._run_many(_INSERT_SUBSCRIPTION, parameters)

    def delete_subscriptions(self, subscription_keys: Sequence[int]) -> None:
        """Remove closed subscriptions (unknown keys are ignored)."""
        if subscription_keys:
            self._run_many(_DELETE_SUBSCRIPTION, [{"key": key} for key in subscription_keys])

    def find_subscriptions(
        self, kind: str, name: str, correlation_key: str | None = None
    ) -> list[SubscriptionRecord]:
        """Open subscriptions of ``kind`` for ``name``, oldest (by key) first.

        For messages an instance subscription matches when its correlation key equals
        ``correlation_key`` (None equals None); start events always match. Signals ignore
        correlation keys.
        """
        correlated = kind == "message"
        query = subscriptions_query(correlated, correlated and correlation_key is None)
        parameters = {"kind": kind, "name": name, "correlation_key": correlation_key}
        return [rows.subscription_record(row) for row in self._fetch(query, parameters)]

    def find_message_subscriptions(
        self, name: str, correlation_keys: Sequence[str | None]
    ) -> list[SubscriptionRecord]:
        """Open message subscriptions of ``name`` for any of ``correlation_keys`` and the
        start-event ones of the name, each once, oldest (by key) first."""
        keys = [key for key in dict.fromkeys(correlation_keys) if key is not None]
        found = []
        for size, values in _in_lists(keys, self._dialect_name):
            found += self._fetch(message_subscriptions_in_query(size), {"name": name, **values})
        if len(keys) < len(set(correlation_keys)):  # None is among them: IN cannot match it
            found += self._fetch(subscriptions_query(True, True), {"kind": "message", "name": name})
        else:
            found += self._fetch(_MESSAGE_STARTS, {"name": name})
        records = [rows.subscription_record(row) for row in found]
        return sorted(records, key=lambda record: record.subscription_key)

    def list_subscriptions(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[SubscriptionRecord]:
        """Subscriptions by key.

        With ``instance_key``, that instance's (of ``definition_key`` if also given); with
        only ``definition_key``, the start-event ones of that definition; with neither, all.
        """
        query = listing_query(subscriptions, instance_key is not None, definition_key is not None)
        parameters = {"instance_key": instance_key, "definition_key": definition_key}
        return [rows.subscription_record(row) for row in self._fetch(query, parameters)]

    # -- buffered messages --------------------------------------------------------------------
    def insert_message(self, record: MessageRecord) -> MessageRecord:
        """Buffer a message; with a ``message_id`` already buffered, return that one instead.

        A buffered message with the id that had expired by ``record.published_at`` (its row
        not swept yet) is replaced.
        """
        record = replace(
            record, published_at=utc(record.published_at), expires_at=utc(record.expires_at)
        )
        statement = insert_message_statement(self._dialect_name)
        parameters = rows.message_params(record)
        if self._run(statement, parameters).rowcount == 1:
            return record
        # Nothing inserted: only a buffered message with the same id does that (other
        # constraint violations raise).
        found = self._fetch(_MESSAGE_BY_ID, {"message_id": record.message_id})
        stored = rows.message_record(found[0])
        if not message_is_stale(stored, record):
            return stored
        self._run(_DELETE_MESSAGE, {"key": stored.message_key})
        self._run(statement, parameters)
        return record

    def find_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[MessageRecord]:
        """Buffered messages of this name and correlation key (None equals None) that expire
        after ``now``, oldest (by key) first."""
        query = messages_query(correlation_key is None)
        parameters = {"name": name, "correlation_key": correlation_key, "now": utc(now)}
        return [rows.message_record(row) for row in self._fetch(query, parameters)]

    def delete_messages(self, message_keys: Sequence[int]) -> None:
        """Remove correlated messages (unknown keys are ignored)."""
        if message_keys:
            self._run_many(_DELETE_MESSAGE, [{"key": key} for key in message_keys])

    def expire_messages(self, now: datetime) -> list[MessageRecord]:
        """Remove and return the messages with ``expires_at <= now``, oldest (by key) first."""
        # DELETE … RETURNING: one ix_messages_expiry range, and exactly the rows removed are
        # returned even where another writer could insert in between (PostgreSQL).
        statement = (
            sa.delete(messages).where(messages.c.expires_at <= utc(now)).returning(*messages.c)
        )
        expired = [rows.message_record(row) for row in self._execute(statement)]
        expired.sort(key=lambda message: message.message_key)
        return expired

    # -- user tasks ---------------------------------------------------------------------------
    def upsert_user_task(self, record: UserTaskRecord) -> None:
        """Insert or replace a user task."""
        statement = upsert_statement(self._dialect_name, user_tasks)
        self._run(statement, rows.user_task_params(record))

    def get_user_task(self, user_task_key: int) -> UserTaskRecord | None:
        """One user task by key."""
        found = self._fetch(_USER_TASK_BY_KEY, {"key": user_task_key})
        return rows.user_task_record(found[0]) if found else None

    def list_user_tasks(
        self,
        *,
        state: str | None = "created",
        assignee: str | None = None,
        candidate_group: str | None = None,
        instance_key: int | None = None,
    ) -> list[UserTaskRecord]:
        """User tasks, oldest first."""
        return self.find_user_tasks(
            UserTaskQuery(
                state=state,
                assignee=assignee,
                candidate_group=candidate_group,
                instance_key=instance_key,
            )
        )

    def find_user_tasks(self, query: UserTaskQuery) -> list[UserTaskRecord]:
        """The page of user tasks ``query`` asks for, in its order."""
        statement = tasks_select(query, self._dialect_name)
        return [rows.user_task_record(row) for row in self._execute(statement)]

    def count_user_tasks(self, query: UserTaskQuery) -> int:
        """How many user tasks ``query``'s filters find (its page ignored)."""
        return int(self._execute(tasks_count(query, self._dialect_name)).scalar_one())

    # -- forms --------------------------------------------------------------------------------
    def insert_form(self, record: FormRecord) -> None:
        """Store a new version of a form."""
        self._execute(sa.insert(forms), rows.form_params(record))

    def find_form(
        self,
        form_id: str | None = None,
        *,
        form_key: int | None = None,
        version: int | None = None,
        version_tag: str | None = None,
    ) -> FormRecord | None:
        """A form version by key, or by id (the latest, or the given version, or the latest
        with the given version tag)."""
        query = sa.select(forms)
        if form_key is not None:
            query = query.where(forms.c.form_key == form_key)
        if form_id is not None:
            query = query.where(forms.c.form_id == form_id)
        if version is not None:
            query = query.where(forms.c.version == version)
        if version_tag is not None:
            query = query.where(forms.c.version_tag == version_tag)
        found = self._execute(query.order_by(forms.c.version.desc()).limit(1)).first()
        return rows.form_record(found) if found is not None else None

    # -- incidents ----------------------------------------------------------------------------
    def upsert_incident(self, record: IncidentRecord) -> None:
        """Insert or replace an incident."""
        statement = upsert_statement(self._dialect_name, incidents)
        self._run(statement, rows.incident_params(record))

    def get_incident(self, incident_key: int) -> IncidentRecord | None:
        """One incident by key."""
        found = self._fetch(_INCIDENT_BY_KEY, {"key": incident_key})
        return rows.incident_record(found[0]) if found else None

    def list_incidents(
        self, *, state: str | None = "open", instance_key: int | None = None
    ) -> list[IncidentRecord]:
        """Incidents, oldest first."""
        query = sa.select(incidents).order_by(incidents.c.created_at, incidents.c.incident_key)
        if state is not None:
            query = query.where(incidents.c.state == state)
        if instance_key is not None:
            query = query.where(incidents.c.instance_key == instance_key)
        return [rows.incident_record(row) for row in self._execute(query)]

    # -- nodes and coordination ---------------------------------------------------------------
    def save_node(self, record: NodeRecord) -> None:
        """Insert or replace a node's row (one upsert)."""
        statement = upsert_statement(self._dialect_name, nodes)
        self._run(statement, {f.name: getattr(record, f.name) for f in fields(record)})

    def list_nodes(self) -> list[NodeRecord]:
        """Every node, by id."""
        query = sa.select(nodes).order_by(nodes.c.node_id)
        return [NodeRecord(**row._mapping) for row in self._execute(query)]

    def release_dead_nodes(self, now: datetime, timeout: timedelta) -> list[str]:
        """Mark silent nodes dead and end the leases of the jobs they hold.

        On PostgreSQL the silent rows are locked (``SKIP LOCKED``): two nodes sweeping at once
        release each dead node once, and a node that heartbeats meanwhile is not touched.
        """
        now = utc(now)
        query = (
            sa.select(nodes.c.node_id)
            .where(nodes.c.status == "running", nodes.c.heartbeat_at < now - timeout)
            .order_by(nodes.c.node_id)
        )
        if self._dialect_name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        dead = [row.node_id for row in self._execute(query)]
        if not dead:
            return []
        self._execute(sa.update(nodes).where(nodes.c.node_id.in_(dead)).values(status="dead"))
        # An ended lease makes the job due again (available_at is when it may be claimed).
        self._execute(
            sa.update(jobs)
            .where(jobs.c.state == "activated", jobs.c.worker.in_(dead))
            .values(lease_until=now, available_at=now)
        )
        return dead

    def try_lock(self, name: str) -> bool:
        """PostgreSQL: a transaction-level advisory lock (released at commit or rollback, and
        when the session dies). SQLite: granted, its write lock serialises writers anyway."""
        if self._dialect_name != "postgresql":
            return True
        key = lock_id(name, self._wake_channel or "")
        granted = self._execute(sa.select(sa.func.pg_try_advisory_xact_lock(key)))
        return bool(granted.scalar())

    def database_now(self) -> datetime | None:
        """PostgreSQL's ``clock_timestamp()``; None on SQLite (one machine, one clock)."""
        if self._dialect_name != "postgresql":
            return None
        value = self._execute(sa.select(sa.func.clock_timestamp())).scalar()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    # -- retention ----------------------------------------------------------------------------
    def find_expired_instances(self, ended_before: datetime, limit: int) -> list[int]:
        """Keys of up to ``limit`` removable instances (see the port), ascending."""
        found = self._execute(
            _EXPIRED_INSTANCES, {"ended_before": utc(ended_before), "limit": limit}
        )
        return sorted(row.instance_key for row in found)

    def delete_instances(self, instance_keys: Sequence[int]) -> int:
        """Delete these ended instances and their rows (children first, for the foreign
        keys); keys of instances that have not ended are skipped."""
        deleted = 0
        for chunk in iter_chunks(sorted(set(instance_keys)), _IN_CHUNK):
            ended = [row.instance_key for row in self._execute(_ENDED_AMONG, {"keys": chunk})]
            if not ended:
                continue
            for statement in _DELETE_INSTANCE_ROWS:
                self._execute(statement, {"keys": ended})
            deleted += self._execute(_DELETE_INSTANCES, {"keys": ended}).rowcount
        return deleted

    # -- accounts -----------------------------------------------------------------------------
    # Not on any hot path (the accounts layer caches what it reads), so plain Core statements.
    def _changed_any(self, statement: sa.Executable) -> bool:
        """Whether a statement with RETURNING changed a row (the driver's ``rowcount`` is
        not reliable here on PostgreSQL: the store's psycopg cursor reports -1)."""
        return self._execute(statement).first() is not None

    def _insert_if_absent(self, table: sa.Table, values: Mapping[str, Any]) -> bool:
        """INSERT … ON CONFLICT (primary key) DO NOTHING: on PostgreSQL a concurrent insert
        of the same key waits for the other transaction and then does nothing, so exactly
        one wins and no transaction is aborted by a unique violation."""
        dialect_insert = postgresql.insert if self._dialect_name == "postgresql" else sqlite.insert
        statement = dialect_insert(table).values(**values).on_conflict_do_nothing()
        return self._changed_any(statement.returning(*table.primary_key.columns))

    def insert_user(self, record: UserRecord) -> bool:
        """Store a new user unless the name is taken (False then)."""
        return self._insert_if_absent(users, _user_params(record))

    def update_user(self, record: UserRecord) -> bool:
        """Replace a user's row; False if there is no such user."""
        params = _user_params(record)
        del params["name"]
        statement = sa.update(users).where(users.c.name == record.name).values(**params)
        return self._changed_any(statement.returning(users.c.name))

    def delete_user(self, name: str) -> bool:
        """Remove a user; False if there was none."""
        statement = sa.delete(users).where(users.c.name == name).returning(users.c.name)
        return self._changed_any(statement)

    def get_user(self, name: str) -> UserRecord | None:
        """One user by name."""
        row = self._execute(sa.select(users).where(users.c.name == name)).first()
        return None if row is None else _user_record(row._mapping)

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""
        found = self._execute(sa.select(users).order_by(users.c.name))
        return [_user_record(row._mapping) for row in found]

    def count_users(self) -> int:
        """How many users there are."""
        return int(self._execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def insert_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new API key (a taken key id is a :class:`ConflictError`)."""
        self._execute(sa.insert(api_keys).values(**_api_key_params(record)))

    def update_api_key(self, record: ApiKeyRecord) -> bool:
        """Replace an API key's row; False if there is no such key."""
        params = _api_key_params(record)
        del params["key_id"]
        statement = sa.update(api_keys).where(api_keys.c.key_id == record.key_id).values(**params)
        return self._changed_any(statement.returning(api_keys.c.key_id))

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """One API key by id."""
        row = self._execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return None if row is None else _api_key_record(row._mapping)

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key, oldest first."""
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
        return [_api_key_record(row._mapping) for row in self._execute(query)]

    def ensure_server_secret(self, name: str, value: str, at: datetime) -> str:
        """Insert the secret if absent, then read what is stored (the winner's value: on
        PostgreSQL the read is a new statement, which sees the other node's commit)."""
        self._insert_if_absent(server_secrets, {"name": name, "value": value, "created_at": at})
        query = sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
        return str(self._execute(query).scalar_one())


def _with_status(query: sa.Select[Any], status: str | None) -> sa.Select[Any]:
    """``query`` filtered on an instance status; ``suspended`` names the active instances
    an operator suspended (found through ``ix_instances_suspended``)."""
    if status is None:
        return query
    if status == SUSPENDED:
        return query.where(instances.c.suspended, instances.c.status == "active")
    if status == "incident":
        return query.where(instances.c.status == "active", instances.c.incident_count > 0)
    return query.where(instances.c.status == status)


def _moment(value: Any, column_type: Any, dialect: sa.Dialect) -> datetime:
    """An aggregate of a timestamp column (min, max) as the column's type reads it: SQLite
    returns the stored integer, untyped."""
    processor = column_type.result_processor(dialect, None)
    moment = processor(value) if processor is not None else value
    assert isinstance(moment, datetime)
    return moment


def _user_params(record: UserRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "password_hash": record.password_hash,
        "roles": list(record.roles),
        "groups": list(record.groups),
        "created_at": record.created_at,
        "disabled": record.disabled,
    }


def _user_record(row: sa.RowMapping) -> UserRecord:
    return UserRecord(
        name=row["name"],
        password_hash=row["password_hash"],
        roles=tuple(row["roles"]),
        groups=tuple(row["groups"]),
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
    )


def _api_key_params(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "secret_hash": record.secret_hash,
        "roles": list(record.roles),
        "job_types": None if record.job_types is None else list(record.job_types),
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "revoked_at": record.revoked_at,
    }


def _api_key_record(row: sa.RowMapping) -> ApiKeyRecord:
    job_types = row["job_types"]
    return ApiKeyRecord(
        key_id=row["key_id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        roles=tuple(row["roles"]),
        job_types=None if job_types is None else tuple(job_types),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


# -- retention statements -----------------------------------------------------------------------
_parent = instances.alias("parent")
# No ORDER BY: the scan of ix_instances_status_ended (partial: ended instances only) stops
# after ``limit`` matches, where an order would read every expired row before the first
# batch. The NOT EXISTS keeps the children of a parent that is still running.
_EXPIRED_INSTANCES = (
    sa.select(instances.c.instance_key)
    .where(
        instances.c.status.in_(ENDED_STATUSES),
        instances.c.ended_at.is_not(None),
        instances.c.ended_at < _bp("ended_before"),
        ~sa.exists().where(
            _parent.c.instance_key == instances.c.parent_instance_key,
            _parent.c.status.not_in(ENDED_STATUSES),
        ),
    )
    .limit(_bp("limit", type_=sa.Integer))
)
_ENDED_AMONG = sa.select(instances.c.instance_key).where(
    instances.c.instance_key.in_(_bp("keys", expanding=True)),
    instances.c.status.in_(ENDED_STATUSES),
)
_INSTANCE_ROWS = (
    history,
    jobs,
    user_tasks,
    incidents,
    timers,
    subscriptions,
    start_requests,
    instance_variables,
    decision_evaluations,
)
"""Every table with rows that belong to an instance (a test checks none is missing)."""
_DELETE_INSTANCE_ROWS = tuple(
    sa.delete(table).where(table.c.instance_key.in_(_bp("keys", expanding=True)))
    for table in _INSTANCE_ROWS
)
_DELETE_INSTANCES = sa.delete(instances).where(
    instances.c.instance_key.in_(_bp("keys", expanding=True))
)


if TYPE_CHECKING:

    def _satisfies_port(store: SqlStore) -> Store:
        # mypy proves here that the adapter implements the port.
        return store
