"""One instance in the cockpit: an operator fixes a variable and retries an incident until
the instance completes; suspend, resume and cancel; what an auditor may not do; markup in
a variable shown as text."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from cockpit_support import (
    CALLER_MODEL,
    complete_job,
    csrf_of,
    deploy_check,
    marked,
    open_incident_key,
    start,
    take_job,
    with_incident,
)
from playwright.sync_api import Locator, Page, expect
from web_support import USERS, session_client

from legato.testing.server import LegatoServer


def _element(page: Page, element_id: str) -> Locator:
    return page.locator(f'#diagram g.djs-element[data-element-id="{element_id}"]')


def test_an_operator_fixes_a_variable_retries_and_the_instance_completes(
    page: Page,
    sign_in: Callable[..., None],
    web_server: LegatoServer,
    expected_console_errors: list[str],
) -> None:
    expected_console_errors.append("400")  # the page refusing wrong input
    deploy_check(web_server, "cockpit-fix")
    key = with_incident(web_server, "cockpit-fix", {"approved": False, "amount": 12})

    # From the incidents page (grouped by cause) to the group, to the instance.
    page.goto("/cockpit/incidents")
    sign_in(page, "operator")
    group = page.locator("#incident-groups tbody tr").filter(has_text="cockpit-fix")
    expect(group).to_contain_text("approved must be true, got false")
    group.get_by_role("link", name="incidents of check").click()
    page.get_by_role("link", name=key, exact=True).click()
    expect(page).to_have_url(f"{web_server.url}/cockpit/instances/{key}")
    expect(page.locator("#instance-state")).to_have_text("active")
    incident = page.locator("#incidents li").first
    expect(incident).to_contain_text("approved must be true, got false")
    expect(_element(page, "check")).to_have_class(marked("lg-incident"))
    expect(_element(page, "check")).to_have_class(marked("lg-token"))
    expect(_element(page, "start")).to_have_class(marked("lg-path"))

    # A value that is not JSON is refused at its field and changes nothing.
    page.get_by_label("Value of approved (JSON)").fill("yes please")
    page.locator('tr[data-variable="approved"]').get_by_role("button", name="Save").click()
    expect(page.locator('tr[data-variable="approved"] [role="alert"]')).to_contain_text(
        "Value: not JSON"
    )
    expect(page.get_by_label("Value of approved (JSON)")).to_have_value("yes please")

    page.get_by_label("Value of approved (JSON)").fill("true")
    page.locator('tr[data-variable="approved"]').get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Variable approved changed.")
    expect(page.get_by_label("Value of approved (JSON)")).to_have_value("true")
    expect(page.locator('#history li[data-event="VariablesEdited"]')).to_contain_text("by operator")

    page.locator("#incidents").get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("Incident retried.")

    # The worker (this test) gets the job again and sees the fixed variable.
    job = take_job(web_server, "cockpit-fix")
    assert job["processInstanceKey"] == key
    assert job["variables"]["approved"] is True
    complete_job(web_server, job)

    page.reload()
    expect(page.locator("#instance-state")).to_have_text("completed")
    expect(_element(page, "done")).to_have_class(marked("lg-path"))
    expect(_element(page, "check")).not_to_have_class(marked("lg-token"))
    expect(page.locator("#incidents li").first).to_contain_text("resolved")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)


def test_retry_with_fixed_variables_sets_them_in_the_same_command(
    page: Page,
    sign_in: Callable[..., None],
    web_server: LegatoServer,
    expected_console_errors: list[str],
) -> None:
    expected_console_errors.append("400")  # the page refusing wrong input
    deploy_check(web_server, "cockpit-retry-fix")
    key = with_incident(web_server, "cockpit-retry-fix", {"approved": False})
    page.goto(f"/cockpit/instances/{key}")
    sign_in(page, "operator")
    fix = page.get_by_label("Fix variables first (optional, a JSON object)")
    fix.fill("[true]")
    page.locator("#incidents").get_by_role("button", name="Retry").click()
    expect(page.locator("#incidents [role=alert]")).to_contain_text("must be a JSON object")
    expect(page.get_by_label("Fix variables first (optional, a JSON object)")).to_have_value(
        "[true]"
    )
    page.get_by_label("Fix variables first (optional, a JSON object)").fill('{"approved": true}')
    page.locator("#incidents").get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("Variables set and incident retried.")
    expect(page.get_by_label("Value of approved (JSON)")).to_have_value("true")
    job = take_job(web_server, "cockpit-retry-fix")
    assert job["variables"]["approved"] is True


def test_an_auditor_sees_no_action_and_both_the_page_and_the_api_refuse_them(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    deploy_check(web_server, "cockpit-audit")
    key = with_incident(web_server, "cockpit-audit", {"approved": False})
    incident = open_incident_key(web_server, key)

    page.goto(f"/cockpit/instances/{key}")
    sign_in(page, "auditor")
    expect(page.locator("#incidents li").first).to_contain_text("approved must be true")
    expect(page.locator('tr[data-variable="approved"] pre')).to_have_text("false")
    for name in ("Retry", "Save", "Suspend", "Resume", "Cancel instance", "Add"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)

    auditor = ("auditor", str(USERS["auditor"]["password"]))
    with httpx.Client(base_url=web_server.url, auth=auditor, timeout=60) as api:
        refused = api.post(f"/legato/v1/incidents/{incident}/retry", json={})
        assert refused.status_code == 403, refused.text
        refused = api.post(f"/legato/v1/process-instances/{key}/suspension")
        assert refused.status_code == 403, refused.text
    with session_client(web_server, "auditor") as client:
        csrf = csrf_of(client, f"/cockpit/instances/{key}")
        for path, data in (
            (f"/cockpit/instances/{key}/incidents/{incident}/retry", {}),
            (f"/cockpit/instances/{key}/variables", {"name": "approved", "value": "true"}),
            (f"/cockpit/instances/{key}/suspend", {}),
            (f"/cockpit/instances/{key}/cancel", {"confirm": "yes"}),
        ):
            answer = client.post(path, data={"csrf": csrf, **data})
            assert answer.status_code == 403, (path, answer.text)
    page.reload()
    expect(page.locator("#instance-state")).to_have_text("active")
    expect(page.locator("#incidents li").first).to_contain_text("open")


def test_suspend_resume_and_cancel_with_confirmation(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    deploy_check(web_server, "cockpit-hold")
    key = start(web_server, "cockpit-hold", {"approved": True})
    page.goto(f"/cockpit/instances/{key}")
    sign_in(page, "operator")
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("status")).to_contain_text("Suspended.")
    expect(page.locator("#instance-state")).to_have_text("suspended")
    expect(page.locator('#history li[data-event="InstanceSuspended"]')).to_contain_text(
        "by operator"
    )
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status")).to_contain_text("Resumed.")
    expect(page.locator("#instance-state")).to_have_text("active")

    page.get_by_text("Cancel instance…").click()
    page.get_by_label("Reason (optional)").fill("customer withdrew")
    page.get_by_role("button", name="Cancel instance").click()
    # Not confirmed: the browser keeps the form (the box is required), nothing happens.
    expect(page.locator("#instance-state")).to_have_text("active")
    page.get_by_label("Yes, cancel this instance and everything it runs").check()
    page.get_by_role("button", name="Cancel instance").click()
    expect(page.get_by_role("status")).to_contain_text("Cancelled.")
    expect(page.locator("#instance-state")).to_have_text("terminated")
    expect(page.locator('#history li[data-event="InstanceTerminated"]')).to_contain_text(
        "customer withdrew"
    )
    expect(page.get_by_role("button", name="Suspend")).to_have_count(0)

    # The route itself asks for the confirmation too.
    other = start(web_server, "cockpit-hold", {})
    with session_client(web_server, "operator") as client:
        csrf = csrf_of(client, f"/cockpit/instances/{other}")
        answer = client.post(f"/cockpit/instances/{other}/cancel", data={"csrf": csrf})
        assert answer.status_code == 400
        assert "tick the box" in answer.text


def test_calling_and_called_instances_link_to_each_other(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    deploy_check(web_server, "cockpit-caller-called")
    deploy_check(web_server, "cockpit-caller", CALLER_MODEL)
    parent = start(web_server, "cockpit-caller", {})
    page.goto(f"/cockpit/instances/{parent}")
    sign_in(page, "operator")
    expect(page.locator("#diagram g.djs-element[data-element-id=call]")).to_have_class(
        marked("lg-token")
    )
    page.locator("#called").get_by_role("link", name="cockpit-caller-called").click()
    expect(page.get_by_role("heading", level=1)).not_to_contain_text(parent)
    expect(page.locator("#instance-header")).to_contain_text("cockpit-caller-called")
    # A called instance is cancelled through its caller: no cancel here.
    expect(page.get_by_role("button", name="Cancel instance")).to_have_count(0)
    page.locator("#calling-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(parent)


def test_markup_in_values_is_shown_as_text(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    deploy_check(web_server, "cockpit-markup")
    markup = "<script>window.pwned = 1</script><b>bold</b>"
    key = start(web_server, "cockpit-markup", {"note": markup})
    page.goto(f"/cockpit/instances/{key}")
    sign_in(page, "auditor")
    expect(page.locator('tr[data-variable="note"] pre')).to_have_text(f'"{markup}"')
    assert page.evaluate("window.pwned") is None
    assert page.locator("#variables b").count() == 0


def test_an_unknown_instance_is_a_404_page(
    page: Page, sign_in: Callable[..., None], expected_console_errors: list[str]
) -> None:
    expected_console_errors.append("404")
    page.goto("/cockpit/instances/999999999")
    sign_in(page, "operator")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto("/cockpit/instances/not-a-key")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
