"""The in-memory adapter of :class:`~legato.store.definitions.Definitions`."""

from __future__ import annotations

from dataclasses import replace

from legato.errors import StoreError
from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import utc
from legato.store.records import DefinitionRecord, FormRecord


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
