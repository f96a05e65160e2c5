"""Incidents raised for an operator.

The port (:class:`Incidents`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from typing import Protocol

from legato.store.records import IncidentRecord


class Incidents(Protocol):
    """Incidents raised for an operator."""

    def upsert_incident(self, record: IncidentRecord) -> None:
        """Insert or replace an incident."""

    def get_incident(self, incident_key: int) -> IncidentRecord | None:
        """One incident by key."""

    def list_incidents(
        self, *, state: str | None = "open", instance_key: int | None = None
    ) -> list[IncidentRecord]:
        """Incidents, oldest first."""
