"""Every route of the three APIs and the web app, called as every role: the route's declared
permission and ``ROLE_PERMISSIONS`` say who gets in (a caller without credentials gets 401, a
role lacking the permission 403, one holding it neither). A route that declares no permission
fails the test unless it is on the public list below."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from security_support import Site

from legato.api.app import is_api_path
from legato.api.deps import declared_permissions
from legato.security import ROLE_PERMISSIONS, ROLES
from sign_in_support import post_sign_in

PUBLIC = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("POST", "/oauth/token"),  # it checks the client credentials itself
        ("GET", "/login"),
        ("POST", "/login"),
    }
)
"""Routes anyone may call without credentials."""
PUBLIC_MOUNTS = frozenset({"/static"})
"""Mounted files anyone may fetch (the web app's bundle)."""
SIGNED_IN_MOUNTS = frozenset({"/openapi.json", "/docs/assets"})
"""Routes made by FastAPI or mounted that every authenticated caller may fetch."""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    demands: tuple[frozenset[str], ...]
    """Each declared check: any one of its permissions (empty: any authenticated caller)."""

    def admits(self, role: str) -> bool:
        held = ROLE_PERMISSIONS[role]
        return all(not any_of or any_of & held for any_of in self.demands)

    @property
    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", "1", self.path)


def _demands(dependant: Dependant) -> Iterator[frozenset[str]]:
    for sub in dependant.dependencies:
        declared = declared_permissions(sub.call)
        if declared is not None:
            yield declared
        yield from _demands(sub)


def endpoints(app: FastAPI) -> tuple[list[Endpoint], list[str]]:
    """Every route with its declared demands, and the routes that declare nothing."""
    found: list[Endpoint] = []
    undeclared: list[str] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if not isinstance(route, APIRoute):
            if path not in PUBLIC_MOUNTS | SIGNED_IN_MOUNTS:
                undeclared.append(f"{type(route).__name__} {path}")
            continue
        for method in sorted(context.methods or ()):
            demands = tuple(_demands(route.dependant))
            if (method, path) in PUBLIC:
                continue
            if not demands:
                undeclared.append(f"{method} {path}")
                continue
            found.append(Endpoint(method, path, demands))
    return found, undeclared


def test_every_route_declares_its_permission_or_is_public(site: Site) -> None:
    found, undeclared = endpoints(site.app)
    assert undeclared == []
    assert len(found) > 200


def _call(site: Site, endpoint: Endpoint, role: str | None) -> int:
    api = is_api_path(endpoint.path)
    keywords = {}
    if role is not None:
        keywords = site.api_auth(role) if api else site.session(role)
    elif not api:
        keywords = {"headers": {"HX-Request": "true"}}
    body = {"json": {}} if api and endpoint.method != "GET" else {}
    answer = site.client.request(endpoint.method, endpoint.url, **keywords, **body)
    return answer.status_code


def test_every_route_answers_each_role_as_the_matrix_says(site: Site) -> None:
    found, _ = endpoints(site.app)
    wrong: list[str] = []
    for endpoint in found:
        status = _call(site, endpoint, None)
        if status != 401:
            wrong.append(f"{endpoint.method} {endpoint.path} without credentials: {status}")
        for role in ROLES:
            status = _call(site, endpoint, role)
            allowed = endpoint.admits(role)
            if allowed and status in (401, 403):
                wrong.append(f"{endpoint.method} {endpoint.path} as {role}: {status}, not allowed")
            if not allowed and status != 403:
                wrong.append(f"{endpoint.method} {endpoint.path} as {role}: {status}, not 403")
    assert wrong == []


@pytest.mark.parametrize("path", sorted(SIGNED_IN_MOUNTS))
def test_the_schema_and_its_assets_need_credentials(site: Site, path: str) -> None:
    url = path if path == "/openapi.json" else f"{path}/swagger-ui.css"
    assert site.client.get(url).status_code == 401
    for role in ROLES:
        assert site.client.get(url, **site.api_auth(role)).status_code == 200


def test_public_routes_answer_without_credentials(site: Site) -> None:
    assert site.client.get("/health").status_code == 200
    assert site.client.get("/ready").status_code == 200
    assert site.client.get("/login").status_code == 200
    assert site.client.post("/oauth/token", data={}).status_code == 401
    assert post_sign_in(site.client, "x", "y").status_code == 200


def test_a_page_without_a_session_goes_to_sign_in(site: Site) -> None:
    answer = site.client.get("/cockpit")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
