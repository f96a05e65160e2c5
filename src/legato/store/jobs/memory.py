"""The in-memory adapter of :class:`~legato.store.jobs.Jobs`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from legato.errors import NotFoundError, StoreError
from legato.store._memory_base import MemoryTransactionBase, _ordered
from legato.store._rules import job_available_at, utc, utc_or_none
from legato.store.records import JobRecord


def _normal_job(record: JobRecord) -> JobRecord:
    return replace(
        record,
        headers=dict(record.headers),
        due_at=utc(record.due_at),
        lease_until=utc_or_none(record.lease_until),
        created_at=utc_or_none(record.created_at),
    )


def _copied_job(job: JobRecord) -> JobRecord:
    # Headers are the one mutable field of a job; hand out a copy like a fresh SQL read.
    return replace(job, headers=dict(job.headers))


class MemoryJobs(MemoryTransactionBase):
    """The jobs part of an in-memory transaction."""

    def insert_jobs(self, records: Sequence[JobRecord]) -> None:
        """Store new jobs."""
        self._check_open()
        staged: dict[int, JobRecord] = {}
        for record in records:
            if record.job_key in staged or self._jobs.get(record.job_key) is not None:
                raise StoreError(f"job {record.job_key} already exists")
            self._require_instance(record.instance_key)
            staged[record.job_key] = _normal_job(record)
        for job_key, job in staged.items():
            self._jobs.put(job_key, job)

    def update_job(self, record: JobRecord) -> None:
        """Replace a job's row.

        Raises:
            NotFoundError: if the job does not exist.
        """
        self._check_open()
        if self._jobs.get(record.job_key) is None:
            raise NotFoundError(f"job {record.job_key} does not exist")
        self._require_instance(record.instance_key)
        self._jobs.put(record.job_key, _normal_job(record))

    def delete_jobs(self, job_keys: Sequence[int]) -> None:
        """Remove finished or cancelled jobs (unknown keys are ignored)."""
        self._check_open()
        for job_key in job_keys:
            if self._jobs.get(job_key) is not None:
                self._jobs.delete(job_key)

    def get_job(self, job_key: int, *, for_update: bool = False) -> JobRecord | None:
        """One job by key (one writer at a time: ``for_update`` needs no lock here)."""
        self._check_open()
        job = self._jobs.get(job_key)
        return None if job is None else _copied_job(job)

    def find_fetchable_jobs(
        self,
        job_types: Sequence[str],
        now: datetime,
        limit: int,
        *,
        business_key: str | None = None,
        process_ids: Sequence[str] | None = None,
        definition_keys: Sequence[int] | None = None,
        after: tuple[datetime, int] | None = None,
        by_priority: bool = False,
    ) -> list[JobRecord]:
        """Jobs that may be handed out now, oldest due first (highest priority first with
        ``by_priority``), of instances that match."""
        self._check_open()
        now = utc(now)
        if limit < 1 or not job_types:
            return []
        start = None if after is None or by_priority else (utc(after[0]), after[1])
        due = sorted(
            ((available, job.job_key), job)
            for job, available in self._available_jobs(job_types)
            if available <= now
        )
        if by_priority:
            due.sort(key=lambda pair: -pair[1].priority)  # stable: oldest first within one
        found: list[JobRecord] = []
        for position, job in due:
            if start is not None and position <= start:
                continue
            stored = self._instances.get(job.instance_key)
            if stored is None:
                continue
            instance = stored[0]
            if (
                (business_key is not None and instance.business_key != business_key)
                or (process_ids is not None and instance.process_id not in process_ids)
                or (definition_keys is not None and instance.definition_key not in definition_keys)
            ):
                continue
            found.append(_copied_job(job))
            if len(found) >= limit:
                break
        return found

    def lease_jobs(
        self, job_keys: Sequence[int], worker: str, now: datetime, lease_until: datetime
    ) -> list[JobRecord]:
        """Lease those of these jobs that may still be handed out at ``now``."""
        self._check_open()
        now, lease_until = utc(now), utc(lease_until)
        leased = []
        for key in job_keys:
            job = self._jobs.get(key)
            available = None if job is None else job_available_at(job)
            if job is None or available is None or available > now:
                continue
            job = replace(job, state="activated", worker=worker, lease_until=lease_until)
            self._jobs.put(key, job)
            leased.append(_copied_job(job))
        return leased

    def activate_jobs(
        self,
        job_types: Sequence[str] | None,
        worker: str,
        max_jobs: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[JobRecord]:
        """Hand out up to ``max_jobs`` due jobs, oldest due first, leased to ``worker``."""
        self._check_open()
        now, lease_until = utc(now), utc(lease_until)
        if max_jobs < 1:
            return []
        due = [
            (available, job)
            for job, available in self._available_jobs(job_types)
            if available <= now
        ]
        due.sort(key=lambda pair: (pair[0], pair[1].job_key))
        activated = []
        for _, job in due[:max_jobs]:
            leased = replace(job, state="activated", worker=worker, lease_until=lease_until)
            self._jobs.put(job.job_key, leased)
            activated.append(_copied_job(leased))
        return activated

    def extend_leases(
        self, job_keys: Sequence[int], worker: str, lease_until: datetime
    ) -> list[int]:
        """Extend ``worker``'s leases of these jobs; the keys it still held."""
        self._check_open()
        held = []
        for key in sorted(set(job_keys)):
            job = self._jobs.get(key)
            if job is not None and job.state == "activated" and job.worker == worker:
                self._jobs.put(key, replace(job, lease_until=utc(lease_until)))
                held.append(key)
        return held

    def release_jobs(self, job_keys: Sequence[int], worker: str) -> int:
        """Give back ``worker``'s jobs: activatable again from their due time."""
        self._check_open()
        released = 0
        for key in set(job_keys):
            job = self._jobs.get(key)
            if job is not None and job.state == "activated" and job.worker == worker:
                self._jobs.put(
                    key, replace(job, state="activatable", worker=None, lease_until=None)
                )
                released += 1
        return released

    def next_job_due_at(
        self,
        job_types: Sequence[str] | None,
        *,
        held: bool = True,
        after: datetime | None = None,
    ) -> datetime | None:
        """When the next job (of these types) becomes due, counting expiring leases unless
        ``held`` is False; the first such time later than ``after`` when given."""
        self._check_open()
        later = None if after is None else utc(after)
        return min(
            (
                available
                for job, available in self._available_jobs(job_types)
                if (held or job.state == "activatable") and (later is None or available > later)
            ),
            default=None,
        )

    def _available_jobs(
        self, job_types: Sequence[str] | None
    ) -> Iterator[tuple[JobRecord, datetime]]:
        types = None if job_types is None else frozenset(job_types)
        for job in self._jobs.values():
            available = job_available_at(job)
            if available is not None and (types is None or job.job_type in types):
                yield job, available

    def job_queues(self, now: datetime) -> list[tuple[str, int, datetime]]:
        """Due jobs no worker holds, counted by type."""
        self._check_open()
        moment = utc(now)
        queues: dict[str, tuple[int, datetime]] = {}
        for job, available in self._available_jobs(None):
            if job.state == "activatable" and available <= moment:
                count, oldest = queues.get(job.job_type, (0, available))
                queues[job.job_type] = (count + 1, min(oldest, available))
        return [(job_type, *queues[job_type]) for job_type in sorted(queues)]

    def list_jobs(
        self, *, instance_key: int | None = None, state: str | None = None
    ) -> list[JobRecord]:
        """Jobs, oldest first (by key)."""
        self._check_open()
        found = [
            _copied_job(job)
            for job in self._jobs.values()
            if (instance_key is None or job.instance_key == instance_key)
            and (state is None or job.state == state)
        ]
        return _ordered(found, lambda j: j.job_key)
