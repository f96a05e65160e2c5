"""The audit trail over HTTP: who did what is recorded by the API (allowed and denied),
failed sign-ins too, and the auditor reads and verifies it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import assert_problem, deploy, start
from api_models import ORDER
from api_support import Api
from fastapi.testclient import TestClient

from accounts_support import CountingHasher
from legato import Engine
from legato.api.app import create_app
from legato.api.audit import rule_for
from legato.api.c7 import ids
from legato.api.c7.ids import Kind
from legato.security.accounts import Accounts
from legato.web import PAGE_ROUTERS, session


def _records(api: Api, who: str = "audit", **filters: Any) -> list[dict[str, Any]]:
    answer = api.client.get("/legato/v1/audit", params=filters, **api.as_(who))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_an_operator_cancelling_an_instance_is_recorded_with_actor_address_and_outcome(
    api: Api,
) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    path = f"/v2/process-instances/{key}/cancellation"
    headers = {"User-Agent": "ops-console/2"}
    assert api.client.post(path, headers=headers, **api.as_("op")).status_code == 204

    [record] = _records(api, action="instance.cancel")
    assert record["actor"] == "op"
    assert record["actorKind"] == "user"
    assert record["sourceAddress"] == "testclient"
    assert record["userAgent"] == "ops-console/2"
    assert (record["resourceType"], record["resourceId"]) == ("instance", key)
    assert record["outcome"] == "allowed"
    assert record["details"] == {"status": 204}


def test_a_user_trying_to_cancel_is_recorded_as_denied(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    refused = api.client.post(f"/v2/process-instances/{key}/cancellation", **api.as_("ann"))
    assert_problem(refused, 403)

    [record] = _records(api, actor="ann")
    assert (record["action"], record["outcome"]) == ("instance.cancel", "denied")
    assert record["details"]["status"] == 403


def test_a_failed_sign_in_is_recorded_with_the_name_claimed_never_the_secret(api: Api) -> None:
    answer = api.client.get("/v2/topology", auth=("op", "wrong-password"))
    assert answer.status_code == 401

    [record] = _records(api, action="auth.sign_in_failed")
    assert (record["actor"], record["actorKind"], record["outcome"]) == (
        "op",
        "anonymous",
        "denied",
    )
    assert "wrong-password" not in str(record)


def test_reads_and_searches_are_not_recorded(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    api.client.post("/v2/process-instances/search", json={}, **api.as_("admin"))
    api.client.get("/v2/topology", **api.as_("admin"))
    assert [r["action"] for r in _records(api)] == ["definition.deploy"]


def test_a_variable_change_records_the_names_and_the_old_and_new_values(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    body = {"variables": {"amount": 5, "note": "rush"}}
    path = f"/legato/v1/process-instances/{key}/variables"
    assert api.client.put(path, json=body, **api.as_("op")).status_code == 204

    [record] = _records(api, action="variables.change")
    assert record["details"]["names"] == ["amount", "note"]
    assert record["details"]["changes"] == {
        "amount": {"old": 3, "new": 5},
        "note": {"old": None, "new": "rush"},
    }


def test_variable_changes_over_v2_and_camunda_7_are_recorded_the_same_way(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    v2 = api.client.put(
        f"/v2/element-instances/{key}/variables", json={"variables": {"amount": 4}}, **api.as_("op")
    )
    assert v2.status_code == 204, v2.text
    c7_path = (
        f"/engine-rest/process-instance/{ids.to_uuid(Kind.INSTANCE, int(key))}/variables/amount"
    )
    c7 = api.client.put(c7_path, json={"value": 5, "type": "Integer"}, **api.as_("op"))
    assert c7.status_code == 204, c7.text

    changes = [r["details"]["changes"] for r in _records(api, action="variables.change")]
    assert changes == [{"amount": {"old": 4, "new": 5}}, {"amount": {"old": 3, "new": 4}}]


@pytest.fixture
def accounts_client(tmp_path: Path) -> Iterator[TestClient]:
    engine = Engine(f"sqlite:///{tmp_path / 'accounts.db'}")
    accounts = Accounts(engine.store, password_hasher=CountingHasher())
    accounts.ensure_admin("admin-pw")
    with TestClient(create_app(engine, accounts)) as client:
        yield client
    engine.close()


def test_user_and_key_changes_and_token_requests_are_recorded(
    accounts_client: TestClient,
) -> None:
    client, admin = accounts_client, ("admin", "admin-pw")
    user = {"name": "carol", "password": "a-long-password", "roles": ["user"]}
    assert client.post("/legato/v1/users", json=user, auth=admin).status_code == 201
    change = {"password": "another-password", "roles": ["auditor"]}
    assert client.patch("/legato/v1/users/carol", json=change, auth=admin).status_code == 200
    made = client.post(
        "/legato/v1/api-keys", json={"name": "ci", "roles": ["developer"]}, auth=admin
    )
    key_id, secret = made.json()["keyId"], made.json()["secret"]
    token = {"client_id": key_id, "client_secret": secret}
    assert client.post("/oauth/token", data=token).status_code == 200
    wrong = {"client_id": key_id, "client_secret": "nope"}
    assert client.post("/oauth/token", data=wrong).status_code == 401
    assert client.delete(f"/legato/v1/api-keys/{key_id}", auth=admin).status_code == 204

    listed = client.get("/legato/v1/audit", auth=("carol", "another-password")).json()["items"]
    seen = [(r["action"], r["actor"], r["resourceId"], r["outcome"]) for r in reversed(listed)]
    assert seen == [
        ("user.create", "admin", "carol", "allowed"),
        ("user.change", "admin", "carol", "allowed"),
        ("api_key.create", "admin", key_id, "allowed"),
        ("auth.sign_in", f"key:{key_id}", None, "allowed"),
        ("auth.sign_in_failed", f"key:{key_id}", None, "denied"),
        ("api_key.revoke", "admin", key_id, "allowed"),
    ]
    assert listed[-2]["details"]["password"] == "(changed)"
    for never in ("a-long-password", "another-password", secret):
        assert never not in str(listed)


def test_the_trail_pages_newest_first_with_a_cursor(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    keys = [start(api, "order", amount=n) for n in range(3)]
    first = api.client.get("/legato/v1/audit?limit=2", **api.as_("audit")).json()
    assert [r["seq"] for r in first["items"]] == [4, 3]
    rest = api.client.get(
        f"/legato/v1/audit?limit=2&before={first['nextCursor']}", **api.as_("audit")
    ).json()
    assert [r["seq"] for r in rest["items"]] == [2, 1]
    assert [r["resourceType"] for r in _records(api, resource="process")] == ["process"] * 3
    assert keys


def test_only_auditors_and_admins_read_and_verify_the_trail(api: Api) -> None:
    assert_problem(api.client.get("/legato/v1/audit", **api.as_("op")), 403, "audit:read")
    assert api.client.get("/legato/v1/audit", **api.as_("admin")).status_code == 200
    verified = api.client.get("/legato/v1/audit/verify", **api.as_("audit")).json()
    assert verified["intact"] is True
    assert verified["message"].startswith("intact: ")


def test_verify_over_http_names_an_edited_record(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    start(api, "order", amount=1)
    with api.engine.store.engine.begin() as connection:  # type: ignore[attr-defined]
        connection.exec_driver_sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    verified = api.client.get("/legato/v1/audit/verify", **api.as_("audit")).json()
    assert (verified["intact"], verified["brokenSeq"]) == (False, 1)
    assert verified["message"] == "record #1: edited: its content does not match its hash"


def test_every_state_changing_route_has_an_action_or_is_a_search(api: Api) -> None:
    schema = api.client.get("/openapi.json", **api.as_("admin")).json()
    routes = [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    ]
    routes += [
        (method, route.path)
        for router in (session.router, *PAGE_ROUTERS)
        for route in router.routes
        for method in getattr(route, "methods", ()) or ()
        if method in ("POST", "PUT", "PATCH", "DELETE")
    ]
    unmatched = [
        f"{method} {path}"
        for method, path in routes
        if rule_for(method, re.sub(r"\{[^}]+\}", "1", path)) is None
        and not path.endswith("/search")
    ]
    assert unmatched == []
    assert len(routes) > 80
