"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.jobs.Jobs`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from legato.errors import NotFoundError
from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._rules import iter_chunks, utc
from legato.store._sql_base import (
    _IN_CHUNK,
    SqlTransactionBase,
    _bp,
    _by_key,
    _columns,
    _in_list,
    _insert,
)
from legato.store.records import JobRecord

if TYPE_CHECKING:
    from legato.store._sql_base import SqlDialect
from legato.store.schema import instances, jobs

_INSERT_JOB = _insert(jobs)

_JOB_QUEUES = (
    sa.select(
        jobs.c.job_type,
        sa.func.count().label("waiting"),
        sa.func.min(jobs.c.available_at).label("oldest"),
    )
    .where(jobs.c.available_at <= _bp("now"), jobs.c.state == "activatable")
    .group_by(jobs.c.job_type)
    .order_by(jobs.c.job_type)
)

_UPDATE_JOB = Prepared(
    sa.update(jobs).where(jobs.c.job_key == _bp("b_job_key")), _columns(jobs, without="job_key")
)

# Batches of single-key deletes (executemany), as for timers below.
_DELETE_JOB = Prepared(sa.delete(jobs).where(jobs.c.job_key == _bp("key")))

_JOB_BY_KEY = _by_key(jobs, "job_key")

_LEASE = {
    "state": "activated",
    "worker": _bp("worker"),
    "lease_until": _bp("lease_until"),
    "available_at": _bp("lease_until"),
}


@functools.cache
def lease_available_statement(dialect: SqlDialect) -> sa.Update:
    """Leases those of the keys' jobs still available (built once: building it cost more
    than running it)."""
    return (
        sa.update(jobs)
        .where(dialect.key_array(jobs.c.job_key, "keys"), jobs.c.available_at <= _bp("now"))
        .values(_LEASE)
        .returning(*jobs.c)
    )


@functools.cache
def lease_jobs_statement(size: int) -> Prepared:
    """Leases the jobs of a key list of ``size`` (see :func:`~legato.store._sql_base._in_list`)."""
    return Prepared(sa.update(jobs).where(_in_list(jobs.c.job_key, size)).values(_LEASE))


@functools.cache
def due_jobs_statement(dialect: SqlDialect, types: int | None) -> Prepared:
    """The query that picks jobs to hand out, oldest due first (``ix_jobs_due`` in order),
    of a list of ``types`` job types (see :func:`~legato.store._sql_base._in_list`; None:
    of any type).

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
    if types is not None:
        query = query.where(_in_list(jobs.c.job_type, types))
    return Prepared(dialect.skip_locked(query))


@functools.cache
def fetchable_jobs_query(
    dialect: SqlDialect,
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
    # Lock only the job rows (not the instances: other nodes advance them meanwhile); rows
    # another fetch is handing out are skipped instead of waited for.
    return dialect.skip_locked(query, of=jobs)


def _held_jobs(job_keys: Sequence[int], worker: str) -> sa.Update:
    """An update of those of ``job_keys`` that ``worker`` holds."""
    return sa.update(jobs).where(
        jobs.c.job_key.in_(list(job_keys)), jobs.c.state == "activated", jobs.c.worker == worker
    )


@functools.cache
def next_due_statement(types: int | None, held: bool, after: bool) -> Prepared:
    """The earliest ``available_at`` (an ordered ``ix_jobs_due`` scan stopping at one row):
    of a list of ``types`` job types (None: of any type), counting expiring leases if
    ``held``, later than ``after`` if asked."""
    query = (
        sa.select(jobs.c.available_at)
        .where(jobs.c.available_at.is_not(None))
        .order_by(jobs.c.available_at)
        .limit(1)
    )
    if types is not None:
        query = query.where(_in_list(jobs.c.job_type, types))
    if not held:
        query = query.where(jobs.c.state == "activatable")
    if after:
        query = query.where(jobs.c.available_at > _bp("after"))
    return Prepared(query)


class SqlJobs(SqlTransactionBase):
    """The jobs part of a SQL transaction."""

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
        self._sql.delete_jobs(self, job_keys, self._delete_jobs_each)

    def _delete_jobs_each(self, job_keys: Sequence[int]) -> None:
        """Delete jobs with an ``executemany`` of single-key deletes."""
        self._run_many(_DELETE_JOB, [{"key": key} for key in job_keys])

    def get_job(self, job_key: int, *, for_update: bool = False) -> JobRecord | None:
        """One job by key; ``for_update`` locks its row (PostgreSQL ``FOR UPDATE``; SQLite's
        transaction holds the write lock already)."""
        locked = (
            self._sql.lock_row(sa.select(jobs).where(jobs.c.job_key == job_key))
            if for_update
            else None
        )
        if locked is not None:
            row = self._execute(locked).first()
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
            self._sql,
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
        lease = lease_available_statement(self._sql)
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
        # Prepared statements (the types as one list): building and compiling a Core query
        # on every call cost more than running it, and a node asks after every batch.
        parameters: dict[str, Any] = {"now": now, "max_jobs": max_jobs}
        types = None
        if job_types is not None:
            types, type_list = self._sql.value_list(list(job_types))
            parameters.update(type_list)
        found = self._fetch(due_jobs_statement(self._sql, types), parameters)
        picked = [rows.job_record(row) for row in found]
        lease = {"worker": worker, "lease_until": lease_until}
        for size, keys in self._sql.key_lists([job.job_key for job in picked]):
            self._run(lease_jobs_statement(size), {**lease, **keys})
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
        parameters: dict[str, Any] = {}
        types = None
        if job_types is not None:
            types, type_list = self._sql.value_list(list(job_types))
            parameters.update(type_list)
        if after is not None:
            parameters["after"] = utc(after)
        found = self._fetch(next_due_statement(types, held, after is not None), parameters)
        value: datetime | None = found[0].available_at if found else None
        return value

    def job_queues(self, now: datetime) -> list[tuple[str, int, datetime]]:
        """Due jobs no worker holds, counted by type (one GROUP BY over ``ix_jobs_due``)."""
        result = self._execute(_JOB_QUEUES, {"now": utc(now)})
        return [(row.job_type, int(row.waiting), utc(row.oldest)) for row in result]

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
