"""Process instances (their state rows) and idempotent start requests.

The port (:class:`Instances`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from legato.store.records import InstanceRecord


class Instances(Protocol):
    """Process instances (their state rows) and idempotent start requests."""

    def insert_instance(self, record: InstanceRecord) -> None:
        """Store a new instance (revision 0)."""

    def update_instance(self, record: InstanceRecord) -> None:
        """Save an instance whose ``revision`` was incremented by the caller.

        Raises:
            StoreError: if the stored revision is not ``record.revision - 1`` (a concurrent
                change: the caller reloads and retries the command).
        """

    def insert_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Store several new instances at once (one statement where the database allows)."""

    def update_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Save several instances at once, with the revision check of :meth:`update_instance`.

        Raises:
            StoreError: if any stored revision is not the record's ``revision - 1``.
        """

    def update_instance_states(self, records: Sequence[InstanceRecord]) -> None:
        """Save only the ``state`` and ``revision`` of several instances, with the revision
        check of :meth:`update_instance`; their other (summary) columns stay as stored.

        For saves that changed none of them, the common case: on SQLite an UPDATE rewrites
        the entries of every index that covers a column it sets, so this one touches the
        instance's row and nothing else.

        Raises:
            StoreError: if any stored revision is not the record's ``revision - 1``.
        """

    def get_revision(self, instance_key: int) -> int | None:
        """The stored revision of an instance (None if there is none): a cheap check that a
        cached state is still current."""

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        """One instance by key (with its state)."""

    def get_instances(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys (with their states), in no particular order; unknown
        keys are left out. Reads many states in a few queries instead of one each."""

    def get_revisions(self, instance_keys: Sequence[int]) -> dict[int, int]:
        """The stored revision of each of these instances (unknown keys are left out)."""

    def list_instances(
        self,
        *,
        status: str | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InstanceRecord]:
        """Instances, newest first; the returned records may carry an empty ``state``."""

    def count_instances(self, *, status: str | None = None) -> int:
        """How many instances there are (with that status)."""

    def find_start_request(self, request_id: str) -> int | None:
        """The instance key a start request id produced, if it was seen before."""

    def insert_start_request(self, request_id: str, instance_key: int, at: datetime) -> None:
        """Remember which instance a start request id produced (unique per request id)."""
