"""Users and API keys through ``/legato/v1``, with the real accounts: admins manage them,
and what they make signs in (Basic, and OAuth tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from api_helpers import assert_problem
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app
from legato.security.accounts import Accounts


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    engine = Engine(f"sqlite:///{tmp_path / 'accounts.db'}")
    accounts = Accounts(engine.store)
    assert accounts.ensure_admin("admin-pw") == "admin-pw"
    with TestClient(create_app(engine, accounts)) as client:
        yield client
    engine.close()


ADMIN = ("admin", "admin-pw")


def test_admins_manage_users_who_then_sign_in(client: TestClient) -> None:
    made = client.post(
        "/legato/v1/users",
        json={"name": "ann", "password": "pw-ann", "roles": ["user"], "groups": ["sales"]},
        auth=ADMIN,
    )
    assert made.status_code == 201, made.text
    assert made.json()["groups"] == ["sales"]
    me = client.get("/v2/authentication/me", auth=("ann", "pw-ann")).json()
    assert me["username"] == "ann"
    assert me["groups"] == ["sales"]
    assert_problem(client.get("/legato/v1/users", auth=("ann", "pw-ann")), 403)
    taken = client.post(
        "/legato/v1/users", json={"name": "ann", "password": "x", "roles": ["user"]}, auth=ADMIN
    )
    assert_problem(taken, 409)
    bad_role = client.post(
        "/legato/v1/users", json={"name": "eve", "password": "x", "roles": ["god"]}, auth=ADMIN
    )
    assert_problem(bad_role, 400, "god")

    changed = client.patch(
        "/legato/v1/users/ann", json={"roles": ["operator"], "password": "new-pw"}, auth=ADMIN
    )
    assert changed.json()["roles"] == ["operator"]
    assert client.get("/v2/topology", auth=("ann", "pw-ann")).status_code == 401
    assert client.get("/v2/topology", auth=("ann", "new-pw")).status_code == 200
    client.patch("/legato/v1/users/ann", json={"disabled": True}, auth=ADMIN)
    assert client.get("/v2/topology", auth=("ann", "new-pw")).status_code == 401
    last_admin = client.patch("/legato/v1/users/admin", json={"disabled": True}, auth=ADMIN)
    assert_problem(last_admin, 400)
    assert client.delete("/legato/v1/users/ann", auth=ADMIN).status_code == 204
    assert_problem(client.get("/legato/v1/users/ann", auth=ADMIN), 404)
    assert [u["name"] for u in client.get("/legato/v1/users", auth=ADMIN).json()] == ["admin"]


def test_api_keys_sign_in_get_tokens_and_are_revoked(client: TestClient) -> None:
    made = client.post(
        "/legato/v1/api-keys",
        json={"name": "charger", "roles": ["worker"], "jobTypes": ["charge"]},
        auth=ADMIN,
    )
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["jobTypes"] == ["charge"]
    credentials = (key["keyId"], key["secret"])
    me = client.get("/v2/authentication/me", auth=credentials).json()
    assert me["jobTypes"] == ["charge"]

    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": key["keyId"],
            "client_secret": key["secret"],
        },
    ).json()
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["sub"] == key["keyId"]
    assert claims["exp"] > claims["iat"]
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/v2/topology", headers=bearer).status_code == 200

    listed = client.get("/legato/v1/api-keys", auth=ADMIN).json()
    assert [k["keyId"] for k in listed] == [key["keyId"]]
    assert "secret" not in listed[0]
    assert client.delete(f"/legato/v1/api-keys/{key['keyId']}", auth=ADMIN).status_code == 204
    assert client.get("/v2/topology", auth=credentials).status_code == 401
    assert client.get("/v2/topology", headers=bearer).status_code == 401
    assert_problem(client.delete("/legato/v1/api-keys/lk_nothing", auth=ADMIN), 404)


def test_users_and_keys_are_limited_to_processes_through_the_api(client: TestClient) -> None:
    user = client.post(
        "/legato/v1/users",
        json={"name": "ann", "password": "pw-ann", "roles": ["operator"], "processes": ["b-*"]},
        auth=ADMIN,
    )
    key = client.post(
        "/legato/v1/api-keys",
        json={"name": "w", "roles": ["worker"], "processes": ["b"]},
        auth=ADMIN,
    ).json()
    changed = client.patch(
        f"/legato/v1/api-keys/{key['keyId']}", json={"processes": ["b", "c-*"]}, auth=ADMIN
    )
    bad = client.patch("/legato/v1/users/ann", json={"processes": ["b*c"]}, auth=ADMIN)
    lifted = client.patch("/legato/v1/users/ann", json={"processes": ["*"]}, auth=ADMIN)

    assert user.status_code == 201, user.text
    assert user.json()["processes"] == ["b-*"]
    assert key["processes"] == ["b"]
    assert changed.status_code == 200, changed.text
    assert changed.json()["processes"] == ["b", "c-*"]
    assert_problem(bad, 400, "process pattern")
    assert lifted.json()["processes"] is None
    assert_problem(
        client.patch("/legato/v1/api-keys/lk_none", json={"processes": ["b"]}, auth=ADMIN), 404
    )
