"""The cockpit's versions page: versions with tags, suspended state, instance counts, the
rollout rule and the forms that change it, suspending and resuming, and the diff of two
versions; an auditor sees it all and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from cockpit_support import CHECK_MODEL, add_user, complete_job, csrf_of, start, take_job
from playwright.sync_api import Page, expect
from web_support import session_client

from legato.testing.server import LegatoServer, admin_client
from sign_in_support import post_sign_in

TAGGED = CHECK_MODEL.replace(
    'isExecutable="true">',
    'isExecutable="true"><bpmn:extensionElements><zeebe:versionTag value="{{tag}}"/>'
    "</bpmn:extensionElements>",
)


def _deploy(server: LegatoServer, process_id: str, tag: str, task_name: str) -> None:
    xml = TAGGED.format(process_id=process_id).replace("{tag}", tag)
    xml = xml.replace('name="Check"', f'name="{task_name}"')
    with admin_client(server) as http:
        answer = http.post(
            "/v2/deployments", files={"resources": (f"{process_id}.bpmn", xml, "text/xml")}
        )
        assert answer.status_code == 200, answer.text


@contextmanager
def _developer(server: LegatoServer) -> Iterator[httpx.Client]:
    add_user(server, "developer", "pw-developer", ["developer"])
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = post_sign_in(client, "developer", "pw-developer", "/")
        assert answer.status_code == 303, answer.text
        yield client


def _row(html: str, version: int) -> str:
    found = re.search(rf'<tr data-version="{version}">(.*?)</tr>', html, re.S)
    assert found is not None, html
    return found.group(1)


def _field(row: str, name: str) -> str:
    found = re.search(rf'data-field="{name}">(.*?)</td>', row, re.S)
    assert found is not None, row
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_versions_rollout_and_suspension_are_shown_and_changed(web_server: LegatoServer) -> None:
    process_id = "cockpit-versions"
    _deploy(web_server, process_id, "1.0", "Check")
    start(web_server, process_id, {})
    complete_job(web_server, take_job(web_server, process_id))
    _deploy(web_server, process_id, "2.0", "Check twice")
    page = f"/cockpit/processes/{process_id}/versions"
    with _developer(web_server) as client:
        html = client.get(page).text
        assert _field(_row(html, 1), "tag") == "1.0"
        assert _field(_row(html, 1), "completed") == "1"
        assert _field(_row(html, 2), "state") == "active"
        assert "No rollout rule" in html
        csrf = csrf_of(client, page)
        done = client.post(
            f"/cockpit/processes/{process_id}/rollout",
            data={"csrf": csrf, "mode": "split", "split": "1=90, 2=10"},
        )
        assert done.status_code == 303
        html = client.get(page).text
        assert "v1 90%, v2 10%" in html and "by developer" in html
        assert (_field(_row(html, 1), "share"), _field(_row(html, 2), "share")) == ("90%", "10%")
        wrong = client.post(
            f"/cockpit/processes/{process_id}/rollout",
            data={"csrf": csrf, "mode": "rule", "rule": "if then"},
        )
        assert wrong.status_code == 303
        assert "not valid FEEL at line 1, column" in client.get(page).text
        client.post(
            f"/cockpit/processes/{process_id}/rollout", data={"csrf": csrf, "mode": "clear"}
        )
        client.post(
            f"/cockpit/processes/{process_id}/versions/1/suspension",
            data={"csrf": csrf, "action": "suspend"},
        )
        html = client.get(page).text
        assert _field(_row(html, 1), "state") == "suspended"
        assert "No rollout rule" in html
        assert "Resume version 1" in html
        diff = client.get(f"{page}?from=1&to=2").text
        assert "Changed serviceTask &#39;check&#39; (Check twice)" in diff
        assert "name: &#39;Check&#39; -&gt; &#39;Check twice&#39;" in diff
        client.post(
            f"/cockpit/processes/{process_id}/versions/1/suspension",
            data={"csrf": csrf, "action": "resume"},
        )
        assert _field(_row(client.get(page).text, 1), "state") == "active"
        process_page = client.get(f"/cockpit/processes/{process_id}?version=1").text
        assert 'id="version-tag">1.0<' in process_page
        assert f'href="/cockpit/processes/{process_id}/versions"' in process_page


def test_an_auditor_sees_versions_but_changes_nothing(
    web_server: LegatoServer, page: Page, sign_in: Callable[..., None]
) -> None:
    process_id = "cockpit-versions-audit"
    _deploy(web_server, process_id, "a", "Check")
    _deploy(web_server, process_id, "b", "Check again")
    with session_client(web_server, "auditor") as client:
        html = client.get(f"/cockpit/processes/{process_id}/versions").text
        assert _field(_row(html, 2), "tag") == "b"
        assert "rollout-split-form" not in html and "Suspend version" not in html
        csrf = csrf_of(client, f"/cockpit/processes/{process_id}/versions")
        refused = client.post(
            f"/cockpit/processes/{process_id}/rollout",
            data={"csrf": csrf, "mode": "split", "split": "1=100"},
        )
        assert refused.status_code == 403
    with admin_client(web_server) as http:
        shown = http.get(f"/legato/v1/processes/{process_id}/rollout")
        assert shown.json() is None

    page.goto(f"/cockpit/processes/{process_id}")
    sign_in(page, "auditor")
    page.locator("#versions-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(process_id)
    expect(page.locator('#versions tr[data-version="1"] [data-field="tag"]')).to_have_text("a")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#diff")).to_contain_text("name: 'Check' -> 'Check again'")
