"""Managing users: clear errors for what cannot be done, an admin that always remains, and
the first admin of an empty database made once however many nodes start together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from accounts_support import AccountsFactory, CountingHasher, VirtualClock
from legato.errors import AccountError, AccountExistsError, AccountNotFoundError, NotFoundError
from legato.security.accounts import ADMIN_USER, Accounts, User
from legato.store.memory import MemoryStore
from legato.store.sql import SqlStore

LONG_ENOUGH = 120.0
"""Seconds a thread waits for another: a bound for a hang, never reached."""

_R = TypeVar("_R")


def test_users_are_listed_by_name_without_their_hashes(
    accounts: Accounts, clock: VirtualClock
) -> None:
    accounts.create_user("zed", "pw", ["auditor"])
    accounts.create_user("ada", "pw", ["developer", "admin"], groups=["core", "ops", "core"])

    assert accounts.users() == [
        User("ada", ("admin", "developer"), ("core", "ops"), clock(), False),
        User("zed", ("auditor",), (), clock(), False),
    ]
    assert accounts.user("zed").roles == ("auditor",)


def test_an_unknown_role_is_named_with_the_valid_ones(accounts: Accounts) -> None:
    with pytest.raises(AccountError) as raised:
        accounts.create_user("grace", "pw", ["user", "superuser"])

    assert str(raised.value) == (
        "unknown role 'superuser'; the roles are admin, developer, operator, worker, user, auditor"
    )
    assert accounts.users() == []


def test_a_user_needs_a_role_and_a_password(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="at least one role"):
        accounts.create_user("grace", "pw", [])
    with pytest.raises(AccountError, match="the password is empty"):
        accounts.create_user("grace", "", ["user"])
    accounts.create_user("grace", "pw", ["user"])
    with pytest.raises(AccountError, match="the password is empty"):
        accounts.set_password("grace", "")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "user name is empty"),
        ("   ", "user name is empty"),
        (" grace", "cannot be used"),
        ("gr\nace", "cannot be used"),
        ("x" * 256, "cannot be used"),
        ("grace:hopper", "cannot contain ':'"),
        ("lk_grace", "cannot start with 'lk_'"),
    ],
)
def test_a_user_name_that_cannot_be_used_is_refused(
    accounts: Accounts, name: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.create_user(name, "pw", ["user"])


def test_a_taken_name_is_a_clear_error(accounts: Accounts) -> None:
    accounts.create_user("grace", "pw", ["user"])

    with pytest.raises(AccountExistsError, match="a user named 'grace' exists already"):
        accounts.create_user("grace", "other", ["admin"])

    assert accounts.authenticate_basic("grace", "pw") is not None


def test_changing_an_unknown_user_is_not_found(accounts: Accounts) -> None:
    for change in (
        lambda: accounts.set_password("nobody", "pw"),
        lambda: accounts.set_roles("nobody", ["user"]),
        lambda: accounts.set_groups("nobody", ["g"]),
        lambda: accounts.disable_user("nobody"),
        lambda: accounts.enable_user("nobody"),
        lambda: accounts.delete_user("nobody"),
        lambda: accounts.user("nobody"),
    ):
        with pytest.raises(AccountNotFoundError, match="no user named 'nobody'"):
            change()
    assert issubclass(AccountNotFoundError, NotFoundError)


def test_the_last_enabled_admin_cannot_be_taken_away(accounts: Accounts) -> None:
    accounts.create_user("root", "pw", ["admin"])
    accounts.create_user("grace", "pw", ["user"])

    for change in (
        lambda: accounts.delete_user("root"),
        lambda: accounts.disable_user("root"),
        lambda: accounts.set_roles("root", ["operator"]),
    ):
        with pytest.raises(AccountError, match="no enabled admin"):
            change()

    accounts.set_roles("grace", ["admin"])
    accounts.delete_user("root")
    assert [u.name for u in accounts.users()] == ["grace"]


def test_users_without_an_admin_can_still_be_changed(accounts: Accounts) -> None:
    accounts.create_user("grace", "pw", ["user"])

    accounts.set_roles("grace", ["operator"])
    accounts.set_groups("grace", ["billing"])
    accounts.disable_user("grace")

    assert accounts.user("grace") == User(
        "grace", ("operator",), ("billing",), accounts.user("grace").created_at, True
    )


# -- the first admin --------------------------------------------------------------------------


def test_an_empty_database_gets_an_admin_with_a_generated_password(accounts: Accounts) -> None:
    password = accounts.ensure_admin()

    assert password is not None and len(password) >= 20
    principal = accounts.authenticate_basic(ADMIN_USER, password)
    assert principal is not None and principal.roles == {"admin"}
    assert accounts.ensure_admin() is None
    assert accounts.ensure_admin("another") is None
    assert [u.name for u in accounts.users()] == [ADMIN_USER]


def test_the_first_admin_may_get_a_given_password(accounts: Accounts) -> None:
    assert accounts.ensure_admin("from-the-environment") == "from-the-environment"

    assert accounts.authenticate_basic(ADMIN_USER, "from-the-environment") is not None


def test_no_admin_is_made_where_users_exist(accounts: Accounts) -> None:
    accounts.create_user("grace", "pw", ["user"])

    assert accounts.ensure_admin() is None
    assert [u.name for u in accounts.users()] == ["grace"]


def test_an_empty_given_password_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="the password is empty"):
        accounts.ensure_admin("")


def _together(calls: list[Callable[[], _R]]) -> list[_R]:
    """Run the calls at once, each on a thread released by one barrier; their results."""
    barrier = threading.Barrier(len(calls), timeout=LONG_ENOUGH)
    results: list[_R] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], _R]) -> None:
        try:
            barrier.wait()
            result = call()
            with lock:
                results.append(result)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LONG_ENOUGH)
    assert not errors, errors
    return results


def test_threads_starting_together_make_one_admin(clock: VirtualClock) -> None:
    store = MemoryStore()
    nodes = [Accounts(store, now=clock, password_hasher=CountingHasher()) for _ in range(4)]

    passwords = _together([node.ensure_admin for node in nodes])

    made = [p for p in passwords if p is not None]
    assert len(made) == 1
    assert nodes[0].authenticate_basic(ADMIN_USER, made[0]) is not None


@pytest.mark.postgres
def test_nodes_starting_together_on_postgres_make_one_admin(
    postgres_store: SqlStore, postgres_url: str, clock: VirtualClock
) -> None:
    others = [SqlStore(postgres_url) for _ in range(2)]
    try:
        nodes = [
            Accounts(store, now=clock, password_hasher=CountingHasher())
            for store in [postgres_store, *others]
        ]
        passwords = _together([node.ensure_admin for node in nodes])
    finally:
        for store in others:
            store.close()

    made = [p for p in passwords if p is not None]
    assert len(made) == 1
    with postgres_store.transaction() as tx:
        assert [u.name for u in tx.list_users()] == [ADMIN_USER]
    assert nodes[0].authenticate_basic(ADMIN_USER, made[0]) is not None


def test_the_factory_fixture_shares_one_store(make_accounts: AccountsFactory) -> None:
    make_accounts().create_user("grace", "pw", ["user"])

    assert make_accounts().authenticate_basic("grace", "pw") is not None
