"""The cockpit's process dashboards: the page (its choices, the URLs of its data, who may see
it) and, in the browser, the charts, tables, heat map and comparison drawn from the analytics
endpoints after instances of two versions ran through the engine."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from cockpit_support import CHECK_MODEL, deploy_check
from web_support import session_client

from legato.testing.server import LegatoServer

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


def test_the_dashboards_are_linked_and_need_the_cockpits_role(web_server: LegatoServer) -> None:
    deploy_check(web_server, "dash-links")
    link = 'href="/cockpit/processes/dash-links/dashboard'
    with session_client(web_server, "auditor") as client:
        assert link in client.get("/cockpit/dashboards").text
        assert link in client.get("/cockpit").text
        assert link in client.get("/cockpit/processes/dash-links").text
        assert 'href="/cockpit/dashboards"' in client.get("/cockpit/instances").text
    with session_client(web_server, "manager") as client:  # a task list user: no cockpit
        for path in ("/cockpit/dashboards", "/cockpit/processes/dash-links/dashboard"):
            assert client.get(path).status_code == 403
    with httpx.Client(base_url=web_server.url) as anonymous:
        answer = anonymous.get("/cockpit/processes/dash-links/dashboard")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=/cockpit/processes/dash-links")
