"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.definitions.Definitions`."""

from __future__ import annotations

import json

import sqlalchemy as sa

from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._sql_base import SqlTransactionBase, _bp, _by_key, _insert
from legato.store.records import DefinitionRecord, FormRecord, RolloutRecord, VersionSummary
from legato.store.schema import definitions, forms, instances, rollouts

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

_TAGGED_DEFINITION = Prepared(
    sa.select(definitions).where(
        definitions.c.process_id == _bp("process_id"),
        definitions.c.version_tag == _bp("version_tag"),
    )
)

_VERSION_SUMMARIES = Prepared(
    sa.select(
        definitions.c.definition_key,
        definitions.c.version,
        definitions.c.version_tag,
        definitions.c.suspended,
    )
    .where(definitions.c.process_id == _bp("process_id"))
    .order_by(definitions.c.version)
)

_SET_SUSPENDED = Prepared(
    sa.update(definitions)
    .where(definitions.c.definition_key == _bp("key"))
    .values(suspended=_bp("suspended"))
)

_SET_TAG = Prepared(
    sa.update(definitions)
    .where(definitions.c.definition_key == _bp("key"))
    .values(version_tag=_bp("version_tag"))
)

_ROLLOUT = _by_key(rollouts, "process_id")

_INSERT_ROLLOUT = _insert(rollouts)

_DELETE_ROLLOUT = Prepared(sa.delete(rollouts).where(rollouts.c.process_id == _bp("key")))

# Served by ix_instances_process_status: one index range, newest first.
_RECENT_COMPLETED = Prepared(
    sa.select(instances.c.version, instances.c.started_at, instances.c.ended_at)
    .where(instances.c.process_id == _bp("process_id"), instances.c.status == "completed")
    .order_by(instances.c.started_at.desc(), instances.c.instance_key.desc())
    .limit(_bp("limit"))
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

    def find_tagged_definition(self, process_id: str, version_tag: str) -> DefinitionRecord | None:
        """The version of a process with this version tag."""
        parameters = {"process_id": process_id, "version_tag": version_tag}
        found = self._fetch(_TAGGED_DEFINITION, parameters)
        return rows.definition_record(found[0]) if found else None

    def version_summaries(self, process_id: str) -> list[VersionSummary]:
        """Every version of a process without its model, by version."""
        return [
            VersionSummary(row.definition_key, row.version, row.version_tag, bool(row.suspended))
            for row in self._fetch(_VERSION_SUMMARIES, {"process_id": process_id})
        ]

    def set_definition_suspended(self, definition_key: int, suspended: bool) -> None:
        """Suspend (no new instances) or resume a process version."""
        self._run(_SET_SUSPENDED, {"key": definition_key, "suspended": suspended})

    def set_definition_tag(self, definition_key: int, version_tag: str | None) -> None:
        """Set (or, with None, remove) the version tag of a process version."""
        self._run(_SET_TAG, {"key": definition_key, "version_tag": version_tag})

    def get_rollout(self, process_id: str) -> RolloutRecord | None:
        """A process's rollout rule, if it has one."""
        found = self._fetch(_ROLLOUT, {"key": process_id})
        if not found:
            return None
        row = found[0]
        split = json.loads(row.split) if row.split else []
        return RolloutRecord(
            process_id=row.process_id,
            split=tuple((int(version), int(percent)) for version, percent in split),
            rule=row.rule,
            revision=row.revision,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )

    def put_rollout(self, record: RolloutRecord) -> None:
        """Set (insert or replace) a process's rollout rule."""
        self._run(_DELETE_ROLLOUT, {"key": record.process_id})
        split = json.dumps([list(pair) for pair in record.split]) if record.split else None
        values = {
            "process_id": record.process_id,
            "split": split,
            "rule": record.rule,
            "revision": record.revision,
            "updated_at": record.updated_at,
            "updated_by": record.updated_by,
        }
        self._run(_INSERT_ROLLOUT, values)

    def delete_rollout(self, process_id: str) -> bool:
        """Remove a process's rollout rule; False when it had none."""
        return bool(self._run(_DELETE_ROLLOUT, {"key": process_id}).rowcount)

    def recent_cycle_times(self, process_id: str, limit: int) -> list[tuple[int, float]]:
        """(version, seconds from start to end) of a process's latest completed instances."""
        found = self._fetch(_RECENT_COMPLETED, {"process_id": process_id, "limit": limit})
        return [
            (row.version, (row.ended_at - row.started_at).total_seconds())
            for row in found
            if row.ended_at is not None
        ]

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
