"""Verifying the audit trail: the chain, the numbering and the signed checkpoints.

:func:`verify_trail` walks the records in pages by sequence number and stops at the first
one broken, naming it and what is wrong:

* a number missing: ``missing (deleted)``;
* a record whose content does not give its hash: ``edited``, or ``inserted`` when the
  record after it links to the one before it;
* a record that does not link to the one before: ``reordered`` when it links to the record
  after it, ``inserted`` (the one before it) when it links two back, else a break that a
  deletion, insertion or move leaves;
* a record that differs from its signed checkpoint (a chain whose hashes were all computed
  again), a checkpoint whose signature is wrong, a checkpoint past the last record (records
  removed from the end).

The walk starts at record 1 from :data:`~legato.security.audit.GENESIS`, or, after a prune,
from the signed checkpoint at the record just before the first one kept.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from legato.security.audit import GENESIS, AuditTrail, record_hash, sign
from legato.store.audit import AuditCheckpoint, AuditQuery, AuditRecord

PAGE_SIZE = 1000
"""Records read per transaction while verifying."""


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify_trail` found."""

    records: int
    """How many records were checked (all of them when intact)."""
    last_seq: int | None
    """The last record's number when intact."""
    broken_seq: int | None = None
    """The first record broken (None: intact)."""
    problem: str | None = None
    """What is wrong with it."""

    @property
    def intact(self) -> bool:
        """Whether every record and checkpoint checked out."""
        return self.broken_seq is None

    @property
    def message(self) -> str:
        """``intact: N records, last #seq`` or ``record #k: <what is wrong>``."""
        if self.broken_seq is None:
            last = "" if self.last_seq is None else f", last #{self.last_seq}"
            return f"intact: {self.records} records{last}"
        return f"record #{self.broken_seq}: {self.problem}"


class _Broken(Exception):
    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(seq, problem)
        self.seq = seq
        self.problem = problem


def _pages(trail: AuditTrail, after: int, page_size: int) -> Iterator[AuditRecord]:
    while True:
        page = trail.records(AuditQuery(after_seq=after, limit=page_size))
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].seq


def _with_next(
    records: Iterator[AuditRecord],
) -> Iterator[tuple[AuditRecord, AuditRecord | None]]:
    current = next(records, None)
    while current is not None:
        following = next(records, None)
        yield current, following
        current = following


def _start(first: int | None, checkpoints: list[AuditCheckpoint]) -> tuple[int, str]:
    """The number and hash the walk starts after."""
    if first == 1 or (first is None and not checkpoints):
        return 0, GENESIS
    if first is None:
        return checkpoints[0].seq, checkpoints[0].hash  # everything pruned: the cut
    for checkpoint in checkpoints:
        if checkpoint.seq == first - 1:
            return checkpoint.seq, checkpoint.hash
    raise _Broken(
        first,
        f"the records before it are missing (deleted): no signed checkpoint at #{first - 1}",
    )


def _check_link(
    record: AuditRecord, following: AuditRecord | None, prev: str, prev2: str | None
) -> None:
    k = record.seq
    if record_hash(record) != record.hash:
        if following is not None and following.prev_hash == prev:
            raise _Broken(k, f"inserted: the record after it links to #{k - 1}")
        raise _Broken(k, "edited: its content does not match its hash")
    if record.prev_hash == prev:
        return
    if following is not None and following.hash == record.prev_hash:
        raise _Broken(k, f"reordered: it links to the record after it (#{following.seq})")
    if prev2 is not None and record.prev_hash == prev2:
        raise _Broken(k - 1, f"inserted: the record after it links to #{k - 2}")
    raise _Broken(
        k,
        f"does not link to #{k - 1}: a record was deleted, inserted or reordered here,"
        f" or #{k - 1} was edited and its hash computed again",
    )


def _walk(trail: AuditTrail, page_size: int) -> Verification:
    with trail.store.transaction() as tx:
        checkpoints = tx.list_audit_checkpoints()
        first = tx.first_audit_seq()
    secret = trail.secret
    for checkpoint in checkpoints:
        expected = sign(secret, checkpoint.seq, checkpoint.hash)
        if not hmac.compare_digest(expected, checkpoint.signature):
            raise _Broken(checkpoint.seq, "its signed checkpoint has a wrong signature (edited)")
    signed = {c.seq: c.hash for c in checkpoints}
    seq, prev = _start(first, checkpoints)
    prev2: str | None = None
    count = 0
    for record, following in _with_next(_pages(trail, seq, page_size)):
        if record.seq != seq + 1:
            raise _Broken(seq + 1, f"missing (deleted): the trail goes on at #{record.seq}")
        _check_link(record, following, prev, prev2)
        if signed.get(record.seq, record.hash) != record.hash:
            raise _Broken(record.seq, "edited: it does not match its signed checkpoint")
        seq, prev2, prev = record.seq, prev, record.hash
        count += 1
    beyond = [c.seq for c in checkpoints if c.seq > seq]
    if beyond:
        raise _Broken(seq + 1, f"missing (deleted): a signed checkpoint names #{beyond[0]}")
    return Verification(count, seq if count else None)


def verify_trail(trail: AuditTrail, *, page_size: int = PAGE_SIZE) -> Verification:
    """Check the whole trail of ``trail.store`` (see the module docstring)."""
    try:
        return _walk(trail, page_size)
    except _Broken as broken:
        return Verification(0, None, broken.seq, broken.problem)
