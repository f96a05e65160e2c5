"""Signing in through the web app's form as a browser does: show the form (which sets its
CSRF cookie), then post it with the token it carries."""

from __future__ import annotations

import httpx

from legato.web.session import CSRF_FIELD, SIGN_IN_COOKIE


def sign_in_token(client: httpx.Client) -> str:
    """Show the sign-in form to ``client`` and return the CSRF token it was given."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return page.cookies[SIGN_IN_COOKIE]


def post_sign_in(
    client: httpx.Client, username: str, password: str, next: str | None = None
) -> httpx.Response:
    """Post the sign-in form as ``username`` (after showing it); the answer, not followed."""
    data = {"username": username, "password": password, CSRF_FIELD: sign_in_token(client)}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data, follow_redirects=False)
