"""The cockpit's queries and the tables derived from history.

The port (:class:`CockpitReads`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from legato.store.derived import DerivedRows
from legato.store.records import (
    DecisionEvaluationRecord,
    ElementCountsRecord,
    IncidentRecord,
    InstanceQuery,
    InstanceRecord,
)


class CockpitReads(Protocol):
    """The cockpit's queries and the tables derived from history."""

    def search_instances(self, query: InstanceQuery) -> list[InstanceRecord]:
        """The page of instances ``query`` asks for, newest first; the records carry an empty
        ``state``."""

    def count_instances_upto(self, query: InstanceQuery, cap: int) -> int:
        """How many instances ``query``'s filters find (its page position included, its
        limit ignored), counting no further than ``cap``."""

    def instance_summaries(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys with an empty ``state``, in no particular order;
        unknown keys are left out."""

    def write_derived(self, rows: DerivedRows, shard: int) -> None:
        """Apply derived-table changes: root variables, decision evaluations, and the
        counter deltas added to the rows of ``shard`` (0 to 15)."""

    def clear_derived(self) -> None:
        """Empty the derived tables (before they are rebuilt from the history)."""

    def element_counts(self, definition_keys: Sequence[int]) -> list[ElementCountsRecord]:
        """Per element, the counts of these process versions summed, by element id (the
        instances' own row, element id ``""``, left out)."""

    def counts_by_definition(self) -> dict[int, tuple[int, int, int, int]]:
        """Per definition key: (active, completed and terminated instances, open incidents);
        versions that never ran may be left out."""

    def open_incident_causes(
        self, limit: int
    ) -> list[tuple[str, str, str, str, int, datetime, datetime]]:
        """Open incidents counted by (process id, element id, error type, message): each
        with its count and its oldest and newest creation time; at most ``limit`` causes."""

    def open_incidents_with_process(self, limit: int) -> list[tuple[str, IncidentRecord]]:
        """Up to ``limit`` open incidents, oldest first, each with its instance's process id."""

    def list_decision_evaluations(
        self, decision_id: str, *, after: tuple[datetime, int, int] | None, limit: int
    ) -> list[DecisionEvaluationRecord]:
        """A decision's evaluations, newest first (time, instance key, position descending),
        after the (time, instance key, position) of the last one of a previous page."""
