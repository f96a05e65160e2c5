"""Every state-changing route of the web app refuses a request without the session's CSRF
token, or with another session's token, before it does anything."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from security_support import Site

from legato.api.app import is_api_path
from legato.web.session import CSRF_HEADER, SESSION_COOKIE, csrf_token_for

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
NO_SESSION = frozenset({("POST", "/login"), ("POST", "/oauth/token")})
"""Routes that take no session: signing in makes one, and the token endpoint is the API's."""


def _web_routes(site: Site) -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(site.app.routes):
        path = context.path or ""
        if not isinstance(context.original_route, APIRoute) or is_api_path(path):
            continue
        for method in sorted(context.methods or ()):
            if method in STATE_CHANGING and (method, path) not in NO_SESSION:
                found.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


def _cookie(name: str) -> str:
    return f"{SESSION_COOKIE}={name}:{name}"


@pytest.mark.parametrize(
    "token",
    [None, "", csrf_token_for("operator:operator"), "0" * 64],
    ids=["missing", "empty", "another-session", "made-up"],
)
def test_every_state_changing_page_route_refuses_a_wrong_csrf_token(
    site: Site, token: str | None
) -> None:
    routes = _web_routes(site)
    assert len(routes) > 20
    accepted = []
    for method, url in routes:
        headers = {"Cookie": _cookie("admin")}
        as_form: dict[str, str] = {}
        if token is not None:
            as_form = {"csrf": token}
        header = site.client.request(
            method, url, headers={**headers, **({CSRF_HEADER: token} if token else {})}
        )
        form = site.client.request(method, url, headers=headers, data=as_form)
        for answer in (header, form):
            if answer.status_code != 403 or "stale" not in answer.text:
                accepted.append(f"{method} {url}: {answer.status_code}")
    assert accepted == []


def test_the_right_token_in_the_form_or_the_header_is_accepted(site: Site) -> None:
    token = csrf_token_for("admin:admin")
    for sent in ({"data": {"csrf": token}}, {"headers": {CSRF_HEADER: token}}):
        headers = {"Cookie": _cookie("admin"), **sent.get("headers", {})}
        answer = site.client.post("/logout", headers=headers, data=sent.get("data"))
        assert answer.status_code == 303, answer.text


def test_the_session_cookie_is_http_only_and_same_site(site: Site) -> None:
    answer = site.client.post("/login", data={"username": "admin", "password": "admin"})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
