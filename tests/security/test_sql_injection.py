"""SQL in filters, sort keys, paging and search parameters of the lists (native API, Camunda
7 and 8 APIs, the web app's lists): sort keys are allow-listed (a hostile one is refused with
400 naming the parameter), other values are data, nothing answers 500, and the database is
intact afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from security_support import Site, open_site

HOSTILE = "x' OR '1'='1'; DROP TABLE instances; --"
UNION = "1 UNION SELECT name, password_hash FROM users --"

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="t">
  <bpmn:process id="kept" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="wait"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""

SORTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/v2/process-instances/search", {"json": {"sort": [{"field": HOSTILE}]}}, "sort"),
    ("POST", "/v2/user-tasks/search", {"json": {"sort": [{"field": HOSTILE}]}}, "sort"),
    ("POST", "/v2/incidents/search", {"json": {"sort": [{"field": HOSTILE}]}}, "sort"),
    ("POST", "/v2/variables/search", {"json": {"sort": [{"field": HOSTILE}]}}, "sort"),
    ("POST", "/v2/process-definitions/search", {"json": {"sort": [{"field": HOSTILE}]}}, "sort"),
    (
        "POST",
        "/v2/process-instances/search",
        {"json": {"sort": [{"field": "processDefinitionId", "order": HOSTILE}]}},
        "order",
    ),
    ("GET", "/engine-rest/task", {"params": {"sortBy": HOSTILE, "sortOrder": "asc"}}, "sortBy"),
    (
        "POST",
        "/engine-rest/task",
        {"json": {"sorting": [{"sortBy": HOSTILE, "sortOrder": "asc"}]}},
        "sortBy",
    ),
    (
        "GET",
        "/engine-rest/process-definition",
        {"params": {"sortBy": HOSTILE, "sortOrder": "asc"}},
        "sortBy",
    ),
]

PAGING: list[tuple[str, str, dict[str, Any], str]] = [
    ("GET", "/legato/v1/instances", {"params": {"limit": "-1"}}, "limit"),
    ("GET", "/legato/v1/instances", {"params": {"limit": UNION}}, "limit"),
    ("GET", "/legato/v1/instances", {"params": {"after": HOSTILE}}, "after"),
    ("GET", "/legato/v1/instances", {"params": {"startedFrom": HOSTILE}}, "startedFrom"),
    ("GET", "/legato/v1/instances", {"params": {"status": HOSTILE}}, "status"),
    ("POST", "/v2/process-instances/search", {"json": {"page": {"limit": -1}}}, "page.limit"),
    ("POST", "/v2/process-instances/search", {"json": {"page": {"after": HOSTILE}}}, "after"),
    ("GET", "/engine-rest/process-instance", {"params": {"maxResults": UNION}}, "maxResults"),
    ("GET", "/engine-rest/task", {"params": {"firstResult": HOSTILE}}, "firstResult"),
    ("GET", "/engine-rest/task", {"params": {"maxResults": "-5"}}, "maxResults"),
    ("GET", "/engine-rest/process-instance", {"params": {"firstResult": "-1"}}, "firstResult"),
    ("GET", "/engine-rest/incident", {"params": {"maxResults": "-1"}}, "maxResults"),
    ("GET", "/engine-rest/process-definition", {"params": {"firstResult": "-3"}}, "firstResult"),
    ("GET", "/engine-rest/history/task", {"params": {"firstResult": UNION}}, "firstResult"),
    ("GET", "/engine-rest/external-task", {"params": {"maxResults": HOSTILE}}, "maxResults"),
    (
        "GET",
        "/engine-rest/history/process-instance",
        {"params": {"firstResult": "-1"}},
        "firstResult",
    ),
]

FILTERS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "GET",
        "/legato/v1/instances",
        {"params": {"processId": HOSTILE, "businessKey": UNION, "variableName": HOSTILE}},
    ),
    ("GET", "/legato/v1/instances", {"params": {"variableName": "a", "variableValue": HOSTILE}}),
    (
        "POST",
        "/v2/process-instances/search",
        {"json": {"filter": {"processDefinitionId": HOSTILE, "businessId": UNION}}},
    ),
    (
        "POST",
        "/v2/process-instances/search",
        {"json": {"filter": {"processDefinitionName": HOSTILE, "tenantId": UNION}}},
    ),
    (
        "POST",
        "/v2/user-tasks/search",
        {"json": {"filter": {"assignee": HOSTILE, "candidateGroup": UNION}}},
    ),
    ("POST", "/v2/variables/search", {"json": {"filter": {"name": HOSTILE, "value": UNION}}}),
    ("GET", "/engine-rest/process-instance", {"params": {"variables": f"a_eq_{HOSTILE}"}}),
    ("GET", "/engine-rest/process-instance", {"params": {"businessKey": HOSTILE}}),
    ("GET", "/engine-rest/task", {"params": {"processVariables": f"a_eq_{UNION}"}}),
    ("GET", "/engine-rest/task", {"params": {"nameLike": HOSTILE, "assignee": UNION}}),
    ("GET", "/engine-rest/variable-instance", {"params": {"variableNameLike": HOSTILE}}),
    ("GET", "/engine-rest/process-definition", {"params": {"keyLike": "%' OR 1=1 --"}}),
]

PAGES = [
    f"/tasks?sort={HOSTILE}&order={HOSTILE}&page=-1&process={UNION}",
    f"/cockpit/instances?process={HOSTILE}&business_key={UNION}",
    f"/cockpit/instances?state={HOSTILE}&size={UNION}&started_from={HOSTILE}",
    f"/cockpit/instances?variable={HOSTILE}&value={UNION}",
    f"/cockpit/incidents?process={HOSTILE}&sort={HOSTILE}",
    f"/audit?actor={HOSTILE}&resource={UNION}",
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One site for the module: every test only reads, and checks it is intact after."""
    for site in open_site(tmp_path_factory.mktemp("sqli")):
        site.engine.deploy(PROCESS)
        site.engine.start("kept", {"a": "b"}, business_key="kept-1")
        site.engine.run_until_idle()
        yield site


def _intact(site: Site) -> None:
    found = site.client.get("/legato/v1/instances", **site.api_auth("admin")).json()["items"]
    assert [item["businessKey"] for item in found] == ["kept-1"]
    tasks = site.client.post("/v2/user-tasks/search", json={}, **site.api_auth("admin"))
    assert len(tasks.json()["items"]) == 1


@pytest.mark.parametrize(("method", "path", "request_", "parameter"), SORTS)
def test_a_hostile_sort_key_is_refused_naming_the_parameter(
    seeded: Site, method: str, path: str, request_: dict[str, Any], parameter: str
) -> None:
    answer = seeded.client.request(method, path, **request_, **seeded.api_auth("admin"))
    assert answer.status_code == 400, answer.text
    assert parameter in answer.text
    _intact(seeded)


@pytest.mark.parametrize(("method", "path", "request_", "parameter"), PAGING)
def test_hostile_paging_is_refused_naming_the_parameter(
    seeded: Site, method: str, path: str, request_: dict[str, Any], parameter: str
) -> None:
    answer = seeded.client.request(method, path, **request_, **seeded.api_auth("admin"))
    assert answer.status_code == 400, answer.text
    assert parameter in answer.text
    _intact(seeded)


@pytest.mark.parametrize(("method", "path", "request_"), FILTERS)
def test_hostile_filter_values_are_data_and_find_nothing(
    seeded: Site, method: str, path: str, request_: dict[str, Any]
) -> None:
    answer = seeded.client.request(method, path, **request_, **seeded.api_auth("admin"))
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 200:
        body = answer.json()
        items = body if isinstance(body, list) else body["items"]
        assert items == []
    _intact(seeded)


@pytest.mark.parametrize("page", PAGES)
def test_hostile_list_parameters_of_the_web_app_do_no_harm(seeded: Site, page: str) -> None:
    session = seeded.session("admin")
    session["headers"].pop("HX-Request")
    answer = seeded.client.get(page, **session)
    assert answer.status_code in (200, 400), answer.text
    assert "kept-1" not in answer.text or "state=" in page
    _intact(seeded)
