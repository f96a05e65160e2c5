"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.retention.Retention`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from legato.store._rules import ENDED_STATUSES, iter_chunks, utc
from legato.store._sql_base import _IN_CHUNK, SqlTransactionBase, _bp
from legato.store.schema import (
    decision_evaluations,
    element_facts,
    history,
    incident_facts,
    incidents,
    instance_facts,
    instance_variables,
    instances,
    jobs,
    start_requests,
    subscriptions,
    timers,
    user_tasks,
)

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
    instance_facts,
    element_facts,
    incident_facts,
)
"""Every table with rows that belong to an instance (a test checks none is missing). The
analytics rollups (``fact_hours``, ``fact_durations``) are aggregates and stay."""

_DELETE_INSTANCE_ROWS = tuple(
    sa.delete(table).where(table.c.instance_key.in_(_bp("keys", expanding=True)))
    for table in _INSTANCE_ROWS
)

_DELETE_INSTANCES = sa.delete(instances).where(
    instances.c.instance_key.in_(_bp("keys", expanding=True))
)


class SqlRetention(SqlTransactionBase):
    """The retention part of a SQL transaction."""

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
