"""The SQL :class:`~legato.store.ports.Store` on SQLAlchemy Core (SQLite today).

One :class:`SqlStore` keeps one connection open for its whole life and runs one transaction at
a time on it (a lock serialises threads): SQLite admits one writer anyway, and reusing the
connection keeps sqlite3's prepared statements and SQLAlchemy's compiled cache warm.
Statements are built once at import time, so each call only binds parameters.

Dialect specifics live in small functions (:func:`due_jobs_query`, :func:`upsert_statement`
and the engine factory in :mod:`legato.store.sqlite`) so that PostgreSQL can be added by
extending them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult

from legato.errors import NotFoundError, StoreError
from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared, bind_parameters, result_rows
from legato.store._rules import FIRST_KEY, dump_json, utc
from legato.store.ports import Store, iter_chunks
from legato.store.records import (
    DefinitionRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceRecord,
    JobRecord,
    UserTaskRecord,
)
from legato.store.schema import (
    KEY_COUNTER,
    SCHEMA_VERSION,
    definitions,
    history,
    incidents,
    instances,
    jobs,
    key_counters,
    metadata,
    schema_versions,
    start_requests,
    to_micros,
    user_tasks,
)
from legato.store.sqlite import create_sqlite_engine

_IN_CHUNK = 500
"""Keys per ``IN (...)`` list: far below SQLite's bound-variable limit (999 before 3.32)."""

_bp = sa.bindparam


def _columns(table: sa.Table, *, without: str | None = None) -> list[str]:
    return [column.name for column in table.c if column.name != without]


def _insert(table: sa.Table) -> Prepared:
    return Prepared(sa.insert(table), _columns(table))


def _by_key(table: sa.Table, key_column: str) -> Prepared:
    return Prepared(sa.select(table).where(table.c[key_column] == _bp("key")))


_RESERVE_KEYS = Prepared(
    sa.update(key_counters)
    .where(key_counters.c.name == KEY_COUNTER)
    .values(next_key=key_counters.c.next_key + _bp("count"))
    .returning(key_counters.c.next_key)
)
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
_INSTANCE_BY_KEY = _by_key(instances, "instance_key")
_INSTANCE_SUMMARY = [column for column in instances.c if column.name != "state"]
_INSERT_START_REQUEST = _insert(start_requests)
_START_REQUEST = Prepared(
    sa.select(start_requests.c.instance_key).where(start_requests.c.request_id == _bp("request_id"))
)
_INSERT_HISTORY = _insert(history)
_HISTORY = Prepared(
    sa.select(history).where(history.c.instance_key == _bp("key")).order_by(history.c.position)
)
_INSERT_JOB = _insert(jobs)
_UPDATE_JOB = Prepared(
    sa.update(jobs).where(jobs.c.job_key == _bp("b_job_key")), _columns(jobs, without="job_key")
)
_DELETE_JOBS = sa.delete(jobs).where(jobs.c.job_key.in_(_bp("keys", expanding=True)))
_JOB_BY_KEY = _by_key(jobs, "job_key")
_LEASE_JOBS = (
    sa.update(jobs)
    .where(jobs.c.job_key.in_(_bp("keys", expanding=True)))
    .values(
        state="activated",
        worker=_bp("worker"),
        lease_until=_bp("lease_until"),
        available_at=_bp("lease_until"),
    )
)
_USER_TASK_BY_KEY = _by_key(user_tasks, "user_task_key")
_INCIDENT_BY_KEY = _by_key(incidents, "incident_key")


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
        url: a SQLAlchemy URL: ``sqlite:///path/to/file.db`` or ``sqlite://`` (in memory,
            private to this store).
        synchronous: SQLite's ``PRAGMA synchronous``: ``FULL`` (default, durable on power
            loss) or ``NORMAL`` (durable on a process crash, faster).
        busy_timeout: how long to wait for another process's write lock.

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
        parsed = sa.make_url(url)
        if parsed.get_backend_name() != "sqlite":
            raise StoreError(f"unsupported database {parsed.get_backend_name()!r}; use sqlite")
        self._engine = create_sqlite_engine(
            parsed, synchronous=synchronous, busy_timeout=busy_timeout
        )
        # A reentrant lock so that a nested transaction() in one thread gets a clear error.
        self._lock = threading.RLock()
        try:
            self._connection = self._engine.connect()
        except sa.exc.DBAPIError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open {parsed!r}: {exc.orig}") from exc
        try:
            _prepare_schema(self._connection)
        except BaseException:
            self.close()
            raise

    @property
    def engine(self) -> sa.Engine:
        """The engine, for read-only tooling (each new connection gets the same pragmas)."""
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """A transaction: commits when the block ends normally, rolls back on an exception.

        Raises:
            StoreError: if the database lock cannot be had in time, the commit fails, or a
                transaction of this store is already open in this thread.
        """
        with self._lock:
            connection = self._connection
            if connection.in_transaction():
                raise StoreError("a transaction is already open; transactions do not nest")
            with _translated_errors():
                transaction = connection.begin()
            tx: SqlTransaction | None = None
            try:
                tx = SqlTransaction(connection)
                yield tx
                tx.close()
                with _translated_errors():
                    transaction.commit()
            finally:
                if tx is not None:
                    tx.close()
                # Anything but a completed commit ends in a rollback, which also releases
                # SQLite's write lock for the next writer.
                if transaction.is_active:
                    transaction.rollback()

    def close(self) -> None:
        """Close the connection and release the engine."""
        with self._lock:
            self._connection.close()
            self._engine.dispose()


def _prepare_schema(connection: sa.Connection) -> None:
    """Create the schema in a fresh database; refuse a schema this code does not know."""
    # One write transaction: two processes opening a new file at once create it once.
    with _translated_errors(), connection.begin():
        version = _stored_schema_version(connection)
        if version is None:
            metadata.create_all(connection)
            now = datetime.now(UTC)
            connection.execute(
                sa.insert(schema_versions), {"version": SCHEMA_VERSION, "applied_at": now}
            )
            connection.execute(
                sa.insert(key_counters), {"name": KEY_COUNTER, "next_key": FIRST_KEY}
            )
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"the database has schema version {version}, newer than version "
                f"{SCHEMA_VERSION} that this Legato knows; upgrade Legato to use it"
            )
        elif version < SCHEMA_VERSION:
            raise StoreError(
                f"the database has schema version {version}, older than {SCHEMA_VERSION}; "
                "it needs a migration"
            )


def _stored_schema_version(connection: sa.Connection) -> int | None:
    if not sa.inspect(connection).has_table(schema_versions.name):
        return None
    version = connection.scalar(sa.select(sa.func.max(schema_versions.c.version)))
    return None if version is None else int(version)


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn driver errors into :class:`StoreError` (keeping the cause)."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise StoreError(f"constraint violated: {exc.orig}") from exc
    except sa.exc.StatementError as exc:
        # Errors raised while binding parameters (e.g. a naive datetime) arrive wrapped.
        if isinstance(exc.orig, StoreError):
            raise exc.orig from exc
        raise StoreError(f"database error: {exc.orig}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"database error: {exc}") from exc


class SqlTransaction:
    """Reads and writes inside one SQL transaction (the port: ``ports.Transaction``)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect
        self._dialect_name = connection.dialect.name
        dbapi = connection.dialect.loaded_dbapi
        self._integrity_error: type[Exception] = dbapi.IntegrityError
        self._dbapi_error: type[Exception] = dbapi.Error
        # One cursor on the connection SQLAlchemy began the transaction on: the hot-path
        # statements run here, inside the same BEGIN ... COMMIT.
        self._cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self._open = True

    def close(self) -> None:
        """Refuse further use: a statement after the end would silently start a new one."""
        if self._open:
            self._open = False
            self._cursor.close()

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("the transaction has ended")

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
            self._cursor.executemany(compiled.sql, batch)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _fetch(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Any]:
        cursor = self._run(prepared, values)
        return result_rows(prepared.compiled(self._dialect), cursor.fetchall())

    def _translated(self, exc: Exception) -> Exception:
        if isinstance(exc, self._integrity_error):
            return StoreError(f"constraint violated: {exc}")
        if isinstance(exc, self._dbapi_error):
            return StoreError(f"database error: {exc}")
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
        """Reserve ``count`` fresh keys (returned to the pool if the transaction rolls back).

        The counter row is bumped inside the transaction, so a reservation is durable exactly
        when the rows that use its keys are.
        """
        if count < 1:
            raise StoreError(f"cannot reserve {count} keys")
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
            raise StoreError(
                f"instance {record.instance_key} was changed concurrently "
                f"(expected revision {record.revision - 1})"
            )

    def insert_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Store several new instances with one ``executemany``."""
        if records:
            self._run_many(_INSERT_INSTANCE, [rows.instance_params(r) for r in records])

    def update_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Save several instances with one ``executemany`` and one revision check.

        The driver reports the rows changed by the whole batch; fewer than the records means
        some instance was changed concurrently, and the caller's transaction rolls back.
        """
        if not records:
            return
        batch = []
        for record in records:
            parameters = rows.instance_params(record)
            parameters["b_instance_key"] = parameters.pop("instance_key")
            parameters["b_revision"] = record.revision - 1
            batch.append(parameters)
        self._run_many(_UPDATE_INSTANCE, batch)
        if self._cursor.rowcount != len(records):
            raise StoreError(
                f"{len(records) - self._cursor.rowcount} of {len(records)} instances were "
                "changed concurrently"
            )

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        """One instance by key (with its state)."""
        found = self._fetch(_INSTANCE_BY_KEY, {"key": instance_key})
        return rows.instance_record(found[0]) if found else None

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
        query = sa.select(*_INSTANCE_SUMMARY)
        for column, value in (
            (instances.c.status, status),
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
        query = sa.select(sa.func.count()).select_from(instances)
        if status is not None:
            query = query.where(instances.c.status == status)
        return int(self._execute(query).scalar_one())

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
        compiled = _INSERT_HISTORY.compiled(self._dialect)
        if not compiled.positional or self._dialect.name != "sqlite":
            # executemany: one prepared statement stepped once per row.
            self._run_many(_INSERT_HISTORY, [rows.history_params(r) for r in records])
            return
        # History is most of what a command writes: its rows are made here directly, and the
        # instant of a step (shared by all its events) is converted once, instead of going
        # through the generic per-value type processing.
        micros: dict[datetime, int] = {}
        batch = []
        for record in records:
            at = micros.get(record.at)
            if at is None:
                at = micros[record.at] = to_micros(record.at)
            values = {
                "instance_key": record.instance_key,
                "position": record.position,
                "event_type": record.event_type,
                "element_id": record.element_id,
                "at": at,
                "payload": dump_json(record.payload),
            }
            batch.append([values[name] for name in compiled.names])
        try:
            self._cursor.executemany(compiled.sql, batch)
        except Exception as exc:
            raise self._translated(exc) from exc

    def history(self, instance_key: int) -> list[HistoryRecord]:
        """An instance's whole history in order."""
        return [rows.history_record(row) for row in self._fetch(_HISTORY, {"key": instance_key})]

    # -- jobs ---------------------------------------------------------------------------------
    def insert_jobs(self, records: Sequence[JobRecord]) -> None:
        """Store new jobs."""
        if records:
            self._run_many(_INSERT_JOB, [rows.job_params(r) for r in records])

    def update_job(self, record: JobRecord) -> None:
        """Replace a job's row.

        Raises:
            NotFoundError: if the job does not exist.
        """
        parameters = rows.job_params(record)
        parameters["b_job_key"] = parameters.pop("job_key")
        if self._run(_UPDATE_JOB, parameters).rowcount != 1:
            raise NotFoundError(f"job {record.job_key} does not exist")

    def delete_jobs(self, job_keys: Sequence[int]) -> None:
        """Remove finished or cancelled jobs (unknown keys are ignored)."""
        for chunk in iter_chunks(job_keys, _IN_CHUNK):
            self._execute(_DELETE_JOBS, {"keys": list(chunk)})

    def get_job(self, job_key: int) -> JobRecord | None:
        """One job by key."""
        found = self._fetch(_JOB_BY_KEY, {"key": job_key})
        return rows.job_record(found[0]) if found else None

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
        for chunk in iter_chunks(keys, _IN_CHUNK):
            self._execute(_LEASE_JOBS, {**lease, "keys": list(chunk)})
        return [
            replace(job, state="activated", worker=worker, lease_until=lease_until)
            for job in picked
        ]

    def next_job_due_at(self, job_types: Sequence[str] | None) -> datetime | None:
        """When the next job (of these types) becomes due, counting expiring leases."""
        if job_types is not None and not job_types:
            return None
        parameters = None if job_types is None else {"types": list(job_types)}
        value: datetime | None = self._execute(
            next_due_query(job_types is not None), parameters
        ).scalar()
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
        query = sa.select(user_tasks).order_by(user_tasks.c.created_at, user_tasks.c.user_task_key)
        for column, value in (
            (user_tasks.c.state, state),
            (user_tasks.c.assignee, assignee),
            (user_tasks.c.instance_key, instance_key),
        ):
            if value is not None:
                query = query.where(column == value)
        if candidate_group is not None:
            # The groups are a JSON list in TEXT: LIKE narrows the rows in SQL (a quoted
            # name), the exact membership check below removes false hits.
            quoted = dump_json(candidate_group)
            query = query.where(user_tasks.c.candidate_groups.contains(quoted, autoescape=True))
        found = [rows.user_task_record(row) for row in self._execute(query)]
        if candidate_group is not None:
            found = [task for task in found if candidate_group in task.candidate_groups]
        return found

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


if TYPE_CHECKING:

    def _satisfies_port(store: SqlStore) -> Store:
        # mypy proves here that the adapter implements the port.
        return store
