"""What the attack tests share: an in-process server (the three APIs and the web app) with one
principal per role, and requests made as each of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app
from legato.security import ROLES, Principal, StaticAuthenticator
from legato.web import mount
from legato.web.session import CSRF_HEADER, SESSION_COOKIE, csrf_token_for

PRINCIPALS = {role: Principal(role, frozenset({role}), groups=frozenset({role})) for role in ROLES}
"""One principal per role, named after it; its password is its name."""


@dataclass
class Site:
    """An application over a fresh engine, with the web app mounted."""

    engine: Engine
    app: FastAPI
    client: TestClient

    def api_auth(self, name: str) -> dict[str, Any]:
        """Request keywords that authenticate ``name`` to the API (Basic, password = name)."""
        return {"auth": (name, name)}

    def session(self, name: str) -> dict[str, Any]:
        """Request keywords of a web session of ``name`` with its CSRF header."""
        token = f"{name}:{name}"  # the static authenticator's bearer form
        return {
            "headers": {
                "Cookie": f"{SESSION_COOKIE}={token}",
                CSRF_HEADER: csrf_token_for(token),
                "HX-Request": "true",
            }
        }


def open_site(tmp_path: Path, principals: dict[str, Principal] | None = None) -> Iterator[Site]:
    """A :class:`Site` over a SQLite database in ``tmp_path`` (a fixture's body)."""
    chosen = PRINCIPALS if principals is None else principals
    engine = Engine(f"sqlite:///{tmp_path / 'site.db'}")
    users = {name: (name, principal) for name, principal in chosen.items()}
    app = create_app(engine, StaticAuthenticator(users), max_upload_bytes=256 * 1024)
    mount(app)
    with TestClient(app, follow_redirects=False) as client:
        client.cookies.clear()
        yield Site(engine, app, client)
    engine.close()
