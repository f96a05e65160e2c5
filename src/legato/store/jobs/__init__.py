"""Jobs for workers: created, handed out under leases, finished.

The port (:class:`Jobs`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from legato.store.records import JobRecord


class Jobs(Protocol):
    """Jobs for workers: created, handed out under leases, finished."""

    def insert_jobs(self, records: Sequence[JobRecord]) -> None:
        """Store new jobs."""

    def update_job(self, record: JobRecord) -> None:
        """Replace a job's row."""

    def delete_jobs(self, job_keys: Sequence[int]) -> None:
        """Remove finished or cancelled jobs."""

    def get_job(self, job_key: int, *, for_update: bool = False) -> JobRecord | None:
        """One job by key; ``for_update`` locks its row until the transaction ends
        (PostgreSQL), so that no other transaction hands it out or changes it meanwhile."""

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
        """Up to ``limit`` jobs of these types that may be handed out at ``now`` (as
        :meth:`activate_jobs` picks them), oldest due first (highest priority first with
        ``by_priority``, which ignores ``after``), whose instance has this
        business key, one of these process ids and one of these definitions (a None filter
        lets every instance through), and that come after ``after`` (the available time and
        key of the last job of a previous page). Nothing is changed; on PostgreSQL the rows
        are locked (``FOR UPDATE SKIP LOCKED``), and rows another transaction is handing out
        are skipped."""

    def lease_jobs(
        self, job_keys: Sequence[int], worker: str, now: datetime, lease_until: datetime
    ) -> list[JobRecord]:
        """Lease to ``worker`` until ``lease_until`` those of these jobs that may still be
        handed out at ``now``; returns them, leased, in the order of ``job_keys``."""

    def activate_jobs(
        self,
        job_types: Sequence[str] | None,
        worker: str,
        max_jobs: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[JobRecord]:
        """Hand out up to ``max_jobs`` jobs that are due.

        A job is due when it is ``activatable`` with ``due_at <= now``, or ``activated`` with a
        lease that ran out before ``now`` (its worker is presumed dead). The returned jobs are
        marked ``activated`` by ``worker`` until ``lease_until``; oldest due first.
        ``job_types`` None means every type.
        """

    def extend_leases(
        self, job_keys: Sequence[int], worker: str, lease_until: datetime
    ) -> list[int]:
        """Extend ``worker``'s leases of these jobs to ``lease_until``.

        Returns the keys it still held (and now holds longer); a job missing from the answer
        was finished, or released because ``worker`` was found dead, or taken by another
        worker after the lease ran out.
        """

    def release_jobs(self, job_keys: Sequence[int], worker: str) -> int:
        """Give back jobs ``worker`` holds, unchanged (no attempt is charged): they are due
        again at once for any worker. Returns how many were released."""

    def next_job_due_at(
        self,
        job_types: Sequence[str] | None,
        *,
        held: bool = True,
        after: datetime | None = None,
    ) -> datetime | None:
        """When the next job (of these types) becomes due, counting expiring leases (unless
        ``held`` is False: then only jobs no worker holds count); with ``after``, the first
        such time later than it."""

    def list_jobs(
        self, *, instance_key: int | None = None, state: str | None = None
    ) -> list[JobRecord]:
        """Jobs, oldest first."""

    def job_queues(self, now: datetime) -> list[tuple[str, int, datetime]]:
        """Per job type with jobs due and waiting for a worker at ``now``: how many, and
        since when the oldest waits (its due time), by type."""
