"""The in-memory adapter of :class:`~legato.store.definitions.Definitions`."""

from __future__ import annotations

from dataclasses import replace

from legato.errors import StoreError
from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import utc
from legato.store.records import DefinitionRecord, FormRecord, RolloutRecord, VersionSummary


class MemoryDefinitions(MemoryTransactionBase):
    """The definitions part of an in-memory transaction."""

    def insert_definition(self, record: DefinitionRecord) -> None:
        """Store a new process version."""
        self._check_open()
        if self._definitions.get(record.definition_key) is not None:
            raise StoreError(f"definition {record.definition_key} already exists")
        if self.find_definition(record.process_id, record.version) is not None:
            raise StoreError(f"process {record.process_id!r} already has version {record.version}")
        self._definitions.put(
            record.definition_key, replace(record, deployed_at=utc(record.deployed_at))
        )

    def get_definition(self, definition_key: int) -> DefinitionRecord | None:
        """One version by key."""
        self._check_open()
        return self._definitions.get(definition_key)

    def find_definition(
        self, process_id: str, version: int | None = None
    ) -> DefinitionRecord | None:
        """A process by id: the given version, or the latest when ``version`` is None."""
        self._check_open()
        found = [d for d in self._definitions.values() if d.process_id == process_id]
        if version is not None:
            return next((d for d in found if d.version == version), None)
        return max(found, key=lambda d: d.version, default=None)

    def list_definitions(self) -> list[DefinitionRecord]:
        """Every version of every process, by process id then version."""
        self._check_open()
        return _ordered(self._definitions.values(), lambda d: (d.process_id, d.version))

    def find_tagged_definition(self, process_id: str, version_tag: str) -> DefinitionRecord | None:
        """The version of a process with this version tag."""
        self._check_open()
        return next(
            (
                d
                for d in self._definitions.values()
                if d.process_id == process_id and d.version_tag == version_tag
            ),
            None,
        )

    def version_summaries(self, process_id: str) -> list[VersionSummary]:
        """Every version of a process without its model, by version."""
        self._check_open()
        found = [d for d in self._definitions.values() if d.process_id == process_id]
        return [
            VersionSummary(d.definition_key, d.version, d.version_tag, d.suspended)
            for d in _ordered(found, lambda d: d.version)
        ]

    def set_definition_suspended(self, definition_key: int, suspended: bool) -> None:
        """Suspend (no new instances) or resume a process version."""
        self._check_open()
        record = self._definitions.get(definition_key)
        if record is None:
            raise StoreError(f"definition {definition_key} does not exist")
        self._definitions.put(definition_key, replace(record, suspended=suspended))

    def set_definition_tag(self, definition_key: int, version_tag: str | None) -> None:
        """Set (or, with None, remove) the version tag of a process version."""
        self._check_open()
        record = self._definitions.get(definition_key)
        if record is None:
            raise StoreError(f"definition {definition_key} does not exist")
        self._definitions.put(definition_key, replace(record, version_tag=version_tag))

    def get_rollout(self, process_id: str) -> RolloutRecord | None:
        """A process's rollout rule, if it has one."""
        self._check_open()
        return self._rollouts.get(process_id)

    def put_rollout(self, record: RolloutRecord) -> None:
        """Set (insert or replace) a process's rollout rule."""
        self._check_open()
        at = utc(record.updated_at) if record.updated_at is not None else None
        self._rollouts.put(record.process_id, replace(record, updated_at=at))

    def delete_rollout(self, process_id: str) -> bool:
        """Remove a process's rollout rule; False when it had none."""
        self._check_open()
        if self._rollouts.get(process_id) is None:
            return False
        self._rollouts.delete(process_id)
        return True

    def recent_cycle_times(self, process_id: str, limit: int) -> list[tuple[int, float]]:
        """(version, seconds from start to end) of a process's latest completed instances."""
        self._check_open()
        done = [
            summary
            for summary, _ in self._instances.values()
            if summary.process_id == process_id
            and summary.status == "completed"
            and summary.ended_at is not None
        ]
        done.sort(key=lambda i: (i.started_at, i.instance_key), reverse=True)
        return [
            (i.version, (i.ended_at - i.started_at).total_seconds())
            for i in done[:limit]
            if i.ended_at is not None
        ]

    def insert_form(self, record: FormRecord) -> None:
        """Store a new version of a form."""
        self._check_open()
        if self._forms.get(record.form_key) is not None:
            raise StoreError(f"form {record.form_key} already exists")
        if self.find_form(record.form_id, version=record.version) is not None:
            raise StoreError(f"form {record.form_id!r} already has version {record.version}")
        self._forms.put(record.form_key, replace(record, deployed_at=utc(record.deployed_at)))

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
        self._check_open()
        found = [
            f
            for f in self._forms.values()
            if (form_key is None or f.form_key == form_key)
            and (form_id is None or f.form_id == form_id)
            and (version is None or f.version == version)
            and (version_tag is None or f.version_tag == version_tag)
        ]
        return max(found, key=lambda f: f.version, default=None)
