"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.cockpit.CockpitReads`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from legato.store import _cockpit_sql as cockpit
from legato.store import _sqlrows as rows
from legato.store._rules import iter_chunks
from legato.store._sql_base import _IN_CHUNK, SqlTransactionBase
from legato.store.derived import DerivedRows
from legato.store.records import (
    DecisionEvaluationRecord,
    ElementCountsRecord,
    IncidentRecord,
    InstanceQuery,
    InstanceRecord,
)
from legato.store.schema import incidents, instances


def _moment(value: Any, column_type: Any, dialect: sa.Dialect) -> datetime:
    """An aggregate of a timestamp column (min, max) as the column's type reads it: SQLite
    returns the stored integer, untyped."""
    processor = column_type.result_processor(dialect, None)
    moment = processor(value) if processor is not None else value
    assert isinstance(moment, datetime)
    return moment


class SqlCockpitReads(SqlTransactionBase):
    """The cockpit part of a SQL transaction."""

    def search_instances(self, query: InstanceQuery) -> list[InstanceRecord]:
        """The page of instances ``query`` asks for, newest first (states not read)."""
        result = self._execute(cockpit.search_select(query))
        return [rows.instance_record(row, with_state=False) for row in result]

    def count_instances_upto(self, query: InstanceQuery, cap: int) -> int:
        """How many instances ``query`` finds, up to ``cap``.

        PostgreSQL: without JIT for this transaction. The count is thousands of index
        probes whose estimated cost passes ``jit_above_cost``, and compiling the plan took
        longer than running it (tens of ms measured on a million instances)."""
        self._sql.prepare_count(self)
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
            self._run_many(cockpit.variable_upsert(self._sql), upserts)
        if deletes:
            self._run_many(cockpit.VARIABLE_DELETE, deletes)
        counts = cockpit.count_rows(derived, shard)
        if counts:
            self._run_many(cockpit.counts_upsert(self._sql), counts)
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
