"""The cockpit's queries in SQL: instance search, derived-table writes, counts.

Queries are built per call with Core (their shape depends on the filters given); the
statements that write the derived tables on every batch are built once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from legato.store._prepared import Prepared
from legato.store.derived import INSTANCE, DerivedRows
from legato.store.records import SUSPENDED, InstanceQuery

if TYPE_CHECKING:
    from legato.store._sql_base import SqlDialect
from legato.store.schema import (
    decision_evaluations,
    element_counts,
    incidents,
    instance_variables,
    instances,
)

_I = instances.c
_V = instance_variables.c
_C = element_counts.c
_D = decision_evaluations.c
_bp = sa.bindparam

HAS_INCIDENTS = sa.text("instances.status = 'active' AND instances.incident_count > 0")
"""Active with open incidents: the predicate of the partial index ``ix_instances_incidents``."""

INSTANCE_SUMMARY = [column for column in instances.c if column.name != "state"]
"""The columns of an instance without its state (listings never read the state)."""


def _newer_than(started: Any, key: Any, after: tuple[datetime, int]) -> Any:
    """Before ``after`` in the newest-first order. Spelled so that both databases read an
    index range: ``started <= t`` bounds the range, the rest drops the ties already shown."""
    started_at, instance_key = after
    return sa.and_(started <= started_at, sa.or_(started < started_at, key < instance_key))


def instance_conditions(query: InstanceQuery) -> list[Any]:
    """The WHERE conditions of ``query`` on ``instances``, its page position included unless
    the walk goes through a variable's index (the variable filter is :func:`_filtered`'s)."""
    conditions: list[Any] = []
    for column, value in (
        (_I.process_id, query.process_id),
        (_I.version, query.version),
        (_I.business_key, query.business_key),
        (_I.parent_instance_key, query.parent_instance_key),
    ):
        if value is not None:
            conditions.append(column == value)
    if query.status == "incident":
        # Written as the predicate of ix_instances_incidents, literally: a database uses a
        # partial index only when the query's terms are the index's own (bound parameters
        # prove nothing about their values).
        conditions.append(HAS_INCIDENTS)
    elif query.status == "suspended":
        conditions += [_I.status == "active", _I.suspended]
    elif query.status is not None:
        conditions.append(_I.status == query.status)
    for column, low, high in (
        (_I.started_at, query.started_from, query.started_before),
        (_I.ended_at, query.ended_from, query.ended_before),
    ):
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column < high)
    if query.after is not None and (query.variable is None or _narrow(query)):
        conditions.append(_newer_than(_I.started_at, _I.instance_key, query.after))
    return conditions


def _narrow(query: InstanceQuery) -> bool:
    """Whether the instance filters alone leave few rows to walk: the active instances
    (thousands, not millions), one business key, one calling instance."""
    return (
        query.status in ("active", "incident", SUSPENDED)
        or query.business_key is not None
        or query.parent_instance_key is not None
    )


def _filtered(columns: Sequence[Any], query: InstanceQuery) -> tuple[sa.Select[Any], Any, Any]:
    """The instances ``query`` finds, and the (start time, key) columns to order them by.

    With a variable filter and otherwise broad filters the walk goes through the variable's
    index entries, which are in the list's order (start time, key): a page reads the rows
    it shows, whether the value is rare or common, instead of every instance with the value.
    Where the instance filters are narrow (:func:`_narrow`), their index drives and each of
    its rows is probed for the variable (one primary-key lookup): a common value with few
    active instances would otherwise walk every instance with the value, old ones too."""
    if query.variable is None:
        select = sa.select(*columns).select_from(instances).where(*instance_conditions(query))
        return select, _I.started_at, _I.instance_key
    name, value = query.variable
    if _narrow(query):
        # A scalar subquery, not EXISTS: PostgreSQL turns EXISTS into a join and, when its
        # estimate of the value's rows is low, hashes every instance with the value; a
        # scalar subquery stays a probe per instance row.
        probe = (
            sa.select(_V.value)
            .where(_V.instance_key == _I.instance_key, _V.name == name)
            .scalar_subquery()
        )
        select = (
            sa.select(*columns)
            .select_from(instances)
            .where(*instance_conditions(query), probe == value)
        )
        return select, _I.started_at, _I.instance_key
    select = (
        sa.select(*columns)
        .select_from(instance_variables.join(instances, _I.instance_key == _V.instance_key))
        .where(_V.name == name, _V.value == value, *instance_conditions(query))
    )
    if query.after is not None:
        select = select.where(_newer_than(_V.started_at, _V.instance_key, query.after))
    return select, _V.started_at, _V.instance_key


def search_select(query: InstanceQuery) -> sa.Select[Any]:
    """One page of instances (without their states), newest first."""
    select, started, key = _filtered(INSTANCE_SUMMARY, query)
    return select.order_by(started.desc(), key.desc()).limit(query.limit)


def count_select(query: InstanceQuery, cap: int) -> sa.Select[Any]:
    """How many instances ``query`` finds, counting no further than ``cap``.

    With a variable filter and broad instance filters the variable's entries drive and each
    is checked against its instance with a scalar subquery (a primary-key probe): the count
    stops after ``cap`` matches whatever the database estimates; as a join, PostgreSQL may
    hash every instance of the process first."""
    one = sa.literal(1).label("one")
    if query.variable is not None and not _narrow(query):
        name, value = query.variable
        conditions = instance_conditions(query)
        matches = (
            sa.select(one)
            .select_from(instances)
            .where(_I.instance_key == _V.instance_key, *conditions)
            .scalar_subquery()
        )
        found = (
            sa.select(one)
            .select_from(instance_variables)
            .where(_V.name == name, _V.value == value, matches == 1)
        )
    else:
        found, _, _ = _filtered([one], query)
    return sa.select(sa.func.count()).select_from(found.limit(cap).subquery())


# The writes below run on every batch of commands: prepared once per dialect and executed
# on the DBAPI cursor (see legato.store._prepared), not through Connection.execute.


@functools.cache
def variable_upsert(dialect: SqlDialect) -> Prepared:
    """Insert or replace a root variable's indexed value."""
    statement = dialect.insert(instance_variables)
    upsert = statement.on_conflict_do_update(
        index_elements=["instance_key", "name"], set_={"value": statement.excluded.value}
    )
    return Prepared(upsert, ["instance_key", "name", "value", "started_at"])


VARIABLE_DELETE = Prepared(
    sa.delete(instance_variables).where(
        _V.instance_key == _bp("instance_key"), _V.name == _bp("name")
    )
)


@functools.cache
def counts_upsert(dialect: SqlDialect) -> Prepared:
    """Add deltas to a counter row (created at zero plus the delta if absent)."""
    statement = dialect.insert(element_counts)
    columns = ("active", "completed", "terminated", "incidents")
    upsert = statement.on_conflict_do_update(
        index_elements=["definition_key", "element_id", "shard"],
        set_={name: element_counts.c[name] + statement.excluded[name] for name in columns},
    )
    return Prepared(upsert, ["definition_key", "element_id", "shard", *columns])


EVALUATION_INSERT = Prepared(
    sa.insert(decision_evaluations), [column.name for column in decision_evaluations.c]
)


def variable_rows(rows: DerivedRows) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The (upserts, deletes) of the root variable changes, in key order."""
    upserts, deletes = [], []
    for (instance_key, name), value in sorted(rows.variables.items()):
        params = {"instance_key": instance_key, "name": name}
        if value is None:
            deletes.append(params)
        else:
            upserts.append({**params, "value": value, "started_at": rows.started[instance_key]})
    return upserts, deletes


def count_rows(rows: DerivedRows, shard: int) -> list[dict[str, Any]]:
    """The counter deltas, in key order (concurrent writers lock rows in one order: no
    deadlock between two batches that touch the same elements)."""
    return [
        {
            "definition_key": definition_key,
            "element_id": element_id,
            "shard": shard,
            "active": delta[0],
            "completed": delta[1],
            "terminated": delta[2],
            "incidents": delta[3],
        }
        for (definition_key, element_id), delta in sorted(rows.counts.items())
        if any(delta)
    ]


def evaluation_rows(rows: DerivedRows) -> list[dict[str, Any]]:
    return [
        {
            "instance_key": e.instance_key,
            "position": e.position,
            "decision_id": e.decision_id,
            "decision_key": e.decision_key,
            "decision_version": e.decision_version,
            "element_id": e.element_id,
            "element_instance_key": e.element_instance_key,
            "evaluated_at": e.evaluated_at,
            "matched_rules": list(e.matched_rules),
            "result": e.result,
        }
        for e in rows.evaluations
    ]


def element_counts_select(definition_keys: Sequence[int]) -> sa.Select[Any]:
    """The counters of these process versions, summed over shards and versions."""
    return (
        sa.select(
            _C.element_id,
            sa.func.sum(_C.active).label("active"),
            sa.func.sum(_C.completed).label("completed"),
            sa.func.sum(_C.terminated).label("terminated"),
            sa.func.sum(_C.incidents).label("incidents"),
        )
        .where(_C.definition_key.in_(list(definition_keys)), _C.element_id != INSTANCE)
        .group_by(_C.element_id)
        .order_by(_C.element_id)
    )


def _of_instances(column: sa.Column[int]) -> Any:
    return sa.func.sum(sa.case((_C.element_id == INSTANCE, column), else_=0))


COUNTS_BY_DEFINITION = sa.select(
    _C.definition_key,
    _of_instances(_C.active).label("active"),
    _of_instances(_C.completed).label("completed"),
    _of_instances(_C.terminated).label("terminated"),
    sa.func.sum(_C.incidents).label("incidents"),
).group_by(_C.definition_key)
"""Per process version: instances active, completed and terminated, and open incidents
(a few rows per element: no instance row is read)."""

_N = incidents.c
OPEN_INCIDENT_CAUSES = (
    sa.select(
        _I.process_id,
        _N.element_id,
        _N.error_type,
        _N.message,
        sa.func.count().label("total"),
        sa.func.min(_N.created_at).label("oldest"),
        sa.func.max(_N.created_at).label("newest"),
    )
    .join(instances, _I.instance_key == _N.instance_key)
    .where(_N.state == "open")
    .group_by(_I.process_id, _N.element_id, _N.error_type, _N.message)
)
"""Open incidents counted by their exact cause (the engine merges the causes that differ
only in numbers and ids)."""

OPEN_INCIDENTS_WITH_PROCESS = (
    sa.select(incidents, _I.process_id)
    .join(instances, _I.instance_key == incidents.c.instance_key)
    .where(incidents.c.state == "open")
    .order_by(incidents.c.created_at, incidents.c.incident_key)
)


def evaluations_select(
    decision_id: str, after: tuple[datetime, int, int] | None, limit: int
) -> sa.Select[Any]:
    """A page of a decision's evaluations, newest first."""
    query = sa.select(decision_evaluations).where(_D.decision_id == decision_id)
    if after is not None:
        at, key, position = after
        query = query.where(
            sa.or_(
                _D.evaluated_at < at,
                sa.and_(
                    _D.evaluated_at == at,
                    sa.or_(
                        _D.instance_key < key,
                        sa.and_(_D.instance_key == key, _D.position < position),
                    ),
                ),
            )
        )
    return query.order_by(_D.evaluated_at.desc(), _D.instance_key.desc(), _D.position.desc()).limit(
        limit
    )


DERIVED_TABLES = (instance_variables, element_counts, decision_evaluations)
"""The tables :func:`legato.store.rebuild.rebuild_derived` recomputes."""
