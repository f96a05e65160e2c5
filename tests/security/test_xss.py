"""Markup in data (variable names and values, business keys, incident messages, element and
process names, user names) is shown as text on every page of the web app; every answer
carries the security headers; JSON answers say they are JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from security_support import PRINCIPALS, Site, open_site

from legato.api.headers import SECURITY_HEADERS
from legato.security import Principal
from sign_in_support import post_sign_in

SCRIPT = '<script>alert("x")</script>'
IMAGE = '"><img src=x onerror=alert(1)>'
LINK = "javascript:alert(1)"
HOSTILE = (SCRIPT, IMAGE, LINK)
HOSTILE_USER = "<script>alert('user')</script>"

PROCESS = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="hostile" name={quoteattr(SCRIPT)} isExecutable="true">
    <bpmn:startEvent id="s" name={quoteattr(IMAGE)}/>
    <bpmn:userTask id="review" name={quoteattr(SCRIPT + IMAGE)}>
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="admin"/>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:serviceTask id="charge" name={quoteattr(IMAGE)}>
      <bpmn:extensionElements><zeebe:taskDefinition type="charge"/></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="charge"/>
    <bpmn:sequenceFlow id="f1" sourceRef="charge" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Site]:
    principals = dict(PRINCIPALS)
    principals[HOSTILE_USER] = Principal(HOSTILE_USER, frozenset({"admin"}))
    yield from open_site(tmp_path, principals)


def _seed(site: Site) -> dict[str, int]:
    engine = site.engine
    engine.deploy(PROCESS)
    variables = {"note": SCRIPT, "link": LINK, "img": IMAGE, "nested": {"html": SCRIPT}}
    failing = engine.start("hostile", variables, business_key=SCRIPT)
    (job,) = engine.activate_jobs("charge", worker="w", max_jobs=1, timeout=timedelta(minutes=5))
    engine.fail_job(job.key, SCRIPT + IMAGE, retries=0, error_details=IMAGE)
    waiting = engine.start("hostile", variables, business_key=IMAGE)
    (job,) = engine.activate_jobs("charge", worker="w", max_jobs=1, timeout=timedelta(minutes=5))
    engine.complete_job(job.key)
    engine.run_until_idle()
    return {"failing": failing.key, "waiting": waiting.key}


def _assert_inert(html: str, where: str) -> None:
    assert "<script>alert" not in html, where
    assert "<img src=x" not in html, where
    assert 'href="javascript:' not in html.lower(), where
    assert "<script>" not in html.replace("<script src=", ""), where


def test_markup_in_data_is_shown_as_text_on_every_page(hostile: Site) -> None:
    keys = _seed(hostile)
    tasks = hostile.client.post(
        "/v2/user-tasks/search", json={}, **hostile.api_auth("admin")
    ).json()["items"]
    assert tasks, "the seed left no user task"
    task = tasks[0]["userTaskKey"]
    incident = hostile.engine.incidents()[0]
    pages = [
        "/cockpit",
        "/cockpit/processes/hostile",
        "/cockpit/processes/hostile/versions",
        "/cockpit/instances",
        f"/cockpit/instances?businessKey={SCRIPT}",
        f"/cockpit/instances/{keys['failing']}",
        f"/cockpit/instances/{keys['waiting']}",
        "/cockpit/incidents",
        f"/cockpit/incidents/{incident.incident_key}",
        "/tasks",
        "/tasks/rows",
        f"/tasks/{task}",
        "/start",
        "/audit",
        f"/login?next={LINK}",
        f"/nowhere/{SCRIPT}",
    ]
    session = hostile.session(HOSTILE_USER)
    session["headers"].pop("HX-Request")
    shown = 0
    for page in pages:
        answer = hostile.client.get(page, **session)
        if answer.status_code == 404 and not page.startswith("/nowhere"):
            continue  # a page this build does not have
        assert answer.headers["content-type"].startswith("text/html"), page
        _assert_inert(answer.text, page)
        shown += 1
    assert shown >= 12
    instance = hostile.client.get(f"/cockpit/instances/{keys['failing']}", **session).text
    assert "&lt;script&gt;alert(" in instance  # the value is there, as text
    assert "&lt;script&gt;alert(&#39;user&#39;)" in instance  # the user's name too


def test_a_javascript_next_after_sign_in_goes_home(site: Site) -> None:
    answer = post_sign_in(site.client, "admin", "admin", LINK)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/login", None),
        ("/cockpit", "admin"),
        ("/cockpit", None),
        ("/nowhere", "admin"),
        ("/cockpit/audit", "user"),
        ("/static/nowhere.js", None),
        ("/v2/topology", "admin"),
        ("/v2/topology", None),
        ("/engine-rest/process-definition", "admin"),
        ("/health", None),
        ("/docs", "admin"),
    ],
)
def test_every_answer_carries_the_security_headers(site: Site, path: str, who: str | None) -> None:
    if who is None:
        answer = site.client.get(path)
    elif path.startswith(("/v2", "/engine-rest", "/docs")):
        answer = site.client.get(path, **site.api_auth(who))
    else:
        answer = site.client.get(path, **site.session(who))
    for name, value in SECURITY_HEADERS.items():
        if name == "Content-Security-Policy":
            assert "script-src 'self'" in answer.headers[name], path
            assert "frame-ancestors 'none'" in answer.headers[name]
            assert (
                "'unsafe-inline'" not in answer.headers[name].split("script-src")[1].split(";")[0]
            )
        else:
            assert answer.headers[name] == value, path


def test_the_api_documentation_allows_only_its_own_inline_script(site: Site) -> None:
    answer = site.client.get("/docs", **site.api_auth("admin"))
    policy = answer.headers["Content-Security-Policy"]
    assert "'sha256-" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


@pytest.mark.parametrize(
    "path",
    ["/v2/topology", "/legato/v1/audit/verify", "/engine-rest/process-definition", "/health"],
)
def test_json_answers_say_they_are_json(site: Site, path: str) -> None:
    answer = site.client.get(path, **site.api_auth("admin"))
    assert answer.headers["content-type"].split(";")[0] in (
        "application/json",
        "application/problem+json",
    )
    refused = site.client.get(path)
    if refused.status_code == 401 and refused.content:
        assert refused.headers["content-type"] == "application/problem+json"
