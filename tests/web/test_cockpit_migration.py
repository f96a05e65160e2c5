"""The cockpit's instance migration: plan with a mapping, a dry run, the batch run by the
server with its progress refreshed in the page, and who may do it."""

from __future__ import annotations

from collections.abc import Callable

from cockpit_support import csrf_of, deploy_check, start
from playwright.sync_api import Page, expect
from web_support import session_client

from legato.testing.server import LegatoServer, admin_client

V1 = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="http://legato.dev/tests">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review" name="Review"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
V2 = (
    V1.replace('"review" name="Review"', '"approve" name="Approve"')
    .replace('targetRef="review"', 'targetRef="approve"')
    .replace('sourceRef="review"', 'sourceRef="approve"')
)


def test_an_operator_checks_and_migrates_and_watches_the_batch(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    deploy_check(web_server, "mig-web", V1)
    keys = [start(web_server, "mig-web", {"n": n}) for n in range(3)]
    deploy_check(web_server, "mig-web", V2)

    page.goto("/cockpit/processes/mig-web")
    sign_in(page, "operator")
    page.get_by_role("link", name="Migrate instances to another version").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Migrate instances of mig-web")
    page.get_by_label("Target of review").select_option("approve")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check-summary")).to_have_text(
        "3 of 3 active instances of version 1 can move; 0 cannot."
    )
    expect(page.locator("#check-results")).to_contain_text(
        "the token at 'review' moves to 'approve'"
    )
    page.get_by_role("button", name="Migrate").click()
    # The server's loop runs the batch; the page refreshes its progress until it is done.
    expect(page.locator("#migration-counts")).to_have_text(
        "completed: 3 migrated, 0 could not move, 0 pending of 3 (100 %)"
    )
    page.get_by_role("link", name="Migrations").click()
    expect(page.locator("#migrations tbody tr").first).to_contain_text("1 → 2")
    with admin_client(web_server) as client:
        for key in keys:
            detail = client.get(f"/v2/process-instances/{key}")
            assert detail.json()["processDefinitionVersion"] == 2, detail.text


def test_a_dry_run_names_what_cannot_move_and_an_auditor_may_not_migrate(
    web_server: LegatoServer,
) -> None:
    deploy_check(web_server, "mig-web-2", V1)
    start(web_server, "mig-web-2", {})
    deploy_check(web_server, "mig-web-2", V2)
    path = "/cockpit/processes/mig-web-2/migrate"
    with session_client(web_server, "operator") as client:
        token = csrf_of(client, path)
        checked = client.post(f"{path}/check", data={"csrf": token, "source": "1", "target": "2"})
        assert checked.status_code == 200
        assert "0 of 1 active instance of version 1 can move; 1 cannot." in checked.text
        assert "&#39;Review&#39; (review) has no counterpart in version 2" in checked.text
        bad = client.post(
            f"{path}/check",
            data={"csrf": token, "source": "1", "target": "2", "variables": "oops"},
        )
        assert bad.status_code == 400 and "write one NAME = FEEL per line" in bad.text
    with session_client(web_server, "auditor") as client:
        assert client.get(path).status_code == 403
        assert client.get("/cockpit/migrations").status_code == 200
