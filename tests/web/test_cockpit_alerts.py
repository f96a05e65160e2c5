"""Browser test of the cockpit's alerts page: the open alerts in words (kind, state, what
was expected), resolving one, and what an auditor may not do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from legato.store.records import AlertRecord
from legato.store.sql import SqlStore
from legato.testing.server import LegatoServer


def _raise(server: LegatoServer, instance_key: int) -> int:
    """An overdue alert written into the server's database (as the sweep writes it)."""
    store = SqlStore(server.db_url)
    try:
        with store.transaction() as tx:
            (key,) = tx.reserve_keys(1)
            tx.insert_alert(
                AlertRecord(
                    alert_key=key,
                    dedupe_key=f"instance_overdue:{instance_key}",
                    kind="instance_overdue",
                    raised_at=datetime.now(UTC),
                    process_id="onboarding",
                    version=1,
                    instance_key=instance_key,
                    details={"expectedSeconds": 3600.0, "threshold": 2.0},
                )
            )
    finally:
        store.close()
    return key


def test_an_operator_sees_and_resolves_an_alert(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    key = _raise(web_server, 987654321)

    page.goto("/cockpit/alerts")
    sign_in(page, "operator")
    row = page.locator("#alerts tbody tr", has_text=str(key))
    expect(row).to_contain_text("Instance overdue")
    expect(row).to_contain_text("Open")
    expect(row).to_contain_text("expected 1 h, overdue after 2.0 times that")
    nav_link = page.get_by_role("link", name="Alerts", exact=True)
    expect(nav_link).to_have_attribute("aria-current", "page")

    row.get_by_role("button", name=f"Resolve alert {key}").click()

    expect(page.get_by_text(f"Resolved alert {key}.")).to_be_visible()
    expect(page.locator("#alerts tbody tr", has_text=str(key))).to_have_count(0)
    page.get_by_role("link", name="Show resolved alerts too").click()
    expect(page.locator("#alerts tbody tr", has_text=str(key))).to_contain_text("Resolved")


def test_an_auditor_reads_alerts_but_cannot_resolve_them(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    key = _raise(web_server, 987654322)

    page.goto("/cockpit/alerts")
    sign_in(page, "auditor")

    row = page.locator("#alerts tbody tr", has_text=str(key))
    expect(row).to_contain_text("Open")
    expect(row.get_by_role("button")).to_have_count(0)
