"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.definitions.Definitions`."""

from __future__ import annotations

import sqlalchemy as sa

from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._sql_base import SqlTransactionBase, _bp, _by_key, _insert
from legato.store.records import DefinitionRecord, FormRecord
from legato.store.schema import definitions, forms

_INSERT_DEFINITION = _insert(definitions)

_DEFINITION_BY_KEY = _by_key(definitions, "definition_key")

_DEFINITION_BY_VERSION = Prepared(
    sa.select(definitions).where(
        definitions.c.process_id == _bp("process_id"), definitions.c.version == _bp("version")
    )
)

# Served by ux_definitions_process_version read backwards: one index probe.
_LATEST_DEFINITION = Prepared(
    sa.select(definitions)
    .where(definitions.c.process_id == _bp("process_id"))
    .order_by(definitions.c.version.desc())
    .limit(1)
)

_ALL_DEFINITIONS = Prepared(
    sa.select(definitions).order_by(definitions.c.process_id, definitions.c.version)
)


class SqlDefinitions(SqlTransactionBase):
    """The definitions part of a SQL transaction."""

    def insert_definition(self, record: DefinitionRecord) -> None:
        """Store a new process version."""
        self._run(_INSERT_DEFINITION, rows.definition_params(record))

    def get_definition(self, definition_key: int) -> DefinitionRecord | None:
        """One version by key."""
        found = self._fetch(_DEFINITION_BY_KEY, {"key": definition_key})
        return rows.definition_record(found[0]) if found else None

    def find_definition(
        self, process_id: str, version: int | None = None
    ) -> DefinitionRecord | None:
        """A process by id: the given version, or the latest when ``version`` is None."""
        if version is None:
            found = self._fetch(_LATEST_DEFINITION, {"process_id": process_id})
        else:
            parameters = {"process_id": process_id, "version": version}
            found = self._fetch(_DEFINITION_BY_VERSION, parameters)
        return rows.definition_record(found[0]) if found else None

    def list_definitions(self) -> list[DefinitionRecord]:
        """Every version of every process, by process id then version."""
        return [rows.definition_record(row) for row in self._fetch(_ALL_DEFINITIONS, {})]

    def insert_form(self, record: FormRecord) -> None:
        """Store a new version of a form."""
        self._execute(sa.insert(forms), rows.form_params(record))

    def find_form(
        self,
        form_id: str | None = None,
        *,
        form_key: int | None = None,
        version: int | None = None,
        version_tag: str | None = None,
    ) -> FormRecord | None:
        """A form version by key, or by id (the latest, or the given version, or the latest
        with the given version tag)."""
        query = sa.select(forms)
        if form_key is not None:
            query = query.where(forms.c.form_key == form_key)
        if form_id is not None:
            query = query.where(forms.c.form_id == form_id)
        if version is not None:
            query = query.where(forms.c.version == version)
        if version_tag is not None:
            query = query.where(forms.c.version_tag == version_tag)
        found = self._execute(query.order_by(forms.c.version.desc()).limit(1)).first()
        return rows.form_record(found) if found is not None else None
