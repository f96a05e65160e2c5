"""The in-memory adapter of :class:`~legato.store.cockpit.CockpitReads`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from legato.errors import StoreError
from legato.store._rules import utc
from legato.store.derived import ACTIVE, COMPLETED, INCIDENTS, INSTANCE, TERMINATED, DerivedRows
from legato.store.incidents.memory import MemoryIncidents
from legato.store.records import (
    DecisionEvaluationRecord,
    ElementCountsRecord,
    IncidentRecord,
    InstanceQuery,
    InstanceRecord,
)


class MemoryCockpitReads(MemoryIncidents):
    """The cockpit part of an in-memory transaction."""

    def _matches(self, summary: InstanceRecord, query: InstanceQuery) -> bool:
        for value, wanted in (
            (summary.process_id, query.process_id),
            (summary.version, query.version),
            (summary.business_key, query.business_key),
            (summary.parent_instance_key, query.parent_instance_key),
        ):
            if wanted is not None and value != wanted:
                return False
        if query.status == "incident":
            if summary.status != "active" or summary.incident_count <= 0:
                return False
        elif query.status == "suspended":
            if summary.status != "active" or not summary.suspended:
                return False
        elif query.status is not None and summary.status != query.status:
            return False
        if query.variable is not None:
            name, value = query.variable
            if self._instance_variables.get((summary.instance_key, name)) != value:
                return False
        for at, low, high in (
            (summary.started_at, query.started_from, query.started_before),
            (summary.ended_at, query.ended_from, query.ended_before),
        ):
            if (low is not None or high is not None) and at is None:
                return False
            if low is not None and at is not None and at < low:
                return False
            if high is not None and at is not None and at >= high:
                return False
        return query.after is None or (summary.started_at, summary.instance_key) < query.after

    def _search(self, query: InstanceQuery) -> list[InstanceRecord]:
        self._check_open()
        found = [s for s, _ in self._instances.values() if self._matches(s, query)]
        found.sort(key=lambda i: (i.started_at, i.instance_key), reverse=True)
        return found

    def search_instances(self, query: InstanceQuery) -> list[InstanceRecord]:
        """The page of instances ``query`` asks for, newest first (empty states)."""
        return self._search(query)[: query.limit]

    def count_instances_upto(self, query: InstanceQuery, cap: int) -> int:
        """How many instances ``query`` finds, up to ``cap``."""
        return min(len(self._search(query)), cap)

    def instance_summaries(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys with empty states."""
        self._check_open()
        found = (self._instances.get(key) for key in dict.fromkeys(instance_keys))
        return [stored[0] for stored in found if stored is not None]

    def write_derived(self, rows: DerivedRows, shard: int) -> None:
        """Apply derived-table changes (counter deltas added to ``shard``)."""
        self._check_open()
        for (instance_key, name), value in rows.variables.items():
            self._require_instance(instance_key)
            if value is None:
                self._instance_variables.delete((instance_key, name))
            else:
                self._instance_variables.put((instance_key, name), value)
        for (definition_key, element_id), delta in rows.counts.items():
            key = (definition_key, element_id, shard)
            old = self._element_counts.get(key) or (0, 0, 0, 0)
            new = (old[0] + delta[0], old[1] + delta[1], old[2] + delta[2], old[3] + delta[3])
            self._element_counts.put(key, new)
        for evaluation in rows.evaluations:
            self._require_instance(evaluation.instance_key)
            ident = (evaluation.instance_key, evaluation.position)
            if self._decision_evaluations.get(ident) is not None:
                raise StoreError(f"evaluation {ident} was already recorded")
            self._decision_evaluations.put(
                ident, replace(evaluation, evaluated_at=utc(evaluation.evaluated_at))
            )

    def clear_derived(self) -> None:
        """Empty the derived tables."""
        self._check_open()
        for overlay in (
            self._instance_variables,
            self._element_counts,
            self._decision_evaluations,
        ):
            for key in [*overlay.base, *overlay.changes]:
                overlay.delete(key)

    def element_counts(self, definition_keys: Sequence[int]) -> list[ElementCountsRecord]:
        """Per element, the counters of these versions summed over shards and versions."""
        self._check_open()
        wanted = set(definition_keys)
        sums: dict[str, list[int]] = {}
        for key in [*self._element_counts.base, *self._element_counts.changes]:
            counts = self._element_counts.get(key)
            if counts is None or key[0] not in wanted or key[1] == INSTANCE:
                continue
            total = sums.setdefault(key[1], [0, 0, 0, 0])
            for slot, value in enumerate(counts):
                total[slot] += value
        return [ElementCountsRecord(element_id, *sums[element_id]) for element_id in sorted(sums)]

    def counts_by_definition(self) -> dict[int, tuple[int, int, int, int]]:
        """Per definition key: instances active, completed, terminated; open incidents."""
        self._check_open()
        sums: dict[int, list[int]] = {}
        for key in {*self._element_counts.base, *self._element_counts.changes}:
            counts = self._element_counts.get(key)
            if counts is None:
                continue
            total = sums.setdefault(key[0], [0, 0, 0, 0])
            if key[1] == INSTANCE:
                for slot in (ACTIVE, COMPLETED, TERMINATED):
                    total[slot] += counts[slot]
            total[INCIDENTS] += counts[INCIDENTS]
        return {key: (t[0], t[1], t[2], t[3]) for key, t in sums.items()}

    def open_incident_causes(
        self, limit: int
    ) -> list[tuple[str, str, str, str, int, datetime, datetime]]:
        """Open incidents counted by exact cause."""
        causes: dict[tuple[str, str, str, str], list[Any]] = {}
        for process_id, incident in self.open_incidents_with_process(1 << 62):
            cause = (process_id, incident.element_id, incident.error_type, incident.message)
            found = causes.get(cause)
            if found is None:
                causes[cause] = [1, incident.created_at, incident.created_at]
            else:
                found[0] += 1
                found[1] = min(found[1], incident.created_at)
                found[2] = max(found[2], incident.created_at)
        return [(*cause, *found) for cause, found in list(causes.items())[:limit]]

    def open_incidents_with_process(self, limit: int) -> list[tuple[str, IncidentRecord]]:
        """Open incidents, oldest first, with their instances' process ids."""
        found = []
        for incident in self.list_incidents(state="open")[:limit]:
            stored = self._instances.get(incident.instance_key)
            if stored is not None:
                found.append((stored[0].process_id, incident))
        return found

    def list_decision_evaluations(
        self, decision_id: str, *, after: tuple[datetime, int, int] | None, limit: int
    ) -> list[DecisionEvaluationRecord]:
        """A decision's evaluations, newest first."""
        self._check_open()
        found = [
            e
            for e in self._decision_evaluations.values()
            if e.decision_id == decision_id
            and (after is None or (e.evaluated_at, e.instance_key, e.position) < after)
        ]
        found.sort(key=lambda e: (e.evaluated_at, e.instance_key, e.position), reverse=True)
        return found[:limit]
