"""What the browser tests of the web app share: the users of the test server, the browser's
command line, and an HTTP client with a web session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from legato.testing.server import LegatoServer
from sign_in_support import post_sign_in

CHROMIUM = os.environ.get("LEGATO_CHROMIUM", "/usr/bin/chromium")
"""The browser the tests drive (Debian's package; never a downloaded build)."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ONBOARDING = Path(__file__).parents[2] / "examples" / "onboarding" / "onboarding.bpmn"
APPROVAL_FORM = ONBOARDING.with_name("approval.form")
"""The form of the onboarding's manager approval (``onboarding-approval``)."""
SCRIPT_NAME = "<script>alert(1)</script>"
"""A user whose name is markup: every page must show it as text."""
USERS: dict[str, dict[str, object]] = {
    "manager": {"password": "pw-manager", "roles": ["user"], "groups": ["managers"]},
    "grace": {"password": "pw-grace", "roles": ["user"], "groups": ["managers"]},
    "operator": {"password": "pw-operator", "roles": ["operator"], "groups": []},
    "auditor": {"password": "pw-auditor", "roles": ["auditor"], "groups": []},
    SCRIPT_NAME: {"password": "pw-script", "roles": ["user"], "groups": []},
}
"""The users ``web_server`` has besides ``admin``: name -> password, roles, groups."""
TIMEOUT_MS = 60_000
"""How long a browser step may take (a loaded machine; never a measurement)."""


@contextmanager
def session_client(server: LegatoServer, name: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the web app (the session cookie) as ``name``."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = post_sign_in(client, name, str(USERS[name]["password"]), "/")
        assert answer.status_code == 303, answer.text
        yield client
