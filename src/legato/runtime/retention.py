"""History retention: remove instances that ended long ago, in small batches.

A finished instance keeps its row, its whole history and whatever incidents, tasks or
start requests it left. :func:`sweep_ended_instances` deletes those of instances that
completed or were terminated before a cutoff (see the store port's
``find_expired_instances`` for which qualify: the children of a parent that still runs are
kept), optionally appending each one with its history to a JSON-lines archive first.

**Never blocking the engine for long.** Each batch is its own short transaction: find up to
``batch_size`` instances, read and archive them, delete them, commit. Between batches the
database is free, so the engine's transactions interleave (on SQLite, whose one write lock a
batch holds while it runs, that bounds the wait to one batch).

**One sweeper at a time.** Each batch first takes the named lock ``"retention"``
(PostgreSQL: a transaction-level advisory lock). A node that does not get it stops at once:
another node is sweeping. Where one writer runs at a time anyway (SQLite, memory) it is
always granted.

**Archive first, then delete.** A batch's archive lines are written and flushed to disk
(``fsync``) before the batch's deletes run, and the deletes commit after that. A crash in
between leaves the archive ahead of the database: the next sweep archives that batch again,
so the archive may hold duplicates of at most one batch (per crash), and never misses an
instance that was deleted. Readers of the archive should keep the last line per
``instance_key``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from legato.errors import NotFoundError
from legato.runtime.masking import Masking
from legato.security.sensitive import SensitiveData
from legato.store.ports import Store, Transaction
from legato.store.records import HistoryRecord, InstanceRecord

RETENTION_LOCK = "retention"
"""The named lock (``Transaction.try_lock``) that a sweeping node holds for each batch."""

DEFAULT_BATCH_SIZE = 500
"""Instances per batch (per transaction)."""

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What a sweep did."""

    deleted: int
    """Instances deleted (with all their rows)."""
    archived: int
    """Instances written to the archive (equal to ``deleted`` unless a batch changed under
    the sweep; zero without an archive)."""
    batches: int
    """Transactions that deleted something."""
    busy: bool = False
    """True if the sweep stopped because another node holds the retention lock."""


def parse_age(text: str) -> timedelta:
    """An age such as ``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` as a timedelta.

    Raises:
        ValueError: if ``text`` is not a whole number followed by one of s, m, h, d, w.
    """
    match = _AGE.match(text)
    if match is None:
        raise ValueError(f"not an age: {text!r} (use a number and s, m, h, d or w, like 30d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def sweep_ended_instances(
    store: Store,
    older_than: timedelta,
    *,
    archive: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
    masking: Masking | None = None,
) -> RetentionReport:
    """Delete the instances that ended more than ``older_than`` ago, batch by batch.

    Args:
        store: the store to sweep.
        older_than: how long an ended instance is kept.
        archive: a file to append each deleted instance to, with its history, as one JSON
            line (``{"instance": {...}, "history": [...]}``), before it is deleted.
        batch_size: instances per transaction.
        now: the current time (the system clock by default).
        masking: mask the sensitive values of what is archived (the engine's
            :attr:`~legato.runtime.engine.Engine.masking`); None archives them as stored.

    Returns:
        How many instances were deleted and archived, in how many batches, and whether the
        sweep stopped because another node is sweeping.

    Raises:
        ValueError: if ``older_than`` is negative or ``batch_size`` is below 1.
        StoreError: if the database fails (the batches committed before stay deleted).
    """
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = (now or datetime.now(UTC)) - older_than
    if masking is not None and archive is not None:
        masking = _settled(store, masking)
    if archive is None:
        return _sweep(store, cutoff, batch_size, None, masking)
    with Path(archive).open("a", encoding="utf-8") as out:
        return _sweep(store, cutoff, batch_size, out, masking)


def _sweep(
    store: Store, cutoff: datetime, batch_size: int, out: IO[str] | None, masking: Masking | None
) -> RetentionReport:
    deleted = archived = batches = 0
    while True:
        with store.transaction() as tx:
            if not tx.try_lock(RETENTION_LOCK):
                return RetentionReport(deleted, archived, batches, busy=True)
            keys = tx.find_expired_instances(cutoff, batch_size)
            if out is not None and keys:
                archived += _archive(tx, keys, out, masking)
            removed = tx.delete_instances(keys) if keys else 0
        if removed:
            deleted += removed
            batches += 1
        # A short batch was the last one; an empty one too (its keys vanished meanwhile).
        if len(keys) < batch_size or not removed:
            return RetentionReport(deleted, archived, batches)


def _settled(store: Store, masking: Masking) -> Masking:
    """``masking`` with the sensitive paths of every deployed process read now: the
    archive is written inside the sweep's transactions, where no other may open."""
    with store.transaction() as tx:
        process_ids = {record.process_id for record in tx.list_definitions()}
    selector = masking.selector
    paths = {process_id: tuple(selector.paths(process_id)) for process_id in process_ids}
    return Masking(SensitiveData(selector.policy, lambda process_id: paths.get(process_id, ())))


def _archive(tx: Transaction, keys: list[int], out: IO[str], masking: Masking | None) -> int:
    lines = [_archive_line(tx, key, masking) for key in keys]
    out.writelines(lines)
    out.flush()
    # On disk before the deletes can commit (see the module docstring).
    os.fsync(out.fileno())
    return len(lines)


def _archive_line(tx: Transaction, instance_key: int, masking: Masking | None) -> str:
    record = tx.get_instance(instance_key)
    if record is None:  # pragma: no cover - found in this same transaction
        raise NotFoundError(f"instance {instance_key} does not exist")
    events = tx.history(instance_key)
    instance = _fields(record)
    history = [_fields(event) for event in events]
    if masking is not None:
        state, payloads = masking.archived(
            record.process_id, record.state, [dict(event.payload) for event in events]
        )
        instance["state"] = state
        for entry, payload in zip(history, payloads, strict=True):
            entry["payload"] = payload
    document = {"instance": instance, "history": history}
    return json.dumps(document, default=_json_value, ensure_ascii=False) + "\n"


def _fields(record: InstanceRecord | HistoryRecord) -> dict[str, Any]:
    # Not dataclasses.asdict: its deep copy of the state and payloads (fresh from the
    # database, owned by nobody else) was most of a batch's time, under the write lock.
    return {field.name: getattr(record, field.name) for field in fields(record)}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot archive a {type(value).__name__}")
