"""Password guessing on every way to sign in (the web form, HTTP Basic on the APIs, the
OAuth token endpoint): failures are counted per account and per client address in the
store, too many lock the account (or address) with a message saying when to retry, every
node of the database sees the lock, it ends by itself or by ``legato users unlock``, and
each refusal is in the audit trail. A virtual clock: no test waits."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from security_support import PRINCIPALS, Site, open_site
from typer.testing import CliRunner

from legato.api.app import create_app
from legato.cli.app import app as cli_app
from legato.security import StaticAuthenticator
from legato.security.lockout import ACCOUNT_FAILURES, ADDRESS_FAILURES, LOCK_TIME, SignInGuard
from legato.store.records import AuditQuery
from sign_in_support import post_sign_in

sys.path.append(str(Path(__file__).resolve().parents[1]))
from accounts_support import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def guarded(tmp_path: Path, clock: VirtualClock) -> Iterator[Site]:
    for site in open_site(tmp_path):
        site.app.state.sign_in_guard = SignInGuard(site.engine.store, now=clock)
        yield site


def _web(site: Site, name: str, password: str) -> int:
    return post_sign_in(site.client, name, password).status_code


def _basic(site: Site, name: str, password: str, path: str = "/v2/topology") -> int:
    return site.client.get(path, auth=(name, password)).status_code


def _oauth(site: Site, name: str, password: str) -> int:
    data = {"client_id": name, "client_secret": password}
    return site.client.post("/oauth/token", data=data).status_code


WAYS = {"web": (_web, 200, 303), "basic": (_basic, 401, 200), "oauth": (_oauth, 401, 200)}
"""Each way of signing in: (attempt, status of a wrong password, of the right one)."""


@pytest.fixture(params=sorted(WAYS))
def way(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _failures(site: Site) -> list[dict[str, object]]:
    records = site.app.state.audit.records(AuditQuery(action="auth.sign_in_failed"))
    return [{"actor": r.actor, **r.details} for r in records]


def test_an_account_is_locked_after_failures_until_the_lock_ends(
    guarded: Site, clock: VirtualClock, way: str
) -> None:
    attempt, wrong, right = WAYS[way]
    for _ in range(ACCOUNT_FAILURES):
        assert attempt(guarded, "operator", "guess") == wrong
    assert attempt(guarded, "operator", "operator") == 429  # even the right password
    assert attempt(guarded, "developer", "developer") == right  # others are not locked
    clock.advance(LOCK_TIME + timedelta(seconds=1))
    assert attempt(guarded, "operator", "operator") == right
    locked = [f for f in _failures(guarded) if f.get("reason") == "locked"]
    assert len(locked) == 1


def test_the_refusal_says_when_to_retry(guarded: Site, clock: VirtualClock) -> None:
    for _ in range(ACCOUNT_FAILURES):
        _basic(guarded, "operator", "guess")
    until = (clock() + LOCK_TIME).strftime("%Y-%m-%d %H:%M:%S UTC")
    api = guarded.client.get("/v2/topology", auth=("operator", "operator"))
    assert api.headers["retry-after"] == str(int(LOCK_TIME.total_seconds()) + 1)
    assert api.json()["detail"] == (
        f"too many failed sign-ins for the account 'operator': try again after {until}"
    )
    c7 = guarded.client.get("/engine-rest/process-definition", auth=("operator", "operator"))
    assert c7.status_code == 429
    assert until in c7.json()["message"]
    page = post_sign_in(guarded.client, "operator", "operator")
    assert f"try again after {until}" in page.text
    token = guarded.client.post(
        "/oauth/token", data={"client_id": "operator", "client_secret": "operator"}
    )
    assert until in token.json()["error_description"]


def test_a_success_starts_the_count_again(guarded: Site) -> None:
    for _ in range(2):
        for _ in range(ACCOUNT_FAILURES - 1):
            assert _web(guarded, "operator", "guess") == 200
        assert _web(guarded, "operator", "operator") == 303


def test_an_address_guessing_many_accounts_is_locked(guarded: Site) -> None:
    for number in range(ADDRESS_FAILURES):
        assert _basic(guarded, f"someone-{number}", "guess") == 401
    answer = guarded.client.get("/v2/topology", auth=("admin", "admin"))
    assert answer.status_code == 429
    assert "the address testclient" in answer.json()["detail"]


def test_every_node_of_the_database_sees_the_lock(
    guarded: Site, clock: VirtualClock, tmp_path: Path
) -> None:
    for _ in range(ACCOUNT_FAILURES):
        _basic(guarded, "operator", "guess")
    users = {"operator": ("operator", PRINCIPALS["operator"])}
    other = create_app(guarded.engine, StaticAuthenticator(users))
    other.state.sign_in_guard = SignInGuard(guarded.engine.store, now=clock)
    with TestClient(other) as client:
        assert client.get("/v2/topology", auth=("operator", "operator")).status_code == 429


def test_an_admin_unlocks_an_account_or_an_address_with_the_cli(
    guarded: Site, tmp_path: Path
) -> None:
    for _ in range(ACCOUNT_FAILURES):
        _basic(guarded, "operator", "guess")
    db = f"sqlite:///{tmp_path / 'site.db'}"
    result = CliRunner().invoke(cli_app, ["users", "unlock", "operator", "--db", db])
    assert result.exit_code == 0, result.output
    assert "unlocked user operator" in result.stdout
    assert _basic(guarded, "operator", "operator") == 200
    again = CliRunner().invoke(cli_app, ["users", "unlock", "operator", "--db", db])
    assert "was not locked" in again.stdout
    refused = CliRunner().invoke(cli_app, ["users", "unlock", "--db", db])
    assert refused.exit_code != 0


def test_a_locked_basic_header_is_not_served_from_the_cache(guarded: Site) -> None:
    header = "Basic " + base64.b64encode(b"operator:operator").decode()
    assert guarded.client.get("/v2/topology", headers={"Authorization": header}).status_code == 200
    guard: SignInGuard = guarded.app.state.sign_in_guard
    for _ in range(ACCOUNT_FAILURES):
        guard.failed("operator", None)
    # A header verified in the last seconds is trusted without the store (a worker sends
    # it on every call); a new one is checked and refused.
    assert _basic(guarded, "operator", "other-guess") == 429
