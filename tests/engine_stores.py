"""The engine tests run on every store: in memory, on SQLite and on PostgreSQL.

A test that uses the ``engine_store`` fixture runs once per store kind, and the kind is in
its id (``[memory]``, ``[sqlite]``, ``[postgres]``). In such a test every ``TestEngine()``
built without a url or store gets a new, empty store of that kind of its own (through
:func:`legato.testing.use_stores`), so the tests themselves do not change.

New stores must be cheap, since every case of the engine and conformance suites makes one:

- SQLite: a copy of a database file made once per session (about 12 ms, against about
  55 ms to create the tables in a new file).
- PostgreSQL: stores stay open for the whole session, each on a schema of its own, and are
  lent to one test at a time, emptied first (a few ms). Opening a store there costs about
  100 ms: a new connection pool, the dialect's first-connect queries and the schema check.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import pytest

from legato.store.ports import Store
from legato.store.sql import SqlStore
from legato.testing import use_stores
from postgres_fixtures import empty_tables, fresh_schema

ENGINE_STORES = ("memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


class _Lender(Protocol):
    def lend(self) -> Store: ...

    def give_back(self) -> None: ...


class _SqliteFiles:
    """New SQLite databases for one test, copied from an empty template."""

    def __init__(self, template: Path, directory: Path) -> None:
        self._template = template
        self._directory = directory
        self._stores: list[SqlStore] = []

    def lend(self) -> Store:
        path = self._directory / f"engine-{len(self._stores)}.db"
        shutil.copyfile(self._template, path)
        # NORMAL (no fsync per commit; durable on a process crash) is a setting users run
        # too; it made the SQLite runs of these suites about a third faster than FULL.
        store = SqlStore(f"sqlite:///{path}", synchronous="NORMAL")
        self._stores.append(store)
        return store

    def give_back(self) -> None:
        for store in self._stores:
            store.close()


class _KeptOpenStore(SqlStore):
    """A pooled store: an engine closing it leaves it open for the next test."""

    def close(self) -> None:
        """Stay open; the pool releases the store at the end of the session."""

    def release(self) -> None:
        super().close()


class _PostgresPool:
    """Open stores on schemas of their own; a test borrows the first ones it needs."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._stores: list[_KeptOpenStore] = []
        self._lent = 0
        self._add()  # fails (or skips) the first PostgreSQL test here, at setup

    def _add(self) -> None:
        url = self._stack.enter_context(fresh_schema())
        store = _KeptOpenStore(url)
        self._stack.callback(store.release)  # before the schema is dropped
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
def postgres_pool() -> Iterator[_PostgresPool]:
    """The session's pool of PostgreSQL stores (schemas dropped at the end)."""
    with ExitStack() as stack:
        yield _PostgresPool(stack)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty Legato database file to copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "legato.db"
    SqlStore(f"sqlite:///{path}").close()
    return path


@pytest.fixture(params=ENGINE_STORES)
def engine_store(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store kind this test's ``TestEngine()`` instances run on."""
    kind: str = request.param
    if kind == "memory":
        yield kind
        return
    lender: _Lender
    if kind == "postgres":
        lender = request.getfixturevalue("postgres_pool")
    else:
        template = request.getfixturevalue("sqlite_template")
        lender = _SqliteFiles(template, request.getfixturevalue("tmp_path"))
    try:
        with use_stores(lender.lend):
            yield kind
    finally:
        lender.give_back()
