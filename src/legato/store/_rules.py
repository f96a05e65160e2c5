"""Rules both store adapters apply the same way (kept here so they cannot drift apart)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from legato.errors import StoreError
from legato.store.records import SUSPENDED, InstanceRecord, JobRecord, MessageRecord, TimerRecord

FIRST_KEY = 1
"""The first key a fresh store hands out."""


def dump_json(value: Any) -> str:
    """Compact JSON text (the values given are already JSON-compatible).

    orjson: every command writes its history and state as JSON, and the standard library's
    encoder was the largest single cost of a command.

    Raises:
        StoreError: for a value JSON cannot hold (e.g. an integer beyond 64 bits).
    """
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError as exc:
        raise StoreError(f"cannot store as JSON: {exc}") from exc


def load_json(text: str | bytes) -> Any:
    """Parse JSON text written by :func:`dump_json`."""
    return orjson.loads(text)


def job_available_at(job: JobRecord) -> datetime | None:
    """When ``job`` may next be handed to a worker, or None if never without an update.

    An activatable job is available from its ``due_at``; an activated one when its lease runs
    out (its worker is presumed dead); a failed one waits for an operator, and the job of a
    suspended instance for it to be resumed.
    """
    if job.suspended:
        return None
    if job.state == "activatable":
        return job.due_at
    if job.state == "activated":
        return job.lease_until
    return None


def has_status(instance: InstanceRecord, status: str | None) -> bool:
    """Whether an instance passes a status filter (None passes all; ``suspended`` passes
    the active instances that are suspended, ``incident`` those with an open incident)."""
    if status is None:
        return True
    if status == SUSPENDED:
        return instance.suspended and instance.status == "active"
    if status == "incident":
        return instance.status == "active" and instance.incident_count > 0
    return instance.status == status


def timer_available_at(timer: TimerRecord) -> datetime | None:
    """When ``timer`` may next be claimed, or None if never without an update.

    A scheduled timer is available from its ``due_at``; a claimed one when its claim runs out
    (the node firing it is presumed dead).
    """
    if timer.state == "scheduled":
        return timer.due_at
    if timer.state == "claimed":
        return timer.lease_until
    return None


def message_is_stale(stored: MessageRecord, new: MessageRecord) -> bool:
    """Whether ``stored`` had expired when ``new`` was published with the same message id.

    An expired message is no longer buffered even before a sweep removes its row, so it does
    not make a new publication with its id a duplicate: the new message replaces it.
    """
    return stored.expires_at <= new.published_at


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime.

    Raises:
        StoreError: if ``value`` is naive.
    """
    if value.tzinfo is UTC:
        return value
    check_aware(value)
    return value.astimezone(UTC)


def check_aware(value: datetime) -> None:
    """Refuse a naive datetime: its instant would be a guess.

    Raises:
        StoreError: if ``value`` is naive.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"naive datetime {value.isoformat()} given; the store needs aware UTC")


def utc_or_none(value: datetime | None) -> datetime | None:
    """:func:`utc` that lets None through."""
    return None if value is None else utc(value)


def iter_chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """Split ``items`` into slices of at most ``size`` (for SQL ``IN`` lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


ENDED_STATUSES = ("completed", "terminated")
"""The statuses of an instance that has ended (see
:meth:`~legato.store.retention.Retention.find_expired_instances`)."""
