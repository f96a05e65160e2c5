"""Machines authenticate with API keys: an id and a secret shown once, stored as a hash,
accepted as Basic credentials and as Bearer tokens, revoked for good."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from accounts_support import AccountsFactory, VirtualClock
from legato.errors import AccountError, AccountNotFoundError
from legato.security import Principal
from legato.security.accounts import DEFAULT_CACHE_TTL, Accounts
from legato.store.ports import Store

PAST_THE_CACHE = DEFAULT_CACHE_TTL + timedelta(seconds=1)


def test_a_key_has_a_public_id_and_a_long_random_secret(accounts: Accounts) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"], ["charge"])
    other_id, other_secret = accounts.create_api_key("billing worker", ["worker"])

    assert re.fullmatch(r"lk_[A-Za-z0-9]{16}", key_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", secret)  # 32 bytes, URL-safe base64
    assert (key_id, secret) != (other_id, other_secret)


def test_only_a_hash_of_the_secret_is_stored(accounts: Accounts, store: Store) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"])

    with store.transaction() as tx:
        stored = tx.get_api_key(key_id)

    assert stored is not None
    assert secret not in stored.secret_hash
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", stored.secret_hash)


def test_a_key_authenticates_as_basic_and_bearer_credentials(accounts: Accounts) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"], ["charge", "refund"])
    expected = Principal(
        key_id, frozenset({"worker"}), job_types=frozenset({"charge", "refund"}), kind="key"
    )

    assert accounts.authenticate_basic(key_id, secret) == expected
    assert accounts.authenticate_bearer(f"{key_id}:{secret}") == expected
    assert accounts.authenticate_bearer(f"{key_id}.{secret}") == expected
    assert expected.may_work_on("charge")
    assert not expected.may_work_on("ship")


def test_a_key_without_job_types_works_on_every_type(accounts: Accounts) -> None:
    key_id, secret = accounts.create_api_key("any worker", ["worker"])

    principal = accounts.authenticate_basic(key_id, secret)

    assert principal is not None
    assert principal.job_types is None
    assert principal.may_work_on("anything")


def test_a_wrong_or_unknown_key_is_refused(accounts: Accounts) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"])

    assert accounts.authenticate_basic(key_id, secret[:-1] + "x") is None
    assert accounts.authenticate_basic(key_id, "") is None
    assert accounts.authenticate_basic("lk_0000000000000000", secret) is None
    assert accounts.authenticate_bearer(key_id) is None
    assert accounts.authenticate_bearer(f"{key_id}:") is None
    assert accounts.authenticate_bearer(secret) is None


def test_a_revoked_key_is_refused_here_at_once(accounts: Accounts) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"])
    assert accounts.authenticate_basic(key_id, secret) is not None

    accounts.revoke_api_key(key_id)
    accounts.revoke_api_key(key_id)  # again: nothing changes

    assert accounts.authenticate_basic(key_id, secret) is None
    assert accounts.authenticate_bearer(f"{key_id}:{secret}") is None
    [listed] = accounts.api_keys()
    assert listed.revoked_at is not None


def test_a_key_revoked_on_another_node_is_refused_within_the_cache_time(
    make_accounts: AccountsFactory, clock: VirtualClock
) -> None:
    here, there = make_accounts(), make_accounts()
    key_id, secret = here.create_api_key("billing worker", ["worker"])
    assert here.authenticate_basic(key_id, secret) is not None

    there.revoke_api_key(key_id)
    clock.advance(PAST_THE_CACHE)

    assert here.authenticate_basic(key_id, secret) is None


def test_revoking_an_unknown_key_is_an_error(accounts: Accounts) -> None:
    with pytest.raises(AccountNotFoundError, match="lk_nope"):
        accounts.revoke_api_key("lk_nope")


def test_keys_are_listed_without_their_secrets(accounts: Accounts, clock: VirtualClock) -> None:
    first, _ = accounts.create_api_key("billing worker", ["worker"], ["charge"])
    clock.advance(timedelta(seconds=1))
    second, _ = accounts.create_api_key("ops robot", ["operator"])

    listed = accounts.api_keys()

    assert [(k.key_id, k.name, k.roles, k.job_types) for k in listed] == [
        (first, "billing worker", ("worker",), ("charge",)),
        (second, "ops robot", ("operator",), None),
    ]
    assert not hasattr(listed[0], "secret_hash")


def test_the_last_use_is_recorded_coarsely(accounts: Accounts, clock: VirtualClock) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"])
    [before] = accounts.api_keys()
    assert before.last_used_at is None

    accounts.authenticate_basic(key_id, secret)
    first_use = clock()
    clock.advance(timedelta(minutes=2))
    accounts.forget_cached()
    accounts.authenticate_basic(key_id, secret)  # within the resolution: not written again

    [after] = accounts.api_keys()
    assert after.last_used_at == first_use


def test_a_key_needs_a_name_known_roles_and_job_types_if_any(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="name is empty"):
        accounts.create_api_key("", ["worker"])
    with pytest.raises(AccountError, match=r"unknown role 'robot'; the roles are admin, "):
        accounts.create_api_key("w", ["robot"])
    with pytest.raises(AccountError, match="at least one job type"):
        accounts.create_api_key("w", ["worker"], [])
    assert accounts.api_keys() == []
