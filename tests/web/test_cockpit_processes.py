"""The cockpit's processes: versions with their counts, a process's diagram with counts per
element, and deploying uploaded files (a broken one named with its line)."""

from __future__ import annotations

from collections.abc import Callable

from cockpit_support import (
    CHECK_MODEL,
    add_user,
    complete_job,
    csrf_of,
    deploy_check,
    start,
    take_job,
    with_incident,
)
from playwright.sync_api import Page, expect
from web_support import session_client

from legato.testing.server import LegatoServer

BROKEN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="broken" isExecutable="true">
    <bpmn:startEvent id="start">
  </bpmn:process>
</bpmn:definitions>
"""


def test_the_overlays_count_waiting_incidents_and_completed_per_element(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    deploy_check(web_server, "cockpit-counts")
    with_incident(web_server, "cockpit-counts", {})
    start(web_server, "cockpit-counts", {})
    start(web_server, "cockpit-counts", {})
    complete_job(web_server, take_job(web_server, "cockpit-counts"))

    with session_client(web_server, "auditor") as client:
        counts = client.get("/cockpit/processes/cockpit-counts/statistics?version=1").json()
    assert counts["check"] == {"active": 2, "incidents": 1, "completed": 1}
    assert counts["done"]["completed"] == 1
    assert counts["start"]["completed"] == 3

    page.goto("/cockpit")
    sign_in(page, "auditor")
    row = page.locator('tbody[data-process="cockpit-counts"] tr[data-version="1"]')
    expect(row.locator('[data-count="active"]')).to_have_text("2")
    expect(row.locator('[data-count="incidents"]')).to_have_text("1")
    expect(page.locator("#deploy-form")).to_have_count(0)  # an auditor deploys nothing

    page.get_by_role("link", name="Check cockpit-counts").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 1")
    check = page.locator('#diagram .djs-overlays[data-container-id="check"]')
    expect(check.locator(".lg-badge-active")).to_have_text("2")
    expect(check.locator(".lg-badge-incidents")).to_have_text("1")
    expect(check.locator(".lg-badge-completed")).to_have_text("1")
    done = page.locator('#diagram .djs-overlays[data-container-id="done"]')
    expect(done.locator(".lg-badge-completed")).to_have_text("1")
    expect(page.locator("#instances-link")).to_have_attribute(
        "href", "/cockpit/instances?process=cockpit-counts&version=1"
    )


def test_a_developer_deploys_files_and_a_broken_one_is_named_with_its_line(
    page: Page,
    sign_in: Callable[..., None],
    web_server: LegatoServer,
    expected_console_errors: list[str],
) -> None:
    expected_console_errors.append("400")  # the page refusing the broken file
    add_user(web_server, "developer", "pw-developer", ["developer"])
    page.goto("/cockpit")
    sign_in(page, "developer", "pw-developer")
    upload = page.get_by_label("BPMN, DMN and form files")

    upload.set_input_files(
        {"name": "broken.bpmn", "mimeType": "text/xml", "buffer": BROKEN.encode()}
    )
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#deploy-error")).to_contain_text("broken.bpmn:5")
    expect(page.locator('tbody[data-process="broken"]')).to_have_count(0)

    xml = CHECK_MODEL.format(process_id="cockpit-upload")
    page.get_by_label("BPMN, DMN and form files").set_input_files(
        {"name": "upload.bpmn", "mimeType": "text/xml", "buffer": xml.encode()}
    )
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_role("status")).to_contain_text("upload.bpmn: cockpit-upload version 1")
    row = page.locator('tbody[data-process="cockpit-upload"] tr[data-version="1"]')
    expect(row.locator('[data-count="active"]')).to_have_text("0")
    page.get_by_role("link", name="Check cockpit-upload").click()
    page.get_by_label("Version", exact=True).select_option("1")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('#diagram g.djs-element[data-element-id="check"]')).to_be_visible()


def test_who_may_not_deploy_is_refused(web_server: LegatoServer) -> None:
    xml = CHECK_MODEL.format(process_id="cockpit-refused")
    for name in ("operator", "auditor"):
        with session_client(web_server, name) as client:
            csrf = csrf_of(client, "/cockpit")
            answer = client.post(
                "/cockpit/deployments",
                data={"csrf": csrf},
                files={"resources": ("refused.bpmn", xml, "text/xml")},
            )
            assert answer.status_code == 403, answer.text
            assert 'data-process="cockpit-refused"' not in client.get("/cockpit").text
