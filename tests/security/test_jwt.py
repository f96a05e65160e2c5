"""Bearer tokens that must not get in, through every API and the web app's session cookie:
unsigned (``alg: none``), signed with a wrong key, an RSA public key used as an HMAC secret
(algorithm confusion), expired, not yet valid, without ``exp``, of another issuer or
audience. The server's real authenticator (:class:`Accounts`) with a virtual clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app
from legato.security.accounts import CLOCK_SKEW, SIGNING_SECRET, Accounts
from legato.web import mount
from legato.web.session import SESSION_COOKIE

sys.path.append(str(Path(__file__).resolve().parents[1]))
from accounts_support import CountingHasher, VirtualClock

ISSUER = "https://idp.example/realms/acme"
AUDIENCE = "legato"
PROVIDER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PROBES = ("/v2/topology", "/legato/v1/processes", "/engine-rest/process-definition")


class KeySet:
    """The identity provider's published key (stands in for ``jwt.PyJWKClient``)."""

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(PROVIDER_KEY.public_key(), as_dict=True)
        return jwt.PyJWK({**public, "kid": "rsa-1", "alg": "RS256"})


class Server:
    def __init__(self, client: TestClient, accounts: Accounts, clock: VirtualClock) -> None:
        self.client, self.accounts, self.clock = client, accounts, clock

    def own_secret(self) -> str:
        with self.accounts._store.transaction() as tx:
            return tx.ensure_server_secret(SIGNING_SECRET, "unused", self.clock())

    def now(self) -> int:
        return int(self.clock().timestamp())

    def own_claims(self, **changes: Any) -> dict[str, Any]:
        claims = {
            "sub": "admin",
            "kind": "user",
            "iss": "legato",
            "iat": self.now(),
            "exp": self.now() + 600,
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def provider_claims(self, **changes: Any) -> dict[str, Any]:
        claims = {
            "sub": "idp-admin",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": self.now(),
            "exp": self.now() + 600,
            "roles": ["admin"],
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def refused_everywhere(self, token: str) -> list[str]:
        """Where ``token`` got in (empty: it was refused by every API and the web app)."""
        admitted = []
        for path in PROBES:
            answer = self.client.get(path, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 401:
                admitted.append(f"{path}: {answer.status_code}")
        page = self.client.get("/cockpit", headers={"Cookie": f"{SESSION_COOKIE}={token}"})
        if page.status_code != 303 or not page.headers["location"].startswith("/login"):
            admitted.append(f"/cockpit: {page.status_code}")
        return admitted


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    clock = VirtualClock()
    engine = Engine(f"sqlite:///{tmp_path / 'jwt.db'}")
    accounts = Accounts(
        engine.store,
        now=clock,
        password_hasher=CountingHasher(),
        jwks_client=KeySet(),
        jwks_audience=AUDIENCE,
        jwks_issuer=ISSUER,
    )
    accounts.create_user("admin", "a long admin password", ["admin"])
    app = create_app(engine, accounts)
    mount(app)
    with TestClient(app, follow_redirects=False) as client:
        yield Server(client, accounts, clock)
    engine.close()


def _unsigned(claims: dict[str, Any], alg: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


def test_the_genuine_tokens_get_in(server: Server) -> None:
    issued = server.accounts.issue_token("admin", "a long admin password")
    assert issued is not None
    own = jwt.encode(server.own_claims(), server.own_secret(), algorithm="HS256")
    provider = jwt.encode(
        server.provider_claims(), PROVIDER_KEY, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    for token in (issued[0], own, provider):
        for path in PROBES:
            answer = server.client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, (path, answer.text)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_an_unsigned_token_is_refused(server: Server, alg: str) -> None:
    assert server.refused_everywhere(_unsigned(server.own_claims(), alg)) == []
    assert server.refused_everywhere(_unsigned(server.provider_claims(), alg)) == []


def test_a_token_signed_with_a_wrong_key_is_refused(server: Server) -> None:
    guessed = jwt.encode(server.own_claims(), "a guessed secret of 32 bytes or more", "HS256")
    stranger = jwt.encode(
        server.provider_claims(), OTHER_KEY, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    assert server.refused_everywhere(guessed) == []
    assert server.refused_everywhere(stranger) == []


def test_the_providers_public_key_as_an_hmac_secret_is_refused(server: Server) -> None:
    public_pem = PROVIDER_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}').rstrip(b"=")
    for claims in (server.provider_claims(), server.own_claims()):
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
        signing_input = header + b"." + body
        signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
        token = (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()
        assert server.refused_everywhere(token) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": -1},  # expired (beyond the clock skew)
        {"nbf": +1},  # not valid yet
        {"iat": +1},  # issued in the future
        {"exp": None},  # no expiry at all
        {"iss": "someone-else"},
    ],
    ids=["expired", "not-before", "issued-later", "no-exp", "wrong-issuer"],
)
def test_a_token_out_of_its_time_or_of_another_issuer_is_refused(
    server: Server, changes: dict[str, Any]
) -> None:
    late = server.now() + int((CLOCK_SKEW + timedelta(minutes=5)).total_seconds())
    early = server.now() - int((CLOCK_SKEW + timedelta(minutes=5)).total_seconds())
    resolved = {
        name: (late if value == +1 else early if value == -1 else value)
        for name, value in changes.items()
    }
    own = jwt.encode(server.own_claims(**resolved), server.own_secret(), algorithm="HS256")
    provider = jwt.encode(
        server.provider_claims(**resolved),
        PROVIDER_KEY,
        algorithm="RS256",
        headers={"kid": "rsa-1"},
    )
    assert server.refused_everywhere(own) == []
    assert server.refused_everywhere(provider) == []


def test_a_provider_token_for_another_audience_is_refused(server: Server) -> None:
    for audience in ("another-app", None):
        token = jwt.encode(
            server.provider_claims(aud=audience),
            PROVIDER_KEY,
            algorithm="RS256",
            headers={"kid": "rsa-1"},
        )
        assert server.refused_everywhere(token) == []


def test_an_issued_token_stops_working_when_it_expires(server: Server) -> None:
    issued = server.accounts.issue_token("admin", "a long admin password")
    assert issued is not None
    token, lifetime = issued
    server.clock.advance(timedelta(seconds=lifetime) + CLOCK_SKEW + timedelta(seconds=1))
    server.accounts.forget_cached()
    assert server.refused_everywhere(token) == []
