"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.analytics.AnalyticsReads`.

The writes run on every batch of commands: prepared once per dialect (see
:mod:`legato.store._prepared`); the dashboard's reads are built per call.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.store._prepared import Prepared
from legato.store._rules import iter_chunks, utc
from legato.store._sql_base import _IN_CHUNK, SqlTransactionBase, _in_list, _insert
from legato.store.analytics.summaries import AnalyticsQueries, BucketRow, HourRow
from legato.store.facts import INSTANCE, DerivedFacts, ElementFact, IncidentFact, InstanceFact
from legato.store.schema import (
    UtcTimestamp,
    definitions,
    element_counts,
    element_facts,
    fact_durations,
    fact_hours,
    incident_facts,
    instance_facts,
)

_bp = sa.bindparam
_F = instance_facts.c
_E = element_facts.c
_H = fact_hours.c
_D = fact_durations.c

FACT_TABLES = (instance_facts, element_facts, incident_facts, fact_hours, fact_durations)
"""The tables :func:`legato.store.rebuild.rebuild_facts` recomputes."""

_INSERT_INSTANCES = _insert(instance_facts)
_INSERT_ELEMENTS = _insert(element_facts)
_INSERT_INCIDENTS = _insert(incident_facts)


def _kept(column: sa.Column[Any], value: str, type_: Any = None) -> Any:
    return sa.func.coalesce(_bp(value, type_=type_ or column.type), column)


_ENDED = {
    "ended_at": _kept(_F.ended_at, "ended_at", UtcTimestamp()),
    "duration_us": _kept(_F.duration_us, "duration_us"),
    "outcome": _kept(_F.outcome, "outcome"),
}
_UPDATE_INSTANCE = Prepared(
    sa.update(instance_facts)
    .where(_F.instance_key == _bp("key"))
    .values(**_ENDED, incidents=_F.incidents + _bp("incidents", type_=sa.Integer()))
)
_UPDATE_ELEMENT = Prepared(
    sa.update(element_facts)
    .where(_E.element_instance_key == _bp("key"))
    .values(
        ended_at=_kept(_E.ended_at, "ended_at", UtcTimestamp()),
        duration_us=_kept(_E.duration_us, "duration_us"),
        outcome=_kept(_E.outcome, "outcome"),
        retries=_E.retries + _bp("retries", type_=sa.Integer()),
        completed_by=_kept(_E.completed_by, "completed_by"),
    )
)
_END_VALUES = {
    "ended_at": _bp("ended_at", type_=UtcTimestamp()),
    "duration_us": _bp("duration_us", type_=sa.BigInteger()),
    "outcome": _bp("outcome", type_=sa.String()),
}
_END_INSTANCE = Prepared(
    sa.update(instance_facts).where(_F.instance_key == _bp("key")).values(**_END_VALUES)
)
_END_ELEMENT = Prepared(
    sa.update(element_facts).where(_E.element_instance_key == _bp("key")).values(**_END_VALUES)
)
"""An end and nothing else (the usual change): no COALESCE, no counter to add."""
_DROP_ELEMENT = Prepared(sa.delete(element_facts).where(_E.element_instance_key == _bp("key")))
_MOVE_INSTANCE = Prepared(
    sa.update(instance_facts)
    .where(_F.instance_key == _bp("key"))
    .values(
        definition_key=_bp("b_definition_key"),
        process_id=_bp("b_process_id"),
        version=_bp("b_version"),
    )
)
_MOVE_ELEMENT = Prepared(
    sa.update(element_facts)
    .where(_E.element_instance_key == _bp("key"))
    .values(
        definition_key=_bp("b_definition_key"),
        process_id=_bp("b_process_id"),
        version=_bp("b_version"),
        element_id=_bp("b_element_id"),
    )
)
_RESOLVE_INCIDENT = Prepared(
    sa.update(incident_facts)
    .where(incident_facts.c.incident_key == _bp("key"))
    .values(resolved_at=_bp("resolved_at", type_=UtcTimestamp()))
)

_HOUR_COLUMNS = ("started", "completed", "terminated", "incidents", "failed", "duration_us")


@functools.cache
def _hours_upsert(dialect: Any) -> Prepared:
    statement = dialect.insert(fact_hours)
    upsert = statement.on_conflict_do_update(
        index_elements=["definition_key", "element_id", "hour", "shard"],
        set_={name: fact_hours.c[name] + statement.excluded[name] for name in _HOUR_COLUMNS},
    )
    return Prepared(upsert, ["definition_key", "element_id", "hour", "shard", *_HOUR_COLUMNS])


@functools.cache
def _durations_upsert(dialect: Any) -> Prepared:
    statement = dialect.insert(fact_durations)
    upsert = statement.on_conflict_do_update(
        index_elements=["definition_key", "element_id", "day", "bucket", "shard"],
        set_={"count": fact_durations.c.count + statement.excluded.count},
    )
    return Prepared(upsert, ["definition_key", "element_id", "day", "bucket", "shard", "count"])


@functools.cache
def _instance_incidents(size: int) -> Prepared:
    return Prepared(sa.select(_F.instance_key, _F.incidents).where(_in_list(_F.instance_key, size)))


@functools.cache
def _element_starts(size: int) -> Prepared:
    return Prepared(
        sa.select(_E.element_instance_key, _E.started_at).where(
            _in_list(_E.element_instance_key, size)
        )
    )


@functools.cache
def _open_facts(table: sa.Table, paged: bool) -> Prepared:
    """The running rows of a version (and element) started before a time, oldest first,
    from the partial index of running rows; ``paged``: after a (start, key) position,
    spelled so that the start bounds an index range."""
    c = table.c
    key = c.instance_key if table is instance_facts else c.element_instance_key
    conditions = [
        c.process_id == _bp("process_id"),
        c.version == _bp("version"),
        c.ended_at.is_(None),
        c.started_at < _bp("before", type_=UtcTimestamp()),
    ]
    if table is element_facts:
        conditions.append(c.element_id == _bp("element_id"))
    if paged:
        at = _bp("after_at", type_=UtcTimestamp())
        conditions += [c.started_at >= at, sa.or_(c.started_at > at, key > _bp("after_key"))]
    query = sa.select(table).where(*conditions).order_by(c.started_at, key)
    return Prepared(query.limit(_bp("limit", type_=sa.Integer())))


def _open_values(
    values: dict[str, Any],
    before: datetime,
    limit: int,
    after: tuple[datetime, int] | None,
) -> dict[str, Any]:
    values = {**values, "before": utc(before), "limit": max(limit, 0)}
    if values["element_id"] is None:
        del values["element_id"]
    if after is not None:
        values["after_at"], values["after_key"] = utc(after[0]), after[1]
    return values


_END_KEYS = frozenset(_END_VALUES)


def change_rows(
    changes: dict[int, dict[str, Any]], counter: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Update parameters in key order (concurrent writers lock rows in one order): the
    changes that are an end only (a plain UPDATE), and the others (counters, COALESCE)."""
    ends: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for key, change in sorted(changes.items()):
        if change.keys() == _END_KEYS:
            ends.append({"key": key, **change})
            continue
        others.append(
            {
                "key": key,
                "ended_at": change.get("ended_at"),
                "duration_us": change.get("duration_us"),
                "outcome": change.get("outcome"),
                counter: change.get(counter, 0),
                **({"completed_by": change.get("completed_by")} if counter == "retries" else {}),
            }
        )
    return ends, others


class SqlAnalyticsReads(AnalyticsQueries, SqlTransactionBase):
    """The analytics part of a SQL transaction."""

    def write_facts(self, facts: DerivedFacts, shard: int) -> None:
        """Insert new fact rows, update changed ones, add the rollup deltas."""
        for prepared, new in (
            (_INSERT_INSTANCES, facts.instances),
            (_INSERT_ELEMENTS, facts.elements),
            (_INSERT_INCIDENTS, facts.incidents),
        ):
            if new:
                self._insert_many(prepared, [new[key] for key in sorted(new)])
        if facts.moved_instances:
            self._run_many(
                _MOVE_INSTANCE,
                [
                    {
                        "key": key,
                        "b_definition_key": moved.definition_key,
                        "b_process_id": moved.process_id,
                        "b_version": moved.version,
                    }
                    for key, moved in sorted(facts.moved_instances.items())
                ],
            )
        if facts.moved_elements:
            self._run_many(
                _MOVE_ELEMENT,
                [
                    {
                        "key": key,
                        "b_definition_key": moved.definition_key,
                        "b_process_id": moved.process_id,
                        "b_version": moved.version,
                        "b_element_id": element_id,
                    }
                    for key, (moved, element_id) in sorted(facts.moved_elements.items())
                ],
            )
        for changes, counter, end, update in (
            (facts.instance_changes, "incidents", _END_INSTANCE, _UPDATE_INSTANCE),
            (facts.element_changes, "retries", _END_ELEMENT, _UPDATE_ELEMENT),
        ):
            if changes:
                ends, others = change_rows(changes, counter)
                if ends:
                    self._run_many(end, ends)
                if others:
                    self._run_many(update, others)
        if facts.dropped:
            self._run_many(_DROP_ELEMENT, [{"key": key} for key in sorted(facts.dropped)])
        if facts.resolved:
            self._run_many(
                _RESOLVE_INCIDENT,
                [{"key": k, "resolved_at": at} for k, at in sorted(facts.resolved.items())],
            )
        if facts.hours:
            self._run_many(
                _hours_upsert(self._sql),
                [
                    {
                        "definition_key": place[0],
                        "element_id": place[1],
                        "hour": place[2],
                        "shard": shard,
                        **dict(zip(_HOUR_COLUMNS, delta, strict=True)),
                    }
                    for place, delta in sorted(facts.hours.items())
                ],
            )
        if facts.durations:
            self._run_many(
                _durations_upsert(self._sql),
                [
                    {
                        "definition_key": place[0],
                        "element_id": place[1],
                        "day": place[2],
                        "bucket": place[3],
                        "shard": shard,
                        "count": count,
                    }
                    for place, count in sorted(facts.durations.items())
                ],
            )

    def fact_starts(
        self, instance_keys: Sequence[int], element_keys: Sequence[int]
    ) -> tuple[dict[int, int], dict[int, datetime]]:
        """Stored incident counts of instance facts, start times of element facts."""
        incidents: dict[int, int] = {}
        starts: dict[int, datetime] = {}
        for size, values in self._sql.key_lists(list(instance_keys)) if instance_keys else ():
            for row in self._fetch(_instance_incidents(size), values):
                incidents[int(row.instance_key)] = int(row.incidents)
        for size, values in self._sql.key_lists(list(element_keys)) if element_keys else ():
            for row in self._fetch(_element_starts(size), values):
                starts[int(row.element_instance_key)] = row.started_at
        return incidents, starts

    def clear_facts(self) -> None:
        """Empty the fact tables and rollups."""
        for table in FACT_TABLES:
            self._execute(sa.delete(table))

    def facts_of(
        self, instance_keys: Sequence[int]
    ) -> tuple[list[InstanceFact], list[ElementFact], list[IncidentFact]]:
        """The facts of these instances, in key order."""
        found: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        tables = (
            (instance_facts, _F.instance_key, InstanceFact),
            (element_facts, _E.element_instance_key, ElementFact),
            (incident_facts, incident_facts.c.incident_key, IncidentFact),
        )
        for chunk in iter_chunks(sorted(set(instance_keys)), _IN_CHUNK):
            for each, (table, key, record) in zip(found, tables, strict=True):
                query = sa.select(table).where(table.c.instance_key.in_(list(chunk)))
                each += [record(**row._mapping) for row in self._execute(query.order_by(key))]
        for each in found:
            each.sort(key=_first)
        return found

    def open_instance_facts(
        self,
        process_id: str,
        version: int,
        started_before: datetime,
        limit: int,
        after_key: tuple[datetime, int] | None = None,
    ) -> list[InstanceFact]:
        """Running instances of a version started before a time, oldest first."""
        values = {"process_id": process_id, "version": version, "element_id": None}
        rows = self._fetch(
            _open_facts(instance_facts, after_key is not None),
            _open_values(values, started_before, limit, after_key),
        )
        return [InstanceFact(*row) for row in rows]

    def open_element_facts(
        self,
        process_id: str,
        version: int,
        element_id: str,
        started_before: datetime,
        limit: int,
        after_key: tuple[datetime, int] | None = None,
    ) -> list[ElementFact]:
        """Running element instances of an element started before a time, oldest first."""
        values = {"process_id": process_id, "version": version, "element_id": element_id}
        rows = self._fetch(
            _open_facts(element_facts, after_key is not None),
            _open_values(values, started_before, limit, after_key),
        )
        return [ElementFact(*row) for row in rows]

    # -- the primitives of the dashboard's summaries ------------------------------------------
    def _definition_keys(self, process_id: str, versions: Sequence[int]) -> list[int]:
        query = sa.select(definitions.c.definition_key).where(
            definitions.c.process_id == process_id
        )
        if versions:
            query = query.where(definitions.c.version.in_(list(versions)))
        return [int(row.definition_key) for row in self._execute(query)]

    def _hour_rows(
        self, keys: Sequence[int], since: datetime, until: datetime, instances: bool = False
    ) -> list[HourRow]:
        sums = [sa.func.sum(_H[name]).label(name) for name in _HOUR_COLUMNS]
        query = (
            sa.select(_H.element_id, _H.hour, *sums)
            .where(_H.definition_key.in_(list(keys)), _H.hour >= utc(since), _H.hour < utc(until))
            .group_by(_H.element_id, _H.hour)
        )
        if instances:
            query = query.where(_H.element_id == INSTANCE)
        processor = _H.hour.type.result_processor(self._dialect, None)
        found: list[HourRow] = []
        for found_row in self._execute(query):
            row: Sequence[Any] = tuple(found_row)
            hour = row[1] if processor is None else processor(row[1])
            assert isinstance(hour, datetime)  # SQLite returns the stored integer, untyped
            values = (int(row[2]), int(row[3]), int(row[4]), int(row[5]), int(row[6]), int(row[7]))
            found.append((row[0], hour, values))
        return found

    def _bucket_rows(
        self, keys: Sequence[int], since: datetime, until: datetime, instances: bool = False
    ) -> list[BucketRow]:
        query = (
            sa.select(_D.element_id, _D.bucket, sa.func.sum(_D.count).label("count"))
            .where(_D.definition_key.in_(list(keys)), _D.day >= utc(since), _D.day < utc(until))
            .group_by(_D.element_id, _D.bucket)
        )
        if instances:
            query = query.where(_D.element_id == INSTANCE)
        return [
            (r.element_id, int(r.bucket), int(r._mapping["count"])) for r in self._execute(query)
        ]

    def _element_activity(self, keys: Sequence[int]) -> dict[str, tuple[int, int]]:
        c = element_counts.c
        query = (
            sa.select(
                c.element_id,
                sa.func.sum(c.active).label("active"),
                sa.func.sum(c.incidents).label("incidents"),
            )
            .where(c.definition_key.in_(list(keys)), c.element_id != "")
            .group_by(c.element_id)
        )
        return {
            row.element_id: (int(row.active), int(row.incidents)) for row in self._execute(query)
        }


def _first(fact: Any) -> int:
    """A fact's key (its first field)."""
    return int(getattr(fact, dataclasses.fields(fact)[0].name))
