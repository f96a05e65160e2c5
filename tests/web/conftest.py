"""Browser tests of the web app: a real ``legato serve --http`` seeded with the onboarding
example, and Debian's Chromium driven by Playwright.

Fixtures:

- ``web_server`` (session): the server (:class:`~legato.testing.server.LegatoServer`) with
  ``examples/onboarding/onboarding.bpmn`` and its approval form deployed and the users of
  ``web_support.USERS``.
- ``browser`` (session): headless Chromium from ``web_support.CHROMIUM``.
- ``page``: a new browser context and page on ``web_server.url``; the test fails on any
  console error or page error, except those containing a text of
  ``expected_console_errors`` (a list the test appends to).
- ``expected_console_errors``: see ``page``.
- ``sign_in``: ``sign_in(page, name)`` signs in one of ``web_support.USERS`` through the form.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from legato.testing.server import LegatoServer, admin_client

sys.path.append(str(Path(__file__).resolve().parent))
from web_support import APPROVAL_FORM, CHROMIUM, CHROMIUM_ARGS, ONBOARDING, TIMEOUT_MS, USERS


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LegatoServer]:
    folder = tmp_path_factory.mktemp("web")
    with LegatoServer(f"sqlite:///{folder / 'web.db'}", folder / "server.log") as server:
        with admin_client(server) as http:
            files = [
                ("resources", (APPROVAL_FORM.name, APPROVAL_FORM.read_bytes(), "application/json")),
                ("resources", (ONBOARDING.name, ONBOARDING.read_bytes(), "text/xml")),
            ]
            deployed = http.post("/v2/deployments", files=files)
            assert deployed.status_code == 200, deployed.text
            for name, user in USERS.items():
                made = http.post("/legato/v1/users", json={"name": name, **user})
                assert made.status_code == 201, made.text
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module: while Playwright's synchronous API is open, an event loop runs in this
    # thread, and a later test elsewhere calling asyncio.run() would be refused.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def expected_console_errors() -> list[str]:
    """Texts of console errors a test expects (Chromium logs every 4xx answer to a script's
    request, such as the 400 of a refused form): a test appends them; others still fail."""
    return []


@pytest.fixture
def page(
    browser: Browser, web_server: LegatoServer, expected_console_errors: list[str]
) -> Iterator[Page]:
    context = browser.new_context(base_url=web_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    yield opened
    context.close()
    unexpected = [e for e in errors if not any(x in e for x in expected_console_errors)]
    assert not unexpected, f"the browser reported errors: {unexpected}"


@pytest.fixture
def sign_in() -> Callable[..., None]:
    def signing_in(page: Page, name: str, password: str | None = None) -> None:
        secret = password if password is not None else str(USERS[name]["password"])
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(secret)
        page.get_by_role("button", name="Sign in").click()

    return signing_in
