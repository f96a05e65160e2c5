"""Tokens of an external OpenID Connect provider, checked against its JSON Web Key Set
(served here by a small HTTP server on a thread), their roles and groups from claims."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from accounts_support import AccountsFactory, VirtualClock
from legato.security import Principal
from legato.security.accounts import CLOCK_SKEW, Accounts

ISSUER = "https://idp.example/realms/acme"
AUDIENCE = "legato"


@dataclass
class Provider:
    """An identity provider: its signing keys and where its key set is published."""

    jwks_url: str
    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey

    def token(self, clock: VirtualClock, algorithm: str = "RS256", **claims: Any) -> str:
        now = int(clock().timestamp())
        payload = {"sub": "u-123", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300}
        payload.update(claims)
        key: Any = self.rsa_key if algorithm == "RS256" else self.ec_key
        kid = "rsa-1" if algorithm == "RS256" else "ec-1"
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def _jwk(public: dict[str, Any], kid: str, algorithm: str) -> dict[str, Any]:
    return {**public, "kid": kid, "use": "sig", "alg": algorithm}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    key_set = json.dumps(
        {
            "keys": [
                _jwk(RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "rsa-1", "RS256"),
                _jwk(ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "ec-1", "ES256"),
            ]
        }
    ).encode()

    class KeySet(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(key_set)))
            self.end_headers()
            self.wfile.write(key_set)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), KeySet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield Provider(f"http://127.0.0.1:{port}/certs", rsa_key, ec_key)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def oidc(make_accounts: AccountsFactory, provider: Provider) -> Accounts:
    return make_accounts(
        jwks_url=provider.jwks_url,
        jwks_audience=AUDIENCE,
        jwks_issuer=ISSUER,
        roles_claim="realm_access.roles",
    )


def test_a_provider_token_maps_its_role_and_group_claims(
    oidc: Accounts, provider: Provider, clock: VirtualClock
) -> None:
    token = provider.token(
        clock,
        realm_access={"roles": ["operator", "offline_access", "uma_authorization"]},
        groups=["billing", "support"],
    )

    assert oidc.authenticate_bearer(token) == Principal(
        "u-123", frozenset({"operator"}), frozenset({"billing", "support"}), kind="token"
    )


def test_es256_tokens_and_string_claims_are_read_too(
    make_accounts: AccountsFactory, provider: Provider, clock: VirtualClock
) -> None:
    accounts = make_accounts(jwks_url=provider.jwks_url)
    token = provider.token(clock, "ES256", roles="worker user", job_types=["charge"])

    principal = accounts.authenticate_bearer(token)

    assert principal is not None
    assert principal.roles == {"worker", "user"}
    assert principal.job_types == {"charge"}
    assert principal.may_work_on("charge") and not principal.may_work_on("ship")


def test_a_token_without_a_known_role_may_do_nothing(
    oidc: Accounts, provider: Provider, clock: VirtualClock
) -> None:
    token = provider.token(clock, realm_access={"roles": ["superuser"]}, roles=["admin"])

    principal = oidc.authenticate_bearer(token)

    assert principal is not None
    assert principal.roles == frozenset()
    assert principal.permissions == frozenset()


def test_a_provider_token_of_another_audience_or_issuer_is_refused(
    oidc: Accounts, provider: Provider, clock: VirtualClock
) -> None:
    assert oidc.authenticate_bearer(provider.token(clock, aud="another-api")) is None
    assert oidc.authenticate_bearer(provider.token(clock, iss="https://evil.example")) is None


def test_an_expired_provider_token_is_refused(
    oidc: Accounts, provider: Provider, clock: VirtualClock
) -> None:
    token = provider.token(clock, realm_access={"roles": ["operator"]})
    assert oidc.authenticate_bearer(token) is not None

    clock.advance(timedelta(seconds=300) + CLOCK_SKEW)

    assert oidc.authenticate_bearer(token) is None


def test_a_token_signed_with_another_key_is_refused(
    oidc: Accounts, provider: Provider, clock: VirtualClock
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(clock().timestamp())
    claims = {"sub": "u-1", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 300}
    same_kid = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    unknown_kid = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "other"})

    assert oidc.authenticate_bearer(same_kid) is None
    assert oidc.authenticate_bearer(unknown_kid) is None


def test_an_unreachable_provider_refuses_its_tokens(
    make_accounts: AccountsFactory, provider: Provider, clock: VirtualClock
) -> None:
    with HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]  # bound, then closed: nothing listens there
    accounts = make_accounts(jwks_url=f"http://127.0.0.1:{port}/certs")

    assert accounts.authenticate_bearer(provider.token(clock)) is None


def test_own_tokens_still_work_beside_a_provider(oidc: Accounts) -> None:
    key_id, secret = oidc.create_api_key("billing worker", ["worker"])
    issued = oidc.issue_token(key_id, secret)
    assert issued is not None

    assert oidc.authenticate_bearer(issued[0]) is not None


def test_the_principal_may_be_named_by_another_claim(
    make_accounts: AccountsFactory, provider: Provider, clock: VirtualClock
) -> None:
    accounts = make_accounts(jwks_url=provider.jwks_url, name_claim="preferred_username")

    named = accounts.authenticate_bearer(provider.token(clock, preferred_username="grace"))
    unnamed = accounts.authenticate_bearer(provider.token(clock))

    assert named is not None and named.name == "grace"
    assert unnamed is None
