"""Fresh keys from durable blocks, so keys never repeat even after a crash."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType

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

    def transaction(self, store: Store) -> AbstractContextManager[Transaction]:
        """A store transaction in which keys may be handed out (kept only if it commits)."""
        return _KeyedTransaction(self, store.transaction())

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


class _KeyedTransaction:
    """A store transaction that tells its key allocator how it ended.

    A class rather than a generator-based context manager: every command's transaction
    enters one.
    """

    __slots__ = ("_keys", "_transaction")

    def __init__(
        self, keys: KeyAllocator, transaction: AbstractContextManager[Transaction]
    ) -> None:
        self._keys = keys
        self._transaction = transaction

    def __enter__(self) -> Transaction:
        try:
            tx = self._transaction.__enter__()
        except BaseException:
            self._keys.rolled_back()
            raise
        self._keys.begin(tx)
        return tx

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        try:
            swallowed = self._transaction.__exit__(kind, exc, traceback)
        except BaseException:
            self._keys.rolled_back()
            raise
        if exc is not None and not swallowed:
            self._keys.rolled_back()
            return None
        self._keys.committed()
        return swallowed
