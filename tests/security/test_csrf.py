"""Every state-changing route of the web app refuses a request without the session's CSRF
token, or with another session's token, before it does anything; the sign-in form, which
has no session yet, refuses a post without the token it was shown with."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from security_support import Site

from legato.api.app import is_api_path
from legato.store.records import AuditQuery
from legato.web.session import CSRF_HEADER, SESSION_COOKIE, SIGN_IN_COOKIE, csrf_token_for
from sign_in_support import post_sign_in, sign_in_token

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
    answer = post_sign_in(site.client, "admin", "admin")
    cookie = _set_cookie(answer.headers.get_list("set-cookie"), SESSION_COOKIE)
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def _set_cookie(headers: list[str], name: str) -> str:
    return next(h for h in headers if h.startswith(f"{name}=")).lower()


def test_the_sign_in_form_carries_a_token_in_a_strict_short_lived_cookie(site: Site) -> None:
    page = site.client.get("/login")
    cookie = _set_cookie(page.headers.get_list("set-cookie"), SIGN_IN_COOKIE)
    token = page.cookies[SIGN_IN_COOKIE]
    assert len(token) >= 32
    assert f'name="csrf" value="{token}"' in page.text
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=3600" in cookie
    assert site.client.get("/login").cookies[SIGN_IN_COOKIE] == token  # other tabs still work
    with TestClient(site.app, base_url="https://testserver") as tls:
        assert "secure" in _set_cookie(
            tls.get("/login").headers.get_list("set-cookie"), SIGN_IN_COOKIE
        )


def _another_browser(site: Site) -> str:
    with TestClient(site.app) as other:
        return sign_in_token(other)


@pytest.mark.parametrize("sent", [None, "", "another-browser"])
def test_the_sign_in_form_refuses_a_post_without_its_own_token(
    site: Site, sent: str | None
) -> None:
    token = sign_in_token(site.client)
    data = {"username": "operator", "password": "operator", "next": "/cockpit"}
    if sent is not None:
        data["csrf"] = _another_browser(site) if sent == "another-browser" else sent
        assert data["csrf"] != token
    answer = site.client.post("/login", data=data)
    assert answer.status_code == 403
    assert "stale or sent from another site" in answer.text
    assert 'name="next" value="/cockpit"' in answer.text
    assert SESSION_COOKIE not in answer.cookies and SESSION_COOKIE not in site.client.cookies
    failures = AuditQuery(action="auth.sign_in_failed")
    assert site.app.state.audit.records(failures) == []  # a refused form is no wrong password
    assert post_sign_in(site.client, "operator", "wrong").status_code == 200
    assert len(site.app.state.audit.records(failures)) == 1
    again = post_sign_in(site.client, "operator", "operator", "/cockpit")
    assert again.status_code == 303 and again.headers["location"] == "/cockpit"


def test_the_sign_in_form_refuses_a_post_without_the_cookie(site: Site) -> None:
    token = sign_in_token(site.client)
    site.client.cookies.clear()
    answer = site.client.post(
        "/login", data={"username": "operator", "password": "operator", "csrf": token}
    )
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies


def test_the_right_sign_in_token_signs_in_and_is_spent(site: Site) -> None:
    answer = post_sign_in(site.client, "operator", "operator", "/cockpit")
    assert answer.status_code == 303 and answer.headers["location"] == "/cockpit"
    assert SESSION_COOKIE in answer.cookies
    assert SIGN_IN_COOKIE not in site.client.cookies
