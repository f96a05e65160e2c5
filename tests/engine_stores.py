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
    """A pooled store: an engine closing it leaves it open for the next test."""

    def close(self) -> None:
        """Stay open; the pool releases the store at the end of the session."""

    def release(self) -> None:
        super().close()


class _StorePool:
    """Open stores of one kind; a test borrows the first ones it needs, emptied."""

    def __init__(self, stack: ExitStack, open_store: Callable[[int], _KeptOpenStore]) -> None:
        self._stack = stack
        self._open_store = open_store
        self._stores: list[_KeptOpenStore] = []
        self._lent = 0
        self._add()  # an unreachable server fails (or skips) the first test, at setup

    def _add(self) -> None:
        store = self._open_store(len(self._stores))
        self._stack.callback(store.release)  # before its schema is dropped
        self._stores.append(store)

    def lend(self) -> Store:
        if self._lent == len(self._stores):
            self._add()
        store = self._stores[self._lent]
        self._lent += 1
        empty_tables(store.engine)
        return store

    def give_back(self) -> None:
        self._lent = 0


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
