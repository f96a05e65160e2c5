"""Deployed process versions and forms, and the rollout rules that choose among versions.

The port (:class:`Definitions`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from typing import Protocol

from legato.store.records import DefinitionRecord, FormRecord, RolloutRecord, VersionSummary


class Definitions(Protocol):
    """Deployed process versions and forms, and the rollout rules."""

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

    def find_tagged_definition(self, process_id: str, version_tag: str) -> DefinitionRecord | None:
        """The version of a process with this version tag."""

    def version_summaries(self, process_id: str) -> list[VersionSummary]:
        """Every version of a process without its model, by version."""

    def set_definition_suspended(self, definition_key: int, suspended: bool) -> None:
        """Suspend (no new instances) or resume a process version."""

    def set_definition_tag(self, definition_key: int, version_tag: str | None) -> None:
        """Set (or, with None, remove) the version tag of a process version."""

    def get_rollout(self, process_id: str) -> RolloutRecord | None:
        """A process's rollout rule, if it has one."""

    def put_rollout(self, record: RolloutRecord) -> None:
        """Set (insert or replace) a process's rollout rule."""

    def delete_rollout(self, process_id: str) -> bool:
        """Remove a process's rollout rule; False when it had none."""

    def recent_cycle_times(self, process_id: str, limit: int) -> list[tuple[int, float]]:
        """(version, seconds from start to end) of a process's latest completed instances,
        at most ``limit``, newest started first."""

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
