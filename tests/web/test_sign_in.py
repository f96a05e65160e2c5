"""Signing in and out of the web app, in Chromium against a real server."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, expect
from web_support import SCRIPT_NAME, session_client

from legato.testing.server import ADMIN_PASSWORD, LegatoServer
from sign_in_support import post_sign_in


def test_the_bundle_is_served_and_loads_without_errors(
    page: Page, web_server: LegatoServer
) -> None:
    answer = httpx.get(f"{web_server.url}/static/dist/app.js", timeout=60)
    assert answer.status_code == 200
    assert "max-age=31536000" in answer.headers["cache-control"]
    assert answer.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("data-lg-ready", "true")
    assert page.evaluate("typeof window.htmx") == "object"


def test_a_wrong_password_shows_an_error(page: Page, sign_in: Callable[..., None]) -> None:
    page.goto("/login")
    sign_in(page, "manager", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("The user name or password is wrong.")
    expect(page.get_by_label("User name")).to_have_value("manager")
    assert page.context.cookies() == [] or all(
        c["name"] != "legato_session" for c in page.context.cookies()
    )


def test_each_role_lands_on_its_page_and_sees_its_menu(
    page: Page, sign_in: Callable[..., None]
) -> None:
    page.goto("/")
    expect(page).to_have_url("/login?next=/")
    sign_in(page, "manager")
    expect(page).to_have_url("/tasks")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Tasks")).to_be_visible()
    expect(nav.get_by_role("link", name="Cockpit")).to_have_count(0)
    cookie = next(c for c in page.context.cookies() if c["name"] == "legato_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url("/login")
    expect(page.get_by_role("status")).to_have_text("Signed out.")

    page.goto("/")
    sign_in(page, "operator")
    expect(page).to_have_url("/cockpit")
    expect(nav.get_by_role("link", name="Cockpit")).to_be_visible()
    expect(nav.get_by_role("link", name="Tasks")).to_have_count(0)


def test_a_page_without_a_session_returns_to_it_after_sign_in(
    page: Page, sign_in: Callable[..., None]
) -> None:
    page.goto("/cockpit?view=incidents")
    expect(page).to_have_url("/login?next=" + quote("/cockpit?view=incidents", safe="/"))
    sign_in(page, "auditor")
    expect(page).to_have_url("/cockpit?view=incidents")
    expect(page.get_by_role("heading", name="Processes")).to_be_visible()


def test_a_page_the_user_may_not_use_is_refused(web_server: LegatoServer) -> None:
    with session_client(web_server, "auditor") as client:
        refused = client.get("/tasks")
        assert refused.status_code == 403
        assert "tasks:work" in refused.text


def test_a_post_without_the_csrf_token_is_refused(web_server: LegatoServer) -> None:
    with session_client(web_server, "manager") as client:
        page = client.get("/start")
        token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        assert len(token) == 64
        form = {"process_id": "onboarding", "variables": '{"score": 720}'}
        assert client.post("/start", data=form).status_code == 403
        assert client.post("/start", data={**form, "csrf": "0" * 64}).status_code == 403
        assert client.post("/logout").status_code == 403
        started = client.post("/start", data={**form, "csrf": token})
        assert started.status_code == 303
        by_header = client.post("/start", data=form, headers={"X-CSRF-Token": token})
        assert by_header.status_code == 303
        assert client.post("/logout", data={"csrf": token}).status_code == 303


def test_without_a_session_htmx_gets_401_and_a_redirect(web_server: LegatoServer) -> None:
    answer = httpx.post(
        f"{web_server.url}/start",
        headers={"HX-Request": "true", "HX-Current-URL": f"{web_server.url}/start?x=1"},
        timeout=60,
    )
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"] == "/login?next=" + quote("/start?x=1", safe="/")
    page = httpx.get(f"{web_server.url}/start", timeout=60)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/start"


def test_a_session_lasts_eight_hours_by_default(web_server: LegatoServer) -> None:
    with httpx.Client(base_url=web_server.url, timeout=60) as client:
        answer = post_sign_in(client, "manager", "pw-manager", "//elsewhere.example")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"  # never a redirect off the server
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "legato_session=" in c)
    cookie = cookie.lower()
    assert "legato_session=" in cookie and "max-age=28800" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_the_api_still_demands_credentials(web_server: LegatoServer) -> None:
    with session_client(web_server, "manager") as client:
        # The session cookie is no API credential.
        assert client.get("/v2/topology").status_code == 401
        assert client.get("/openapi.json").status_code == 401


def test_an_expired_session_keeps_the_form_input(page: Page, sign_in: Callable[..., None]) -> None:
    page.goto("/start")
    sign_in(page, "manager")
    expect(page).to_have_url("/start")
    page.get_by_label("Process id").fill("onboarding")
    page.get_by_label("Business key").fill("order-17")
    page.get_by_label("Variables (a JSON object)").fill('{"score": 720, "customer": "Ada"}')
    page.context.clear_cookies()  # the session ends while the user types
    page.get_by_role("button", name="Start").click()
    expect(page).to_have_url("/login?next=/start")
    sign_in(page, "manager")
    expect(page).to_have_url("/start")
    expect(page.get_by_label("Process id")).to_have_value("onboarding")
    expect(page.get_by_label("Business key")).to_have_value("order-17")
    expect(page.get_by_label("Variables (a JSON object)")).to_have_value(
        '{"score": 720, "customer": "Ada"}'
    )
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("status")).to_contain_text("business key 'order-17'")
    # Restored once: the next visit starts empty.
    page.goto("/start")
    expect(page.get_by_label("Business key")).to_have_value("")


def test_markup_in_names_and_values_is_shown_as_text(
    page: Page, sign_in: Callable[..., None]
) -> None:
    page.goto("/start")
    sign_in(page, SCRIPT_NAME, "pw-script")
    expect(page.locator(".lg-username")).to_have_text(SCRIPT_NAME)
    page.get_by_label("Process id").fill("onboarding")
    page.get_by_label("Business key").fill("<b>bold</b><script>alert(2)</script>")
    page.get_by_label("Variables (a JSON object)").fill('{"score": 720}')
    page.get_by_role("button", name="Start").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("<b>bold</b><script>alert(2)</script>")
    assert status.locator("b, script").count() == 0
    assert page.locator("header script").count() == 0


def test_a_missing_page_is_a_page_and_a_missing_api_route_a_problem(
    web_server: LegatoServer,
) -> None:
    missing = httpx.get(f"{web_server.url}/no-such-page", timeout=60)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "There is no such page." in missing.text
    api = httpx.get(f"{web_server.url}/v2/no-such-route", auth=("admin", ADMIN_PASSWORD))
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
