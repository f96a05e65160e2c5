"""Tokens of the OAuth2 client-credentials grant: HS256 JWTs signed with a secret every node
of a database shares, good until they expire or their key or user is gone."""

from __future__ import annotations

from datetime import timedelta

import jwt

from accounts_support import AccountsFactory, VirtualClock
from legato.security import Principal
from legato.security.accounts import (
    CLOCK_SKEW,
    DEFAULT_CACHE_TTL,
    SIGNING_SECRET,
    Accounts,
)
from legato.store.ports import Store

PAST_THE_CACHE = DEFAULT_CACHE_TTL + timedelta(seconds=1)


def claims_of(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_a_key_gets_a_token_with_the_claims_clients_read(
    accounts: Accounts, clock: VirtualClock
) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"], ["charge"])

    issued = accounts.issue_token(key_id, secret)

    assert issued is not None
    token, expires_in = issued
    assert expires_in == 3600
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = claims_of(token)
    now = int(clock().timestamp())
    assert {k: claims[k] for k in ("sub", "iat", "exp", "iss", "kind")} == {
        "sub": key_id,
        "iat": now,
        "exp": now + 3600,
        "iss": "legato",
        "kind": "key",
    }
    assert (claims["roles"], claims["groups"], claims["job_types"]) == (["worker"], [], ["charge"])


def test_a_token_authenticates_its_key_or_user(accounts: Accounts) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"], ["charge"])
    accounts.create_user("grace", "s3cret!", ["user"], groups=["billing"])
    key_token = accounts.issue_token(key_id, secret)
    user_token = accounts.issue_token("grace", "s3cret!")
    assert key_token is not None and user_token is not None

    assert accounts.authenticate_bearer(key_token[0]) == Principal(
        key_id, frozenset({"worker"}), job_types=frozenset({"charge"}), kind="token"
    )
    assert accounts.authenticate_bearer(user_token[0]) == Principal(
        "grace", frozenset({"user"}), frozenset({"billing"}), kind="token"
    )


def test_wrong_credentials_get_no_token(accounts: Accounts) -> None:
    key_id, _ = accounts.create_api_key("billing worker", ["worker"])
    accounts.create_user("grace", "s3cret!", ["user"])

    assert accounts.issue_token(key_id, "wrong") is None
    assert accounts.issue_token("grace", "wrong") is None
    assert accounts.issue_token("nobody", "s3cret!") is None


def test_a_token_expires(make_accounts: AccountsFactory, clock: VirtualClock) -> None:
    accounts = make_accounts(token_lifetime=timedelta(minutes=5))
    key_id, secret = accounts.create_api_key("billing worker", ["worker"])
    issued = accounts.issue_token(key_id, secret)
    assert issued is not None and issued[1] == 300

    clock.advance(timedelta(minutes=5) + CLOCK_SKEW - timedelta(seconds=1))
    assert accounts.authenticate_bearer(issued[0]) is not None
    clock.advance(timedelta(seconds=1))
    assert accounts.authenticate_bearer(issued[0]) is None


def test_a_token_from_the_future_is_refused(
    make_accounts: AccountsFactory, clock: VirtualClock
) -> None:
    accounts = make_accounts()
    key_id, secret = accounts.create_api_key("billing worker", ["worker"])
    issued = accounts.issue_token(key_id, secret)
    assert issued is not None

    clock.advance(-(CLOCK_SKEW + timedelta(seconds=1)))

    assert accounts.authenticate_bearer(issued[0]) is None


def test_the_token_of_a_revoked_key_is_refused(
    make_accounts: AccountsFactory, clock: VirtualClock
) -> None:
    here, there = make_accounts(), make_accounts()
    key_id, secret = here.create_api_key("billing worker", ["worker"])
    issued = here.issue_token(key_id, secret)
    assert issued is not None
    assert here.authenticate_bearer(issued[0]) is not None

    there.revoke_api_key(key_id)
    assert there.authenticate_bearer(issued[0]) is None
    clock.advance(PAST_THE_CACHE)
    assert here.authenticate_bearer(issued[0]) is None


def test_the_token_of_a_disabled_or_removed_user_is_refused(accounts: Accounts) -> None:
    accounts.create_user("admin", "root-pass", ["admin"])
    accounts.create_user("grace", "s3cret!", ["user"])
    issued = accounts.issue_token("grace", "s3cret!")
    assert issued is not None

    accounts.disable_user("grace")
    assert accounts.authenticate_bearer(issued[0]) is None
    accounts.enable_user("grace")
    assert accounts.authenticate_bearer(issued[0]) is not None
    accounts.delete_user("grace")
    assert accounts.authenticate_bearer(issued[0]) is None


def test_every_node_of_a_database_accepts_the_tokens_of_the_others(
    make_accounts: AccountsFactory, store: Store
) -> None:
    issuer, other = make_accounts(), make_accounts()
    key_id, secret = issuer.create_api_key("billing worker", ["worker"])
    issued = issuer.issue_token(key_id, secret)
    assert issued is not None

    assert other.authenticate_bearer(issued[0]) is not None
    with store.transaction() as tx:
        shared = tx.ensure_server_secret(SIGNING_SECRET, "unused", issuer._now())
    assert jwt.decode(issued[0], shared, algorithms=["HS256"], options={"verify_exp": False})


def test_forged_tampered_or_foreign_tokens_are_refused(
    accounts: Accounts, make_accounts: AccountsFactory, clock: VirtualClock
) -> None:
    key_id, secret = accounts.create_api_key("billing worker", ["worker"])
    issued = accounts.issue_token(key_id, secret)
    assert issued is not None
    claims = claims_of(issued[0])

    forged = jwt.encode(claims, "a guessed secret of enough length, 32+", algorithm="HS256")
    header, _payload, signature = issued[0].split(".")
    admin_claims = {**claims, "sub": "admin", "kind": "user"}
    tampered_payload = jwt.encode(admin_claims, "x" * 32, algorithm="HS256").split(".")[1]
    tampered = f"{header}.{tampered_payload}.{signature}"
    unsigned = jwt.encode(claims, None, algorithm="none")
    other_issuer = make_accounts(issuer="someone-else")

    assert accounts.authenticate_bearer(forged) is None
    assert accounts.authenticate_bearer(tampered) is None
    assert accounts.authenticate_bearer(unsigned) is None
    assert accounts.authenticate_bearer("not.a.token") is None
    assert accounts.authenticate_bearer("") is None
    assert other_issuer.authenticate_bearer(issued[0]) is None


def test_external_tokens_are_refused_when_no_provider_is_configured(accounts: Accounts) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "x", "exp": 2**40, "roles": ["admin"]}, key, algorithm="RS256")

    assert accounts.authenticate_bearer(token) is None


def test_a_token_may_have_its_own_lifetime(accounts: Accounts, clock: VirtualClock) -> None:
    accounts.create_user("grace", "s3cret!", ["user"])

    issued = accounts.issue_token("grace", "s3cret!", lifetime=timedelta(hours=8))

    assert issued is not None
    token, expires_in = issued
    assert expires_in == 8 * 3600
    assert claims_of(token)["exp"] == int(clock().timestamp()) + 8 * 3600
