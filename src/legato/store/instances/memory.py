"""The in-memory adapter of :class:`~legato.store.instances.Instances`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from legato.errors import ConflictError, StoreError
from legato.store._memory_base import MemoryTransactionBase, _json_copy
from legato.store._rules import dump_json, has_status, utc, utc_or_none
from legato.store.records import InstanceRecord


class MemoryInstances(MemoryTransactionBase):
    """The instances part of an in-memory transaction."""

    def insert_instance(self, record: InstanceRecord) -> None:
        """Store a new instance."""
        self._check_open()
        if self._instances.get(record.instance_key) is not None:
            raise StoreError(f"instance {record.instance_key} already exists")
        if self._definitions.get(record.definition_key) is None:
            raise StoreError(f"definition {record.definition_key} does not exist (foreign key)")
        self._put_instance(record)

    def update_instance(self, record: InstanceRecord) -> None:
        """Save an instance whose ``revision`` was incremented by the caller.

        Raises:
            StoreError: if the stored revision is not ``record.revision - 1``.
        """
        self._check_open()
        stored = self._instances.get(record.instance_key)
        if stored is None or stored[0].revision != record.revision - 1:
            raise ConflictError(
                f"instance {record.instance_key} was changed concurrently "
                f"(expected revision {record.revision - 1})"
            )
        if self._definitions.get(record.definition_key) is None:
            raise StoreError(f"definition {record.definition_key} does not exist (foreign key)")
        self._put_instance(record)

    def insert_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Store several new instances."""
        for record in records:
            self.insert_instance(record)

    def update_instances(self, records: Sequence[InstanceRecord]) -> None:
        """Save several instances, each with its revision check."""
        for record in records:
            self.update_instance(record)

    def update_instance_states(self, records: Sequence[InstanceRecord]) -> None:
        """Save the states and revisions of several instances, each with its revision check;
        their summaries stay as stored."""
        self._check_open()
        for record in records:
            stored = self._instances.get(record.instance_key)
            if stored is None or stored[0].revision != record.revision - 1:
                raise ConflictError(
                    f"instance {record.instance_key} was changed concurrently "
                    f"(expected revision {record.revision - 1})"
                )
            summary = replace(stored[0], revision=record.revision)
            self._instances.put(record.instance_key, (summary, dump_json(record.state)))

    def _put_instance(self, record: InstanceRecord) -> None:
        # The state is kept as JSON text so that later changes to the caller's dict do not
        # leak in, and values that SQL could not store fail here too.
        text = dump_json(record.state)
        summary = replace(
            record,
            state={},
            started_at=utc(record.started_at),
            ended_at=utc_or_none(record.ended_at),
        )
        self._instances.put(record.instance_key, (summary, text))

    def get_revision(self, instance_key: int) -> int | None:
        """The stored revision of an instance."""
        self._check_open()
        stored = self._instances.get(instance_key)
        return None if stored is None else stored[0].revision

    def get_instance(self, instance_key: int) -> InstanceRecord | None:
        """One instance by key (with its state)."""
        self._check_open()
        stored = self._instances.get(instance_key)
        if stored is None:
            return None
        return replace(stored[0], state=_json_copy(stored[1]))

    def get_instances(self, instance_keys: Sequence[int]) -> list[InstanceRecord]:
        """The instances of these keys (with their states); unknown keys are left out."""
        found = (self.get_instance(key) for key in dict.fromkeys(instance_keys))
        return [record for record in found if record is not None]

    def get_revisions(self, instance_keys: Sequence[int]) -> dict[int, int]:
        """The stored revision of each of these instances (unknown keys are left out)."""
        found = ((key, self.get_revision(key)) for key in instance_keys)
        return {key: revision for key, revision in found if revision is not None}

    def list_instances(
        self,
        *,
        status: str | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InstanceRecord]:
        """Instances, newest first, with an empty ``state`` (as the SQL adapter returns them)."""
        self._check_open()
        found = [
            summary
            for summary, _ in self._instances.values()
            if has_status(summary, status)
            and (process_id is None or summary.process_id == process_id)
            and (business_key is None or summary.business_key == business_key)
        ]
        found.sort(key=lambda i: (i.started_at, i.instance_key), reverse=True)
        return found[offset : offset + limit]

    def count_instances(self, *, status: str | None = None) -> int:
        """How many instances there are (with that status)."""
        self._check_open()
        return sum(1 for i, _ in self._instances.values() if has_status(i, status))

    def find_start_request(self, request_id: str) -> int | None:
        """The instance key a start request id produced, if it was seen before."""
        self._check_open()
        return self._start_requests.get(request_id)

    def insert_start_request(self, request_id: str, instance_key: int, at: datetime) -> None:
        """Remember which instance a start request id produced (unique per request id)."""
        self._check_open()
        utc(at)
        if self._start_requests.get(request_id) is not None:
            raise StoreError(f"start request {request_id!r} was already recorded")
        self._require_instance(instance_key)
        self._start_requests.put(request_id, instance_key)
