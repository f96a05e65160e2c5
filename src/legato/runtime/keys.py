"""Fresh keys from durable blocks, so keys never repeat even after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from legato.store.ports import Store, Transaction


class KeyAllocator:
    """Hands out keys from blocks reserved in the database.

    A block is reserved inside the transaction that first needs it. If that transaction rolls
    back, the reservation is undone in the database, so the keys of blocks reserved in it are
    thrown away here too (:meth:`rolled_back`); keys are never handed out twice.
    """

    def __init__(self, block_size: int = 10_000) -> None:
        # A reservation is a commit of its own on PostgreSQL (a durable write the command
        # waits for): an onboarding instance takes some 17 keys, so blocks of 1,000 made a
        # node wait for one every 60 instances. Keys are 64-bit; a block abandoned by a crash
        # or a rollback costs nothing but the gap.
        self._block_size = block_size
        self._next = 0
        self._end = 0
        self._transaction: Transaction | None = None
        self._reserved_in_transaction = False

    @contextmanager
    def transaction(self, store: Store) -> Iterator[Transaction]:
        """A store transaction in which keys may be handed out (kept only if it commits)."""
        try:
            with store.transaction() as tx:
                self.begin(tx)
                yield tx
        except BaseException:
            self.rolled_back()
            raise
        self.committed()

    def begin(self, transaction: Transaction) -> None:
        """Keys are needed inside ``transaction`` from now on."""
        self._transaction = transaction
        self._reserved_in_transaction = False

    def committed(self) -> None:
        """The transaction committed: its blocks are ours for good."""
        self._transaction = None

    def rolled_back(self) -> None:
        """The transaction rolled back: forget any block it reserved."""
        if self._reserved_in_transaction:
            self._next = self._end = 0
        self._transaction = None

    def new_key(self) -> int:
        """A fresh key."""
        if self._next >= self._end:
            if self._transaction is None:
                raise RuntimeError("keys are only handed out inside a transaction")
            block = self._transaction.reserve_keys(self._block_size)
            self._next, self._end = block.start, block.stop
            self._reserved_in_transaction = True
        key = self._next
        self._next += 1
        return key
