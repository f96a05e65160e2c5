"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.incidents.Incidents`."""

from __future__ import annotations

import sqlalchemy as sa

from legato.store import _sqlrows as rows
from legato.store._sql_base import SqlTransactionBase, _by_key, upsert_statement
from legato.store.records import IncidentRecord
from legato.store.schema import incidents

_INCIDENT_BY_KEY = _by_key(incidents, "incident_key")


class SqlIncidents(SqlTransactionBase):
    """The incidents part of a SQL transaction."""

    def upsert_incident(self, record: IncidentRecord) -> None:
        """Insert or replace an incident."""
        statement = upsert_statement(self._sql, incidents)
        self._run(statement, rows.incident_params(record))

    def get_incident(self, incident_key: int) -> IncidentRecord | None:
        """One incident by key."""
        found = self._fetch(_INCIDENT_BY_KEY, {"key": incident_key})
        return rows.incident_record(found[0]) if found else None

    def list_incidents(
        self, *, state: str | None = "open", instance_key: int | None = None
    ) -> list[IncidentRecord]:
        """Incidents, oldest first."""
        query = sa.select(incidents).order_by(incidents.c.created_at, incidents.c.incident_key)
        if state is not None:
            query = query.where(incidents.c.state == state)
        if instance_key is not None:
            query = query.where(incidents.c.instance_key == instance_key)
        return [rows.incident_record(row) for row in self._execute(query)]
