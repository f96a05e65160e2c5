"""The in-memory adapter of :class:`~legato.store.analytics.AnalyticsReads`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from legato.store._memory_base import MemoryTransactionBase, _Overlay
from legato.store._rules import utc
from legato.store.analytics.summaries import AnalyticsQueries, BucketRow, HourRow
from legato.store.facts import INSTANCE, DerivedFacts, ElementFact, IncidentFact, InstanceFact


def _keys(overlay: _Overlay[Any, Any]) -> list[Any]:
    return [key for key in {*overlay.base, *overlay.changes} if overlay.get(key) is not None]


def _utc_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _changed(fact: Any, change: dict[str, Any], counter: str) -> Any:
    values = {
        k: change[k] for k in ("ended_at", "duration_us", "outcome") if change.get(k) is not None
    }
    if "ended_at" in values:
        values["ended_at"] = utc(values["ended_at"])
    if change.get("completed_by") is not None:
        values["completed_by"] = change["completed_by"]
    values[counter] = getattr(fact, counter) + change.get(counter, 0)
    return replace(fact, **values)


class MemoryAnalyticsReads(AnalyticsQueries, MemoryTransactionBase):
    """The analytics part of an in-memory transaction."""

    def write_facts(self, facts: DerivedFacts, shard: int) -> None:
        """Insert new fact rows, update changed ones, add the rollup deltas."""
        self._check_open()
        new_rows: tuple[tuple[_Overlay[int, Any], dict[int, dict[str, Any]], Any], ...] = (
            (self._instance_facts, facts.instances, InstanceFact),
            (self._element_facts, facts.elements, ElementFact),
            (self._incident_facts, facts.incidents, IncidentFact),
        )
        for overlay, new, record in new_rows:
            for key, row in new.items():
                overlay.put(key, record(**_utc_row(row)))
        for key, moved in facts.moved_instances.items():
            instance = self._instance_facts.get(key)
            if instance is not None:
                self._instance_facts.put(
                    key,
                    replace(
                        instance,
                        definition_key=moved.definition_key,
                        process_id=moved.process_id,
                        version=moved.version,
                    ),
                )
        for key, (moved, element_id) in facts.moved_elements.items():
            element = self._element_facts.get(key)
            if element is not None:
                self._element_facts.put(
                    key,
                    replace(
                        element,
                        definition_key=moved.definition_key,
                        process_id=moved.process_id,
                        version=moved.version,
                        element_id=element_id,
                    ),
                )
        for overlay, changes, counter in (
            (self._instance_facts, facts.instance_changes, "incidents"),
            (self._element_facts, facts.element_changes, "retries"),
        ):
            for key, change in changes.items():
                fact = overlay.get(key)
                if fact is not None:
                    overlay.put(key, _changed(fact, change, counter))
        for key in facts.dropped:
            self._element_facts.delete(key)
        for key, at in facts.resolved.items():
            incident = self._incident_facts.get(key)
            if incident is not None:
                self._incident_facts.put(key, replace(incident, resolved_at=utc(at)))
        for (definition_key, element_id, hour), delta in facts.hours.items():
            ident = (definition_key, element_id, hour, shard)
            old = self._fact_hours.get(ident) or (0, 0, 0, 0, 0, 0)
            self._fact_hours.put(ident, tuple(a + b for a, b in zip(old, delta, strict=True)))
        for (definition_key, element_id, day, bucket), count in facts.durations.items():
            place = (definition_key, element_id, day, bucket, shard)
            self._fact_durations.put(place, (self._fact_durations.get(place) or 0) + count)

    def fact_starts(
        self, instance_keys: Sequence[int], element_keys: Sequence[int]
    ) -> tuple[dict[int, int], dict[int, datetime]]:
        """Stored incident counts of instance facts, start times of element facts."""
        self._check_open()
        incidents = {}
        for key in instance_keys:
            fact = self._instance_facts.get(key)
            if fact is not None:
                incidents[key] = fact.incidents
        starts = {}
        for key in element_keys:
            element = self._element_facts.get(key)
            if element is not None:
                starts[key] = element.started_at
        return incidents, starts

    def clear_facts(self) -> None:
        """Empty the fact tables and rollups."""
        self._check_open()
        for overlay in self._fact_overlays():
            for key in [*overlay.base, *overlay.changes]:
                overlay.delete(key)

    def _fact_overlays(self) -> tuple[_Overlay[Any, Any], ...]:
        return (
            self._instance_facts,
            self._element_facts,
            self._incident_facts,
            self._fact_hours,
            self._fact_durations,
        )

    def facts_of(
        self, instance_keys: Sequence[int]
    ) -> tuple[list[InstanceFact], list[ElementFact], list[IncidentFact]]:
        """The facts of these instances, in key order."""
        self._check_open()
        wanted = set(instance_keys)
        instances = [f for f in self._instance_facts.values() if f.instance_key in wanted]
        elements = [f for f in self._element_facts.values() if f.instance_key in wanted]
        incidents = [f for f in self._incident_facts.values() if f.instance_key in wanted]
        instances.sort(key=lambda f: f.instance_key)
        elements.sort(key=lambda f: f.element_instance_key)
        incidents.sort(key=lambda f: f.incident_key)
        return instances, elements, incidents

    def open_instance_facts(
        self,
        process_id: str,
        version: int,
        started_before: datetime,
        limit: int,
        after_key: tuple[datetime, int] | None = None,
    ) -> list[InstanceFact]:
        """Running instances of a version started before a time, oldest first."""
        self._check_open()
        before = utc(started_before)
        found = [
            f
            for f in self._instance_facts.values()
            if f.process_id == process_id
            and f.version == version
            and f.ended_at is None
            and f.started_at < before
            and (after_key is None or (f.started_at, f.instance_key) > after_key)
        ]
        found.sort(key=lambda f: (f.started_at, f.instance_key))
        return found[: max(limit, 0)]

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
        self._check_open()
        before = utc(started_before)
        found = [
            f
            for f in self._element_facts.values()
            if f.process_id == process_id
            and f.version == version
            and f.element_id == element_id
            and f.ended_at is None
            and f.started_at < before
            and (after_key is None or (f.started_at, f.element_instance_key) > after_key)
        ]
        found.sort(key=lambda f: (f.started_at, f.element_instance_key))
        return found[: max(limit, 0)]

    # -- the primitives of the dashboard's summaries ------------------------------------------
    def _definition_keys(self, process_id: str, versions: Sequence[int]) -> list[int]:
        self._check_open()
        return [
            d.definition_key
            for d in self._definitions.values()
            if d.process_id == process_id and (not versions or d.version in versions)
        ]

    def _hour_rows(
        self, keys: Sequence[int], since: datetime, until: datetime, instances: bool = False
    ) -> list[HourRow]:
        wanted, low, high = set(keys), utc(since), utc(until)
        sums: dict[tuple[str, datetime], list[int]] = {}
        for ident in _keys(self._fact_hours):
            definition_key, element_id, hour, _ = ident
            if instances and element_id != INSTANCE:
                continue
            if definition_key in wanted and low <= hour < high:
                total = sums.setdefault((element_id, hour), [0] * 6)
                for slot, value in enumerate(self._fact_hours.get(ident) or ()):
                    total[slot] += value
        return [(e, h, (t[0], t[1], t[2], t[3], t[4], t[5])) for (e, h), t in sums.items()]

    def _bucket_rows(
        self, keys: Sequence[int], since: datetime, until: datetime, instances: bool = False
    ) -> list[BucketRow]:
        wanted, low, high = set(keys), utc(since), utc(until)
        sums: dict[tuple[str, int], int] = {}
        for ident in _keys(self._fact_durations):
            definition_key, element_id, day, bucket, _ = ident
            if instances and element_id != INSTANCE:
                continue
            if definition_key in wanted and low <= day < high:
                place = (element_id, bucket)
                sums[place] = sums.get(place, 0) + (self._fact_durations.get(ident) or 0)
        return [(element_id, bucket, count) for (element_id, bucket), count in sums.items()]

    def _element_activity(self, keys: Sequence[int]) -> dict[str, tuple[int, int]]:
        wanted = set(keys)
        sums: dict[str, tuple[int, int]] = {}
        for ident in _keys(self._element_counts):
            definition_key, element_id, _ = ident
            counts = self._element_counts.get(ident)
            if definition_key in wanted and element_id != INSTANCE and counts is not None:
                active, incidents = sums.get(element_id, (0, 0))
                sums[element_id] = (active + counts[0], incidents + counts[3])
        return sums
