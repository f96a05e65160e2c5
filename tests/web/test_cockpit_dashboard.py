"""The cockpit's process dashboards: the page (its choices, the URLs of its data, who may see
it) and, in the browser, the charts, tables, heat map and comparison drawn from the analytics
endpoints after instances of two versions ran through the engine."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cockpit_support import CHECK_MODEL, complete_job, deploy_check, start, take_job, with_incident
from playwright.sync_api import Page, expect
from web_support import session_client

from legato.testing.server import LegatoServer, admin_client

CHECK_V2 = CHECK_MODEL.replace('name="Check"', 'name="Check again"')
"""Version 2 of :data:`cockpit_support.CHECK_MODEL`: the same flow, the task renamed."""


def _data_url(html: str, name: str) -> tuple[str, dict[str, list[str]]]:
    found = re.search(rf'data-{name}-url="([^"]+)"', html)
    assert found is not None, html[:2000]
    url = urlsplit(found.group(1).replace("&amp;", "&"))
    return url.path, parse_qs(url.query)


def test_the_page_carries_the_chosen_versions_and_window(web_server: LegatoServer) -> None:
    deploy_check(web_server, "dash-page")
    deploy_check(web_server, "dash-page", CHECK_V2)
    with session_client(web_server, "auditor") as client:
        every = client.get("/cockpit/processes/dash-page/dashboard")
        assert every.status_code == 200, every.text
        path, query = _data_url(every.text, "report")
        assert path == "/cockpit/processes/dash-page/analytics"
        assert "versions" not in query and query["bucket"] == ["PT6H"]  # 7 days by default
        assert "Every version" in every.text
        assert 'aria-current="page">Dashboards' in every.text
        compare_path, compare_query = _data_url(every.text, "compare")
        assert compare_path == "/cockpit/processes/dash-page/analytics/compare"
        assert compare_query["since"] == query["since"] and compare_query["until"] == query["until"]
        assert re.search(
            r'id="compare-a"[^>]*>\s*<option value="2">2</option><option value="1" selected>',
            every.text,
        )

        one = client.get("/cockpit/processes/dash-page/dashboard?version=1&window=24h")
        _, query = _data_url(one.text, "report")
        assert query["versions"] == ["1"] and query["bucket"] == ["PT1H"]
        assert 'data-xml-url="/cockpit/definitions/' in one.text and "version 1</span>" in one.text

        custom = client.get(
            "/cockpit/processes/dash-page/dashboard",
            params={
                "version": ["2", "1"],
                "window": "custom",
                "since": "2026-12-01T08:00",
                "until": "2026-12-01T20:00",
            },
        )
        _, query = _data_url(custom.text, "report")
        assert query["versions"] == ["1,2"]
        assert query["since"] == ["2026-12-01T08:00:00Z"] and query["until"] == [
            "2026-12-01T20:00:00Z"
        ]


def test_a_window_or_version_that_cannot_be_shown_is_named(web_server: LegatoServer) -> None:
    deploy_check(web_server, "dash-bad")
    with session_client(web_server, "operator") as client:
        bad = client.get("/cockpit/processes/dash-bad/dashboard?window=custom&since=soon")
        assert bad.status_code == 400
        assert "since: &#39;soon&#39; is not a date and time" in bad.text
        missing = client.get("/cockpit/processes/dash-bad/dashboard?version=7")
        assert missing.status_code == 404 and "version 7 of process dash-bad" in missing.text
        nothing = client.get("/cockpit/processes/no-such-process/dashboard")
        assert nothing.status_code == 404 and "no process no-such-process" in nothing.text
        # The data routes answer as the API does, problem details naming the parameter.
        for path, parameter in (
            ("/cockpit/processes/dash-bad/analytics?bucket=PT30M", "bucket"),
            ("/cockpit/processes/dash-bad/analytics?since=soon", "since"),
            ("/cockpit/processes/dash-bad/analytics/compare?a=1&b=none", "b"),
        ):
            answer = client.get(path)
            assert answer.status_code == 400, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["detail"].startswith(f"{parameter}:"), answer.text
        assert client.get("/cockpit/processes/dash-bad/analytics").json()["versions"] == [1]


def test_the_dashboards_are_linked_and_need_the_cockpits_role(web_server: LegatoServer) -> None:
    deploy_check(web_server, "dash-links")
    link = 'href="/cockpit/processes/dash-links/dashboard'
    with session_client(web_server, "auditor") as client:
        assert link in client.get("/cockpit/dashboards").text
        assert link in client.get("/cockpit").text
        assert link in client.get("/cockpit/processes/dash-links").text
        assert 'href="/cockpit/dashboards"' in client.get("/cockpit/instances").text
    with session_client(web_server, "manager") as client:  # a task list user: no cockpit
        for path in (
            "/cockpit/dashboards",
            "/cockpit/processes/dash-links/dashboard",
            "/cockpit/processes/dash-links/analytics",
            "/cockpit/processes/dash-links/analytics/compare?a=1&b=1",
        ):
            assert client.get(path).status_code == 403
    with httpx.Client(base_url=web_server.url) as anonymous:
        answer = anonymous.get("/cockpit/processes/dash-links/dashboard")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=/cockpit/processes/dash-links")


def _run(server: LegatoServer, process_id: str, instances: int) -> None:
    """Run ``instances`` instances of the newest version through the engine to their end."""
    for _ in range(instances):
        start(server, process_id, {})
        complete_job(server, take_job(server, process_id))


def _change_text(comparison: dict[str, Any]) -> str:
    a, b = comparison["a"]["version"], comparison["b"]["version"]
    change = comparison["cycleTimeChange"]
    if change is None:
        return f"Version {a} and version {b} cannot be compared"
    amount = math.floor(abs(change) * 100 + 0.5)  # as Math.round (round() goes to even)
    if amount == 0:
        return f"Version {b} is as fast as version {a}"
    return f"Version {b} is {amount} % {'faster' if change < 0 else 'slower'} than version {a}"


def test_the_dashboard_draws_what_the_analytics_endpoints_report(
    page: Page, sign_in: Callable[..., None], web_server: LegatoServer
) -> None:
    deploy_check(web_server, "dash-run")
    _run(web_server, "dash-run", 3)
    deploy_check(web_server, "dash-run", CHECK_V2)
    _run(web_server, "dash-run", 2)
    with_incident(web_server, "dash-run", {})

    page.goto("/cockpit")
    sign_in(page, "auditor")
    page.get_by_role("link", name="Dashboards").click()
    page.get_by_role("link", name="Check dash-run", exact=True).click()
    page.get_by_label("Window").select_option("24h")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#dashboard")).to_have_attribute("data-lg-drawn", "true")

    # What the page asked for, asked again: the cockpit's JSON is the API's.
    dashboard = page.locator("#dashboard")
    report_url = urlsplit(str(dashboard.get_attribute("data-report-url")))
    query = {k: v[0] for k, v in parse_qs(report_url.query).items()}
    assert query["bucket"] == "PT1H" and "versions" not in query
    compare_url = urlsplit(str(dashboard.get_attribute("data-compare-url")))
    params = {**{k: v[0] for k, v in parse_qs(compare_url.query).items()}, "a": "1", "b": "2"}
    with session_client(web_server, "auditor") as client:
        report = client.get(report_url.path, params=query).json()
        comparison = client.get(compare_url.path, params=params).json()
    with admin_client(web_server) as http:
        api = http.get("/legato/v1/analytics/processes/dash-run", params=query)
        assert api.json() == report
        api = http.get("/legato/v1/analytics/processes/dash-run/compare", params=params)
        assert api.json() == comparison
    assert report["versions"] == [1, 2]
    assert sum(b["started"] for b in report["throughput"]) == 6
    assert sum(b["completed"] for b in report["throughput"]) == 5
    assert report["cycleTime"]["count"] == 5
    assert report["errorRate"]["incidentsOpen"] == 1
    elements = {e["elementId"]: e for e in report["elements"]}
    assert elements["check"]["count"] == 5 and elements["check"]["active"] == 1

    buckets = len(report["throughput"])
    expect(page.locator("#throughput-chart rect.lg-bar-started")).to_have_count(buckets)
    expect(page.locator("#throughput-chart rect.lg-bar-completed")).to_have_count(buckets)
    drawn = page.locator("#throughput-chart rect.lg-bar-started").evaluate_all(
        "bars => bars.map(b => Number(b.dataset.value))"
    )
    assert drawn == [b["started"] for b in report["throughput"]]
    page.get_by_text("Throughput as a table").click()
    rows = page.locator("#throughput-rows tbody tr")
    expect(rows).to_have_count(buckets)
    shown = rows.evaluate_all(
        """rows => rows.map(r => Object.fromEntries(Array.from(r.querySelectorAll("td"))
             .map(td => [td.dataset.column, Number(td.textContent.replace(/,/g, ""))])))"""
    )
    keys = ("started", "completed", "terminated", "incidents")
    assert shown == [{k: int(b[k]) for k in keys} for b in report["throughput"]]

    figures = page.locator("#figures")
    expect(figures.locator('[data-figure="count"] dd')).to_have_text("5")
    expect(figures.locator('[data-figure="incidentsOpen"] dd')).to_have_text("1")
    expect(figures.locator('[data-figure="p95Ms"] dt')).to_have_text("Cycle time p95")
    values = figures.locator("[data-figure]").evaluate_all(
        "all => Object.fromEntries(all.map(f => [f.dataset.figure, Number(f.dataset.value)]))"
    )
    cycle, errors = report["cycleTime"], report["errorRate"]
    assert values == {**cycle, "rate": errors["rate"], "incidentsOpen": errors["incidentsOpen"]}

    for element in ("start", "check", "done"):
        heat = page.locator(f'#heatmap .djs-overlays[data-container-id="{element}"] .lg-heat')
        expect(heat).to_have_attribute("data-count", str(elements[element]["count"]))
        expect(heat.locator(".lg-heat-count")).to_have_text(f"{elements[element]['count']}×")
    ranked = [e["elementId"] for e in report["elements"]]
    expect(page.locator("#slowest-rows tbody tr")).to_have_count(len(ranked))
    order = page.locator("#slowest-rows tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.elementId)"
    )
    assert order == ranked
    check_row = page.locator('#slowest-rows tr[data-element-id="check"]')
    expect(check_row.locator('[data-column="count"]')).to_have_text("5")
    expect(check_row.locator('[data-column="incidents"]')).to_have_text(
        str(elements["check"]["incidents"])
    )
    expect(page.locator("#heat-legend")).to_contain_text("colour and bar length")

    expect(page.locator("#comparison-text")).to_contain_text(_change_text(comparison))
    page.get_by_label("Version A", exact=True).select_option("2")
    page.get_by_label("Version B", exact=True).select_option("1")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#comparison")).to_have_attribute("data-lg-shown", "2,1")
    expect(page.locator("#comparison-rows thead")).to_contain_text("Version 2 (A)")
