"""Markup in process and element names, business keys, variables and incident messages runs
no script in the browser: no dialog opens and nothing is reported on the console (which would
also show a content security policy refusing the bundle's own code)."""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import quoteattr

from cockpit_seed import deploy, fail_jobs, start, unique
from playwright.sync_api import Dialog, Page, expect

from legato.testing.server import LegatoServer, admin_client

SCRIPT = '<script>alert("x")</script>'
IMAGE = '"><img src=x onerror=alert(1)>'
LINK = "javascript:alert(1)"


def _model(pid: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d-{pid}" targetNamespace="t">
  <bpmn:process id="{pid}" name={quoteattr(SCRIPT)} isExecutable="true">
    <bpmn:startEvent id="s" name={quoteattr(IMAGE)}/>
    <bpmn:serviceTask id="charge" name={quoteattr(SCRIPT + IMAGE)}>
      <bpmn:extensionElements><zeebe:taskDefinition type="{pid}"/></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="charge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_hostile_content_runs_no_script(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    pid = unique("hostile")
    deploy(web_server, (f"{pid}.bpmn", _model(pid)))
    key = start(web_server, pid, SCRIPT, note=SCRIPT, link=LINK, img=IMAGE)
    fail_jobs(web_server, pid, [SCRIPT + IMAGE])
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    page.goto(f"/login?next=/cockpit/instances/{key}")
    sign_in(page, "operator")
    expect(page.locator("#diagram g.djs-element[data-element-id='charge']")).to_be_visible()
    expect(page.get_by_text(SCRIPT).first).to_be_visible()
    for path in ("/cockpit/incidents", f"/cockpit/processes/{pid}", "/cockpit/instances"):
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    assert dialogs == []


def _task_model(pid: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d-{pid}" targetNamespace="t">
  <bpmn:process id="{pid}" name={quoteattr(IMAGE)} isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review" name={quoteattr(SCRIPT + IMAGE)}/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_hostile_task_and_its_variables_run_no_script(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    pid = unique("hostile_task")
    deploy(web_server, (f"{pid}.bpmn", _task_model(pid)))
    key = start(web_server, pid, IMAGE, note=SCRIPT, link=LINK, img=IMAGE)
    with admin_client(web_server) as http:
        search = {"filter": {"processInstanceKey": str(key)}}
        found = http.post("/v2/user-tasks/search", json=search).json()["items"]
    (task,) = found
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    page.goto(f"/login?next=/tasks/{task['userTaskKey']}")
    sign_in(page, "operator")
    expect(page.get_by_text(SCRIPT + IMAGE).first).to_be_visible()
    page.goto("/tasks")
    expect(page.locator("main")).to_be_visible()
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    assert dialogs == []
