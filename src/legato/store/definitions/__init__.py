"""Deployed process versions and forms.

The port (:class:`Definitions`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from typing import Protocol

from legato.store.records import DefinitionRecord, FormRecord


class Definitions(Protocol):
    """Deployed process versions and forms."""

    def insert_definition(self, record: DefinitionRecord) -> None:
        """Store a new process version."""

    def get_definition(self, definition_key: int) -> DefinitionRecord | None:
        """One version by key."""

    def find_definition(
        self, process_id: str, version: int | None = None
    ) -> DefinitionRecord | None:
        """A process by id: the given version, or the latest when ``version`` is None."""

    def list_definitions(self) -> list[DefinitionRecord]:
        """Every version of every process, by process id then version."""

    def insert_form(self, record: FormRecord) -> None:
        """Store a new version of a form."""

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
