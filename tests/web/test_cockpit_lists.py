"""Browser tests of the cockpit's lists: instances (filters, paging, bulk cancel and retry),
incidents grouped by cause with retry, decisions with their table and evaluations, what an
auditor may not do, and markup in data shown as text."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable

import httpx
from cockpit_seed import (
    deploy_decision,
    deploy_service_process,
    fail_jobs,
    search,
    start,
)
from playwright.sync_api import Page, expect
from web_support import USERS, session_client

from legato.testing.server import LegatoServer


def _row_keys(page: Page) -> list[str]:
    return page.locator("#instances tbody tr[data-key]").evaluate_all(
        "rows => rows.map(r => r.dataset.key)"
    )


def test_filters_narrow_the_instance_list(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    pid = deploy_service_process(web_server)
    gold = start(web_server, pid, "order-1", tier="gold", amount=120)
    silver = start(web_server, pid, "order-2", tier="silver", amount=80)
    other = start(web_server, pid, "order-3", tier="gold", amount=7)

    page.goto(f"/cockpit/instances?process={pid}")
    sign_in(page, "operator")
    expect(page.locator("#instance-count")).to_have_text("3")
    assert set(_row_keys(page)) == {str(gold), str(silver), str(other)}
    expect(page.get_by_role("link", name=str(gold))).to_have_attribute(
        "href", f"/cockpit/instances/{gold}"
    )

    page.get_by_label("Business key").fill("order-2")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#instance-count")).to_have_text("1")
    assert _row_keys(page) == [str(silver)]
    assert "business_key=order-2" in page.url  # a shareable URL

    page.get_by_label("Business key").fill("")
    page.get_by_label("Variable").fill("tier")
    page.get_by_label("Value").fill("gold")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#instance-count")).to_have_text("2")
    assert set(_row_keys(page)) == {str(gold), str(other)}

    page.get_by_label("Value").fill("7")  # a number as a number
    page.get_by_label("Variable").fill("amount")
    page.get_by_role("button", name="Filter").click()
    assert _row_keys(page) == [str(other)]

    page.get_by_label("Started from (UTC)").fill("2999-01-01T00:00")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#instance-count")).to_have_text("0")
    expect(page.get_by_text("No instance matches these filters.")).to_be_visible()


def test_a_bad_filter_is_named_at_its_field(
    page: Page,
    web_server: LegatoServer,
    sign_in: Callable[..., None],
    expected_console_errors: list[str],
) -> None:
    expected_console_errors.append("status of 400")  # the page answers 400
    page.goto("/cockpit/instances?version=two&value=3")
    sign_in(page, "operator")
    expect(page.locator("#error-version")).to_contain_text("not a version number")
    expect(page.locator("#error-variable")).to_contain_text("name of the variable")
    expect(page.get_by_label("Version")).to_have_attribute("aria-invalid", "true")


def test_a_bulk_operation_without_a_selection_does_nothing_and_says_why(
    web_server: LegatoServer,
) -> None:
    with session_client(web_server, "operator") as http:
        csrf = _csrf(http)
        answer = http.post(
            "/cockpit/instances/bulk",
            data={"csrf": csrf, "op": "cancel:selected", "back_to": "/cockpit/instances?x=1"},
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/cockpit/instances?x=1"
        shown = http.get(answer.headers["location"]).text
        odd = http.post(
            "/cockpit/instances/bulk",
            data={"csrf": csrf, "op": "explode:all", "back_to": "https://elsewhere.example/"},
        )
        assert odd.headers["location"] == "/cockpit/instances"
    assert "Nothing done: select at least one instance." in shown
    assert "Nothing done: kind: choose one of cancel, retry." in http_text(odd)


def http_text(answer: httpx.Response) -> str:
    return urllib.parse.unquote(answer.headers.get("set-cookie", ""))


def _csrf(http: httpx.Client) -> str:
    token = re.search(r'name="csrf-token" content="([^"]+)"', http.get("/cockpit").text)
    assert token is not None
    return token.group(1)


def test_paging_goes_forward_and_back_without_duplicates(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    pid = deploy_service_process(web_server)
    keys = {str(start(web_server, pid)) for _ in range(5)}

    page.goto(f"/cockpit/instances?process={pid}&size=2")
    sign_in(page, "operator")
    expect(page.locator("#instance-count")).to_have_text("5")
    pages = [_row_keys(page)]
    for _ in range(2):
        page.get_by_role("link", name="Next").click()
        pages.append(_row_keys(page))
    expect(page.get_by_role("link", name="Next")).to_have_count(0)
    seen = [key for keys_of_page in pages for key in keys_of_page]
    assert len(seen) == 5 and set(seen) == keys
    assert [len(p) for p in pages] == [2, 2, 1]

    page.get_by_role("link", name="Previous").click()
    assert _row_keys(page) == pages[1]
    page.get_by_role("link", name="Previous").click()
    assert _row_keys(page) == pages[0]
    expect(page.get_by_role("link", name="Previous")).to_have_count(0)


def test_bulk_cancel_of_the_selected_rows_after_a_confirmation(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    pid = deploy_service_process(web_server)
    first, second, kept = (start(web_server, pid) for _ in range(3))

    page.goto(f"/cockpit/instances?process={pid}")
    sign_in(page, "operator")
    page.get_by_label(f"Select instance {first}").check()
    page.get_by_label(f"Select instance {second}").check()
    page.get_by_role("button", name="Cancel selected").click()

    expect(page.locator("#would-do")).to_have_text("2")
    assert {i["instanceKey"] for i in search(web_server, processId=pid, status="active")} == {
        str(first),
        str(second),
        str(kept),
    }  # a confirmation changes nothing
    page.get_by_role("button", name="Cancel 2 instances").click()

    expect(page.locator(".lg-flash")).to_contain_text("Cancelled 2 instances.")
    assert f"process={pid}" in page.url
    terminated = search(web_server, processId=pid, status="terminated")
    assert {i["instanceKey"] for i in terminated} == {str(first), str(second)}

    page.get_by_role("button", name="Cancel all matching").click()  # 3: one left to do
    expect(page.locator("#confirmation")).to_contain_text("The filters find 3 instances")
    expect(page.locator("#would-do")).to_have_text("1")
    expect(page.locator("#would-skip")).to_have_text("2")
    page.get_by_role("button", name="Cancel 1 instance").click()
    expect(page.locator(".lg-flash")).to_contain_text("Cancelled 1 instance. Skipped 2 instances")
    assert search(web_server, processId=pid, status="active") == []


def test_bulk_retry_of_every_instance_with_an_incident(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    pid = deploy_service_process(web_server)
    for _ in range(3):
        start(web_server, pid)
    fail_jobs(web_server, pid, ["gateway timeout", "gateway timeout"])

    page.goto(f"/cockpit/instances?process={pid}&state=incident")
    sign_in(page, "operator")
    expect(page.locator("#instance-count")).to_have_text("2")
    expect(page.locator("#instances .lg-state-incident")).to_have_count(2)
    page.get_by_role("button", name="Retry all matching").click()
    expect(page.locator("#would-do")).to_have_text("2")
    page.get_by_role("button", name="Retry 2 instances").click()

    expect(page.locator(".lg-flash")).to_contain_text("Retried 2 instances.")
    expect(page.locator("#instance-count")).to_have_text("0")
    assert search(web_server, processId=pid, status="incident") == []
    assert len(search(web_server, processId=pid, status="active")) == 3


def test_the_incidents_page_groups_incidents_of_one_cause_and_retries_them(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    pid = deploy_service_process(web_server)
    for _ in range(3):
        start(web_server, pid)
    fail_jobs(web_server, pid, ["card 4242 declined", "card 1881 declined"])

    page.goto("/cockpit/incidents")
    sign_in(page, "operator")
    row = page.locator("#incident-groups tbody tr", has_text=pid)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("card <n> declined")
    row.get_by_role("link", name=re.compile("2 incidents of charge")).click()

    expect(page.locator("#incidents tbody tr")).to_have_count(2)
    expect(page.locator("#incidents")).to_contain_text("card 4242 declined")
    expect(page.locator("#incidents")).to_contain_text("card 1881 declined")
    page.locator("#incidents tbody tr").first.get_by_role("button", name="Retry").click()
    expect(page.locator(".lg-flash")).to_contain_text("Retried incident")
    assert len(search(web_server, processId=pid, status="incident")) == 1

    row = page.locator("#incident-groups tbody tr", has_text=pid)
    expect(row.get_by_role("link")).to_have_text("1")
    row.get_by_role("button", name=re.compile("Retry all")).click()
    expect(page.locator(".lg-flash")).to_contain_text("Retried 1 incident.")
    expect(page.locator("#incident-groups tbody tr", has_text=pid)).to_have_count(0)
    assert search(web_server, processId=pid, status="incident") == []


def test_the_decision_page_shows_the_table_and_an_evaluation_with_its_rule(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    did, pid = deploy_decision(web_server)
    key = start(web_server, pid, tier="silver")

    page.goto("/cockpit/decisions")
    sign_in(page, "auditor")
    page.get_by_role("link", name=did).click()

    table = page.locator(".lg-decision")
    expect(table.locator(".tjs-table")).to_be_visible()  # dmn-js drew the decision table
    expect(table).to_contain_text("Customer tier")
    expect(table).to_contain_text('"silver"')
    evaluation = page.locator("#evaluations tbody tr")
    expect(evaluation).to_have_count(1)
    expect(evaluation).to_contain_text("Rule 2")
    expect(evaluation.locator(".lg-rule")).to_have_attribute("title", f"{did}-silver")
    expect(evaluation).to_contain_text("5")
    expect(evaluation.get_by_role("link", name=str(key))).to_have_attribute(
        "href", f"/cockpit/instances/{key}"
    )
    xml = page.request.get(f"/cockpit/decisions/{did}/xml")
    assert xml.status == 200 and f'id="{did}"' in xml.text()

    page.goto(f"/cockpit/instances?process={pid}&ended_from=2000-01-01T00:00")
    assert _row_keys(page) == [str(key)]
    page.goto(f"/cockpit/instances?process={pid}&ended_before=2000-01-01T00:00")
    expect(page.locator("#instance-count")).to_have_text("0")


def test_an_auditor_sees_no_bulk_or_retry_buttons_and_the_routes_refuse(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    pid = deploy_service_process(web_server)
    key = start(web_server, pid)
    fail_jobs(web_server, pid, ["out of stock"])

    page.goto(f"/cockpit/instances?process={pid}")
    sign_in(page, "auditor")
    expect(page.locator("#instances tbody tr[data-key]")).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("selected|all matching"))).to_have_count(0)
    expect(page.locator("#instances input[type=checkbox]")).to_have_count(0)
    page.goto("/cockpit/incidents")
    expect(page.locator("#incident-groups tbody tr", has_text=pid)).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Retry"))).to_have_count(0)

    with session_client(web_server, "auditor") as http:
        csrf = _csrf(http)
        bulk = http.post(
            "/cockpit/instances/bulk",
            data={"csrf": csrf, "op": "cancel:selected", "key": str(key), "confirmed": "yes"},
        )
        retry = http.post(f"/cockpit/incidents/{key}/retry", data={"csrf": csrf})
    assert bulk.status_code == 403 and retry.status_code == 403
    api = httpx.post(
        f"{web_server.url}/legato/v1/batch-operations",
        json={"kind": "cancel", "keys": [str(key)]},
        auth=("auditor", str(USERS["auditor"]["password"])),
    )
    assert api.status_code == 403, api.text
    assert [i["status"] for i in search(web_server, processId=pid)] == ["active"]


def test_markup_in_a_business_key_and_an_incident_message_is_text(
    page: Page, web_server: LegatoServer, sign_in: Callable[..., None]
) -> None:
    pid = deploy_service_process(web_server)
    markup = "<script>alert('x')</script>"
    start(web_server, pid, markup)
    fail_jobs(web_server, pid, [f"bad {markup} input"])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"/cockpit/instances?process={pid}")
    sign_in(page, "operator")
    expect(page.locator("#instances tbody td", has_text=markup)).to_have_count(1)
    page.goto("/cockpit/incidents")
    row = page.locator("#incident-groups tbody tr", has_text=pid)
    expect(row).to_contain_text(f"bad {markup} input")
    row.get_by_role("link").click()
    expect(page.locator("#incidents")).to_contain_text(f"bad {markup} input")
    assert dialogs == []
