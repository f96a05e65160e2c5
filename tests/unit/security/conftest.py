"""Fixtures of the accounts tests: a store of each kind, a virtual clock, a cheap hasher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts_support import AccountsFactory, CountingHasher, VirtualClock
from legato.security.accounts import Accounts
from legato.store.memory import MemoryStore
from legato.store.ports import Store
from legato.store.sql import SqlStore


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    made: Store = (
        MemoryStore() if request.param == "memory" else SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    )
    yield made
    made.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def make_accounts(store: Store, clock: VirtualClock) -> AccountsFactory:
    """Accounts on the test's store (a second call is a second node on the same database)."""

    def make(**options: Any) -> Accounts:
        options.setdefault("now", clock)
        options.setdefault("password_hasher", CountingHasher())
        return Accounts(store, **options)

    return make


@pytest.fixture
def accounts(make_accounts: AccountsFactory, hasher: CountingHasher) -> Accounts:
    return make_accounts(password_hasher=hasher)
