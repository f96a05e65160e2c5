"""The auditor reads everything and changes nothing: every state-changing route of the
application (the API and the web app, found by walking the application's routes, not
listed here) answers it 403, and the database is the same afterwards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_models import ORDER
from api_support import PRINCIPALS, Api
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app
from legato.api.audit import rule_for
from legato.security import StaticAuthenticator
from legato.web import PAGE_ROUTERS, mount, session
from legato.web.session import CSRF_HEADER, SESSION_COOKIE, csrf_token_for

_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
_NOT_CHANGES = {
    "POST /login",
    "POST /logout",
    "POST /oauth/token",
    "POST /legato/v1/audit/checkpoint",
}
"""Signing in and out, asking for a token, and signing a checkpoint of the audit trail (an
auditor's own duty): every other unsafe route changes something."""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    engine = Engine(f"sqlite:///{tmp_path / 'auditor.db'}")
    users = {name: (name, principal) for name, principal in PRINCIPALS.items()}
    app = create_app(engine, StaticAuthenticator(users))
    mount(app)
    with TestClient(app) as client:
        yield Api(engine, client)
    engine.close()


def _state_changing_routes(api: Api) -> list[tuple[str, str]]:
    """Every unsafe route of the API (its OpenAPI document) and of the web app (its
    routers) that the audit rules record as an action: their rules for reads, searches and
    a worker's job traffic have no action."""
    schema = api.client.get("/openapi.json", **api.as_("admin")).json()
    found = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method.upper() in _UNSAFE
    }
    found |= {
        (method, route.path)
        for router in (session.router, *PAGE_ROUTERS)
        for route in router.routes
        for method in getattr(route, "methods", ()) or ()
        if method in _UNSAFE
    }
    changing = []
    for method, path in sorted(found):
        rule = rule_for(method, re.sub(r"\{[^}]+\}", "1", path))
        if f"{method} {path}" in _NOT_CHANGES or path.endswith("/search"):
            continue
        if rule is not None and not rule[0].action:
            continue  # a read the audit rules name as such
        changing.append((method, path))
    return changing


def test_the_auditor_is_refused_every_state_changing_route(api: Api) -> None:
    api.engine.deploy(ORDER)
    instance = api.engine.start("order", {"amount": 1}).key
    token = "audit:audit"
    headers = {CSRF_HEADER: csrf_token_for(token)}
    routes = _state_changing_routes(api)
    before = api.engine.instance(instance)

    allowed = []
    for method, path in routes:
        concrete = re.sub(r"\{[^}]+\}", str(instance), path)
        api.client.cookies.clear()
        if path.startswith(("/v2", "/legato/v1", "/engine-rest")):
            answer = api.client.request(method, concrete, json={}, **api.as_("audit"))
        else:  # a page of the web app: the auditor's session and its CSRF token
            api.client.cookies.set(SESSION_COOKIE, token)
            answer = api.client.request(method, concrete, data={}, headers=headers)
        if answer.status_code != 403:
            allowed.append(f"{method} {path}: {answer.status_code}")

    assert allowed == []
    assert len(routes) > 60
    assert any(not p.startswith(("/v2", "/legato", "/engine-rest")) for _, p in routes)
    assert api.engine.instance(instance) == before


def test_the_auditor_reads_the_audit_trail_and_the_instances(api: Api) -> None:
    api.engine.deploy(ORDER)
    api.engine.start("order", {"amount": 1})

    for path in ("/legato/v1/audit", "/legato/v1/audit/verify", "/legato/v1/instances"):
        answer = api.client.get(path, **api.as_("audit"))
        assert answer.status_code == 200, (path, answer.text)


def test_the_web_refusal_is_not_the_csrf_check(api: Api) -> None:
    """The web app's 403s above come from the auditor's role: an operator with the same
    session and token is let through on one of the same routes."""
    api.engine.deploy(ORDER)
    instance = api.engine.start("order", {"amount": 1}).key
    [(_, path)] = [
        (m, p) for m, p in _state_changing_routes(api) if p == "/cockpit/instances/{key}/suspend"
    ]
    token = "op:op"
    api.client.cookies.set(SESSION_COOKIE, token)
    answer = api.client.post(
        path.replace("{key}", str(instance)),
        data={},
        headers={CSRF_HEADER: csrf_token_for(token)},
        follow_redirects=False,
    )
    assert answer.status_code in (200, 303), answer.text
    assert api.engine.instance(instance).suspended
