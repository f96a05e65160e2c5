"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.instances.Instances`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.errors import ConflictError
from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._sql_base import (
    SqlTransactionBase,
    _bp,
    _by_key,
    _columns,
    _in_list,
    _insert,
)
from legato.store.records import SUSPENDED, InstanceRecord
from legato.store.schema import instances, start_requests

_INSERT_INSTANCE = _insert(instances)

# Optimistic concurrency: the WHERE on the old revision makes a stale save match no row.
_UPDATE_INSTANCE = Prepared(
    sa.update(instances).where(
        instances.c.instance_key == _bp("b_instance_key"),
        instances.c.revision == _bp("b_revision"),
    ),
    _columns(instances, without="instance_key"),
)

# The same check, writing only the state and the revision: SQLite rewrites the entries of
# every index that has a column an UPDATE sets (equal values too), and nine indexes cover the
# summary columns, so a save that changed none of them sets none of them.
_UPDATE_INSTANCE_STATE = Prepared(
    sa.update(instances).where(
        instances.c.instance_key == _bp("b_instance_key"),
        instances.c.revision == _bp("b_revision"),
    ),
    ["state", "revision"],
)

_INSTANCE_BY_KEY = _by_key(instances, "instance_key")

_INSTANCE_REVISION = Prepared(
    sa.select(instances.c.revision).where(instances.c.instance_key == _bp("key"))
)

_INSTANCE_SUMMARY = [column for column in instances.c if column.name != "state"]

_INSERT_START_REQUEST = _insert(start_requests)

_START_REQUEST = Prepared(
    sa.select(start_requests.c.instance_key).where(start_requests.c.request_id == _bp("request_id"))
)


@functools.cache
def instances_in_query(size: int, with_state: bool) -> Prepared:
    """Instances (or only their keys and revisions) by an IN list of ``size`` keys: one
    primary key probe per key in one statement."""
    c = instances.c
    selected = [*c] if with_state else [c.instance_key, c.revision]
    return Prepared(sa.select(*selected).where(_in_list(c.instance_key, size)))


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


class SqlInstances(SqlTransactionBase):
    """The instances part of a SQL transaction."""

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
        PostgreSQL one UPDATE from rows staged with COPY (see
        :meth:`~legato.store.dialects.SqlDialect.update_instances`).

        The driver reports the rows changed by the whole batch; fewer than the records means
        some instance was changed concurrently, and the caller's transaction rolls back.
        """
        if not records:
            return
        self._sql.update_instances(self, records, self._update_instances_each)
        self._check_saved(len(records))

    def update_instance_states(self, records: Sequence[InstanceRecord]) -> None:
        """Save the states and revisions of several instances with one revision check (see
        :meth:`update_instances`), leaving their summary columns as they are stored."""
        if not records:
            return
        self._sql.update_instances(self, records, self._update_states_each, states_only=True)
        self._check_saved(len(records))

    def _check_saved(self, expected: int) -> None:
        if self._cursor.rowcount != expected:
            raise ConflictError(
                f"{expected - self._cursor.rowcount} of {expected} instances were "
                "changed concurrently"
            )

    def _update_instances_each(self, records: Sequence[InstanceRecord]) -> None:
        """Save instances with one ``executemany`` of the revision-checked UPDATE."""
        batch = []
        for record in records:
            parameters = rows.instance_params(record)
            parameters["b_instance_key"] = parameters.pop("instance_key")
            parameters["b_revision"] = record.revision - 1
            batch.append(parameters)
        self._run_many(_UPDATE_INSTANCE, batch)

    def _update_states_each(self, records: Sequence[InstanceRecord]) -> None:
        """Save states with one ``executemany`` of the revision-checked state UPDATE."""
        self._run_many(
            _UPDATE_INSTANCE_STATE,
            [
                {
                    "state": record.state,
                    "revision": record.revision,
                    "b_instance_key": record.instance_key,
                    "b_revision": record.revision - 1,
                }
                for record in records
            ],
        )

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
        for size, values in self._sql.key_lists(list(dict.fromkeys(instance_keys))):
            found += self._fetch(instances_in_query(size, True), values)
        return [rows.instance_record(row) for row in found]

    def get_revisions(self, instance_keys: Sequence[int]) -> dict[int, int]:
        """The stored revision of each of these instances (unknown keys are left out)."""
        revisions: dict[int, int] = {}
        for size, values in self._sql.key_lists(list(dict.fromkeys(instance_keys))):
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

    def find_start_request(self, request_id: str) -> int | None:
        """The instance key a start request id produced, if it was seen before."""
        found = self._fetch(_START_REQUEST, {"request_id": request_id})
        return int(found[0].instance_key) if found else None

    def insert_start_request(self, request_id: str, instance_key: int, at: datetime) -> None:
        """Remember which instance a start request id produced (unique per request id)."""
        parameters = {"request_id": request_id, "instance_key": instance_key, "requested_at": at}
        self._run(_INSERT_START_REQUEST, parameters)
