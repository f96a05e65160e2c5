"""The in-memory adapter of :class:`~legato.store.incidents.Incidents`."""

from __future__ import annotations

from dataclasses import replace

from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import utc, utc_or_none
from legato.store.records import IncidentRecord


class MemoryIncidents(MemoryTransactionBase):
    """The incidents part of an in-memory transaction."""

    def upsert_incident(self, record: IncidentRecord) -> None:
        """Insert or replace an incident."""
        self._check_open()
        self._require_instance(record.instance_key)
        normal = replace(
            record,
            created_at=utc(record.created_at),
            resolved_at=utc_or_none(record.resolved_at),
        )
        self._incidents.put(record.incident_key, normal)

    def get_incident(self, incident_key: int) -> IncidentRecord | None:
        """One incident by key."""
        self._check_open()
        return self._incidents.get(incident_key)

    def list_incidents(
        self, *, state: str | None = "open", instance_key: int | None = None
    ) -> list[IncidentRecord]:
        """Incidents, oldest first."""
        self._check_open()
        found = [
            incident
            for incident in self._incidents.values()
            if (state is None or incident.state == state)
            and (instance_key is None or incident.instance_key == instance_key)
        ]
        return _ordered(found, lambda i: (i.created_at, i.incident_key))
