"""The accounts part of the store contract: users, API keys and server secrets, on every
adapter; the insert-if-absent rules hold when two PostgreSQL stores race."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from legato.errors import ConflictError, StoreError
from legato.store.memory import MemoryStore
from legato.store.ports import Store
from legato.store.records import ApiKeyRecord, UserRecord
from legato.store.sql import SqlStore

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LONG_ENOUGH = 120.0
"""Seconds a thread waits for another: a bound for a hang, never reached."""

_R = TypeVar("_R")


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


def user(name: str = "grace", **changes: object) -> UserRecord:
    record = UserRecord(
        name=name,
        password_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        roles=("operator", "user"),
        groups=("billing",),
        created_at=T0,
    )
    return UserRecord(**{**_fields(record), **changes})  # type: ignore[arg-type]


def key(key_id: str = "lk_abcdefghijklmnop", **changes: object) -> ApiKeyRecord:
    record = ApiKeyRecord(
        key_id=key_id,
        name="billing worker",
        secret_hash="sha256:" + "0" * 64,
        roles=("worker",),
        job_types=("charge", "refund"),
        created_at=T0,
    )
    return ApiKeyRecord(**{**_fields(record), **changes})  # type: ignore[arg-type]


def _fields(record: object) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}  # type: ignore[attr-defined]


def test_a_user_round_trips_and_a_name_is_taken_once(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.insert_user(user())
        assert not tx.insert_user(user(password_hash="other"))

    with store.transaction() as tx:
        assert tx.get_user("grace") == user()
        assert tx.get_user("nobody") is None
        assert tx.count_users() == 1


def test_users_are_updated_listed_by_name_and_deleted(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_user(user("zed"))
        tx.insert_user(user("ada"))
        assert tx.update_user(user("zed", roles=("admin",), disabled=True))
        assert not tx.update_user(user("nobody"))

    with store.transaction() as tx:
        assert [u.name for u in tx.list_users()] == ["ada", "zed"]
        assert tx.get_user("zed") == user("zed", roles=("admin",), disabled=True)
        assert tx.delete_user("ada")
        assert not tx.delete_user("ada")

    with store.transaction() as tx:
        assert [u.name for u in tx.list_users()] == ["zed"]


def test_a_rolled_back_user_is_not_stored(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert_user(user())
        raise RuntimeError("stop")

    with store.transaction() as tx:
        assert tx.count_users() == 0


def test_an_api_key_round_trips_with_and_without_job_types(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_api_key(key())
        tx.insert_api_key(key("lk_everytypeeverytyp", job_types=None, created_at=T0 + _SECOND))

    with store.transaction() as tx:
        assert tx.get_api_key("lk_abcdefghijklmnop") == key()
        assert tx.get_api_key("lk_everytypeeverytyp") == key(
            "lk_everytypeeverytyp", job_types=None, created_at=T0 + _SECOND
        )
        assert tx.get_api_key("lk_unknown") is None
        assert [k.key_id for k in tx.list_api_keys()] == [
            "lk_abcdefghijklmnop",
            "lk_everytypeeverytyp",
        ]


_SECOND = timedelta(seconds=1)


def test_an_api_key_is_revoked_and_its_use_recorded(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_api_key(key())
    revoked = key(last_used_at=T0 + _SECOND, revoked_at=T0 + 2 * _SECOND)

    with store.transaction() as tx:
        assert tx.update_api_key(revoked)
        assert not tx.update_api_key(key("lk_unknown"))

    with store.transaction() as tx:
        assert tx.get_api_key(revoked.key_id) == revoked


def test_a_taken_key_id_is_a_conflict(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_api_key(key())

    with pytest.raises(ConflictError), store.transaction() as tx:
        tx.insert_api_key(key(name="another"))


def test_a_naive_time_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.insert_user(user(created_at=datetime(2026, 1, 1)))


def test_a_server_secret_is_kept_once(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.ensure_server_secret("signing", "first", T0) == "first"
        assert tx.ensure_server_secret("signing", "second", T0) == "first"

    with store.transaction() as tx:
        assert tx.ensure_server_secret("signing", "third", T0) == "first"
        assert tx.ensure_server_secret("other", "fourth", T0) == "fourth"


# -- races on PostgreSQL --------------------------------------------------------------------


def _together(first: Callable[[], _R], second: Callable[[], _R]) -> list[_R]:
    """Run both at once (each on a thread, started by one barrier); their results in order."""
    barrier = threading.Barrier(2, timeout=LONG_ENOUGH)
    results: list[_R | None] = [None, None]
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], _R]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LONG_ENOUGH)
    assert not errors, errors
    return [r for r in results if r is not None]


@pytest.mark.postgres
def test_two_nodes_inserting_one_user_store_it_once(
    postgres_store: SqlStore, postgres_url: str
) -> None:
    other = SqlStore(postgres_url)
    entered = threading.Barrier(2, timeout=LONG_ENOUGH)

    def insert(store: Store, password_hash: str) -> bool:
        with store.transaction() as tx:
            # Both transactions have begun before either inserts: the second insert waits
            # for the first transaction and then does nothing.
            tx.count_users()
            entered.wait()
            return tx.insert_user(user(password_hash=password_hash))

    try:
        inserted = _together(
            lambda: insert(postgres_store, "first"), lambda: insert(other, "second")
        )
    finally:
        other.close()

    assert sorted(inserted) == [False, True]
    with postgres_store.transaction() as tx:
        assert tx.count_users() == 1


@pytest.mark.postgres
def test_two_nodes_generating_the_secret_agree_on_one(
    postgres_store: SqlStore, postgres_url: str
) -> None:
    other = SqlStore(postgres_url)
    entered = threading.Barrier(2, timeout=LONG_ENOUGH)

    def ensure(store: Store, value: str) -> str:
        with store.transaction() as tx:
            tx.count_users()
            entered.wait()
            return tx.ensure_server_secret("signing", value, T0)

    try:
        values = _together(lambda: ensure(postgres_store, "a"), lambda: ensure(other, "b"))
    finally:
        other.close()

    assert values[0] == values[1]
    assert values[0] in ("a", "b")
