"""Users sign in with passwords: argon2id hashes, a short cache of successful checks, and
no answer that tells which user names exist."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher

from accounts_support import AccountsFactory, CountingHasher, VirtualClock
from legato.security import Principal
from legato.security.accounts import DEFAULT_CACHE_TTL, Accounts, _TtlCache
from legato.store.memory import MemoryStore
from legato.store.ports import Store

PAST_THE_CACHE = DEFAULT_CACHE_TTL + timedelta(seconds=1)


def test_a_user_signs_in_with_the_right_password_only(accounts: Accounts) -> None:
    accounts.create_user("grace", "s3cret!", ["operator", "user"], groups=["billing"])

    principal = accounts.authenticate_basic("grace", "s3cret!")

    assert principal == Principal(
        "grace", frozenset({"operator", "user"}), frozenset({"billing"}), kind="user"
    )
    assert accounts.authenticate_basic("grace", "wrong") is None
    assert accounts.authenticate_basic("grace", "") is None
    assert accounts.authenticate_basic("nobody", "s3cret!") is None


def test_the_password_is_stored_as_an_argon2id_hash(store: Store) -> None:
    accounts = Accounts(store)  # the real hasher's parameters
    accounts.create_user("grace", "s3cret!", ["user"])

    with store.transaction() as tx:
        stored = tx.get_user("grace")

    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "s3cret!" not in stored.password_hash
    assert PasswordHasher().verify(stored.password_hash, "s3cret!")


def test_a_verified_password_is_not_checked_again_within_the_cache_time(
    accounts: Accounts, hasher: CountingHasher, clock: VirtualClock
) -> None:
    accounts.create_user("grace", "s3cret!", ["user"])

    for _ in range(3):
        assert accounts.authenticate_basic("grace", "s3cret!") is not None
    assert hasher.verified == 1

    clock.advance(PAST_THE_CACHE)
    assert accounts.authenticate_basic("grace", "s3cret!") is not None
    assert hasher.verified == 2


def test_wrong_passwords_are_never_cached(accounts: Accounts, hasher: CountingHasher) -> None:
    accounts.create_user("grace", "s3cret!", ["user"])

    for _ in range(3):
        assert accounts.authenticate_basic("grace", "wrong") is None

    assert hasher.verified == 3


def test_an_unknown_user_costs_a_hash_check_like_a_wrong_password(
    accounts: Accounts, hasher: CountingHasher
) -> None:
    accounts.create_user("grace", "s3cret!", ["user"])

    assert accounts.authenticate_basic("nobody", "s3cret!") is None
    assert accounts.authenticate_basic("grace", "wrong") is None

    assert hasher.verified == 2


def test_a_new_password_here_ends_the_old_one_at_once(accounts: Accounts) -> None:
    accounts.create_user("grace", "old-password", ["user"])
    assert accounts.authenticate_basic("grace", "old-password") is not None

    accounts.set_password("grace", "new-password")

    assert accounts.authenticate_basic("grace", "old-password") is None
    assert accounts.authenticate_basic("grace", "new-password") is not None


def test_a_new_password_on_another_node_ends_the_old_one_within_the_cache_time(
    make_accounts: AccountsFactory, clock: VirtualClock
) -> None:
    here, there = make_accounts(), make_accounts()
    here.create_user("grace", "old-password", ["user"])
    assert here.authenticate_basic("grace", "old-password") is not None

    there.set_password("grace", "new-password")
    clock.advance(PAST_THE_CACHE)

    assert here.authenticate_basic("grace", "old-password") is None
    assert here.authenticate_basic("grace", "new-password") is not None


def test_a_disabled_user_cannot_sign_in_and_may_be_enabled_again(
    make_accounts: AccountsFactory, clock: VirtualClock
) -> None:
    here, there = make_accounts(), make_accounts()
    here.create_user("grace", "s3cret!", ["user"])
    assert here.authenticate_basic("grace", "s3cret!") is not None

    there.disable_user("grace")
    assert there.authenticate_basic("grace", "s3cret!") is None
    clock.advance(PAST_THE_CACHE)
    assert here.authenticate_basic("grace", "s3cret!") is None

    there.enable_user("grace")
    assert here.authenticate_basic("grace", "s3cret!") is not None


def test_a_removed_user_cannot_sign_in(accounts: Accounts) -> None:
    accounts.create_user("grace", "s3cret!", ["user"])
    assert accounts.authenticate_basic("grace", "s3cret!") is not None

    accounts.delete_user("grace")

    assert accounts.authenticate_basic("grace", "s3cret!") is None


def test_new_roles_take_effect_at_the_next_check(accounts: Accounts) -> None:
    accounts.create_user("grace", "s3cret!", ["user"])
    assert accounts.authenticate_basic("grace", "s3cret!") is not None

    accounts.set_roles("grace", ["auditor"])

    principal = accounts.authenticate_basic("grace", "s3cret!")
    assert principal is not None
    assert principal.roles == {"auditor"}


def test_a_hash_of_weaker_parameters_is_renewed_at_sign_in(clock: VirtualClock) -> None:
    store = MemoryStore()
    Accounts(store, now=clock, password_hasher=CountingHasher()).create_user(
        "grace", "s3cret!", ["user"]
    )
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)

    assert Accounts(store, now=clock, password_hasher=stronger).authenticate_basic(
        "grace", "s3cret!"
    )

    with store.transaction() as tx:
        renewed = tx.get_user("grace")
    assert renewed is not None
    assert "$m=2048,t=2,p=1$" in renewed.password_hash


def test_the_cache_holds_a_bounded_number_of_entries(clock: VirtualClock) -> None:
    cache: _TtlCache[int] = _TtlCache(timedelta(seconds=60), 3, clock)
    for number in range(5):
        cache.put(number, number)

    assert len(cache) == 3
    assert cache.get(0) is None
    assert cache.get(4) == (4,)
    clock.advance(timedelta(seconds=61))
    assert cache.get(4) is None
