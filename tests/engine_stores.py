"""The engine tests run on every store: in memory, on SQLite and on PostgreSQL.

A test that uses the ``engine_store`` fixture runs once per store kind, and the kind is in
its id (``[memory]``, ``[sqlite]``, ``[postgres]``). In such a test every ``TestEngine()``
built without a url or store gets an empty store of that kind of its own (through
:func:`legato.testing.use_stores`), so the tests themselves do not change.

The engine and conformance suites make a store for every case, hundreds in all, and opening
a store costs far more than the rest of a small case: about 25 ms on SQLite (the schema and
migration checks) and about 100 ms on PostgreSQL (a new connection pool, the dialect's
first-connect queries, the same checks). So the database stores stay open for the whole
session, each on a database file or schema of its own, and are lent to one test at a time,
emptied first (a few ms).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from legato.store.ports import Store
from legato.store.sql import SqlStore
from legato.testing import use_stores
from postgres_fixtures import empty_tables, fresh_schema

ENGINE_STORES = ("memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


class _KeptOpenStore(SqlStore):
    """A pooled store: an engine closing it gives it back to the pool, open."""

    returned: Callable[[_KeptOpenStore], None] | None = None

    def close(self) -> None:
        """Stay open for the next engine; the pool releases the store at the end of the
        session."""
        if self.returned is not None:
            self.returned(self)

    def release(self) -> None:
        super().close()


class _StorePool:
    """Open stores of one kind; each engine of a test borrows one, emptied.

    A store comes back when its engine is closed (the conformance cases close theirs: one or
    two stores serve a test of many cases) or at the end of the test. On PostgreSQL each
    store holds a few connections, and the server allows 100 to all the suites that run on
    it at once: a pool as large as the most engines any test opened (nine) held about 30.
    """

    def __init__(self, stack: ExitStack, open_store: Callable[[int], _KeptOpenStore]) -> None:
        self._stack = stack
        self._open_store = open_store
        self._stores: list[_KeptOpenStore] = []
        self._free: list[_KeptOpenStore] = []
        self._lent: list[_KeptOpenStore] = []
        self._free.append(self._add())  # an unreachable server fails (or skips) the first test

    def _add(self) -> _KeptOpenStore:
        store = self._open_store(len(self._stores))
        store.returned = self._returned
        self._stack.callback(store.release)  # before its schema is dropped
        self._stores.append(store)
        return store

    def lend(self) -> Store:
        store = self._free.pop(0) if self._free else self._add()
        self._lent.append(store)
        empty_tables(store.engine)
        return store

    def _returned(self, store: _KeptOpenStore) -> None:
        if store in self._lent:  # an engine may be closed twice
            self._lent.remove(store)
            self._free.append(store)

    def give_back(self) -> None:
        self._lent.clear()
        self._free = list(self._stores)


@pytest.fixture(scope="session")
def postgres_pool() -> Iterator[_StorePool]:
    """The session's PostgreSQL stores, each on a schema of its own (dropped at the end)."""
    with ExitStack() as stack:
        yield _StorePool(stack, lambda _: _KeptOpenStore(stack.enter_context(fresh_schema())))


@pytest.fixture(scope="session")
def sqlite_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_StorePool]:
    """The session's SQLite stores, each in a file of its own."""
    folder = tmp_path_factory.mktemp("engine-stores")

    def open_store(number: int) -> _KeptOpenStore:
        # NORMAL (no fsync per commit; durable on a process crash) is a setting users run
        # too; it made the SQLite runs of these suites about a third faster than FULL.
        return _KeptOpenStore(f"sqlite:///{folder / f'engine-{number}.db'}", synchronous="NORMAL")

    with ExitStack() as stack:
        yield _StorePool(stack, open_store)


@pytest.fixture(params=ENGINE_STORES)
def engine_store(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store kind this test's ``TestEngine()`` instances run on."""
    kind: str = request.param
    if kind == "memory":
        yield kind
        return
    pool: _StorePool = request.getfixturevalue(f"{kind}_pool")
    try:
        with use_stores(pool.lend):
            yield kind
    finally:
        pool.give_back()
