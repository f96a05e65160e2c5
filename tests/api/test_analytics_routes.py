"""The dashboard's routes: ``GET /legato/v1/analytics/processes/{processId}`` and its
version comparison, their defaults, roles and refused parameters."""

from __future__ import annotations

from api_helpers import assert_problem, deploy, start
from api_support import Api

from bpmn_helpers import chain, process

STRAIGHT = process('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e"))
BASE = "/legato/v1/analytics/processes"


def test_a_process_report_has_the_agreed_shape(api: Api) -> None:
    deploy(api, "p.bpmn", STRAIGHT)
    deploy(api, "p.bpmn", STRAIGHT.replace('id="e"', 'id="end"').replace('"e"', '"end"'))
    for _ in range(3):
        start(api, "p")

    answer = api.client.get(f"{BASE}/p", **api.as_("audit"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {
        "processId",
        "versions",
        "since",
        "until",
        "bucket",
        "throughput",
        "cycleTime",
        "errorRate",
        "elements",
    }
    assert (body["processId"], body["versions"], body["bucket"]) == ("p", [1, 2], "PT1H")
    assert len(body["throughput"]) in (720, 721)  # 30 days of hours (the first one whole)
    assert sum(b["started"] for b in body["throughput"]) == 3
    assert sum(b["completed"] for b in body["throughput"]) == 3
    bucket_fields = {"start", "started", "completed", "terminated", "incidents"}
    assert set(body["throughput"][0]) == bucket_fields
    assert body["cycleTime"]["count"] == 3
    percentiles = {"count", "meanMs", "p50Ms", "p90Ms", "p95Ms", "p99Ms", "maxMs"}
    assert set(body["cycleTime"]) == percentiles
    rate = {"instances": 3, "withIncidents": 0, "rate": 0.0, "incidentsOpen": 0}
    assert body["errorRate"] == rate
    assert {e["elementId"] for e in body["elements"]} == {"s", "end"}
    assert {e["elementType"] for e in body["elements"]} == {"startEvent", "endEvent"}
    assert set(body["elements"][0]) == {
        "elementId",
        "elementType",
        "count",
        "active",
        "meanMs",
        "p50Ms",
        "p95Ms",
        "totalMs",
        "share",
        "incidents",
    }

    one = api.client.get(f"{BASE}/p?versions=1&bucket=P1D", **api.as_("audit")).json()
    assert (one["versions"], one["bucket"], one["cycleTime"]["count"]) == ([1], "P1D", 0)
    assert len(one["throughput"]) <= 31

    compared = api.client.get(f"{BASE}/p/compare?a=1&b=2", **api.as_("audit")).json()
    assert compared["a"]["version"] == 1 and compared["b"]["throughputTotal"] == 3
    assert set(compared) == {"processId", "since", "until", "a", "b", "cycleTimeChange"}
    assert compared["cycleTimeChange"] is None  # version 1 completed none


def test_a_window_too_long_for_hourly_buckets_gets_coarser_ones(api: Api) -> None:
    deploy(api, "p.bpmn", STRAIGHT)
    query = "since=2024-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"
    body = api.client.get(f"{BASE}/p?{query}", **api.as_("audit")).json()
    assert body["bucket"] == "P1D" and len(body["throughput"]) == 731


def test_bad_parameters_are_refused_naming_them(api: Api) -> None:
    deploy(api, "p.bpmn", STRAIGHT)
    audit = api.as_("audit")
    for query, word in (
        ("versions=one", "versions"),
        ("versions=0", "versions"),
        ("since=yesterday", "since"),
        ("until=2026-01-01T00:00:00", "until"),
        ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
        ("bucket=PT30M", "bucket"),
        ("bucket=P1M", "bucket"),
        ("bucket=soon", "bucket"),
    ):
        assert_problem(api.client.get(f"{BASE}/p?{query}", **audit), 400, word)
    assert_problem(api.client.get(f"{BASE}/p/compare?a=x&b=2", **audit), 400, "a")
    assert_problem(api.client.get(f"{BASE}/p/compare?a=1", **audit), 400)
    assert_problem(api.client.get(f"{BASE}/nope", **audit), 404, "nope")
    assert_problem(api.client.get(f"{BASE}/p?versions=7", **audit), 404, "7")
    assert_problem(api.client.get(f"{BASE}/p/compare?a=1&b=9", **audit), 404, "9")


def test_reading_a_report_needs_a_reading_role(api: Api) -> None:
    deploy(api, "p.bpmn", STRAIGHT)
    assert_problem(api.client.get(f"{BASE}/p"), 401)
    assert_problem(api.client.get(f"{BASE}/p", **api.as_("worker")), 403)
    assert api.client.get(f"{BASE}/p/compare?a=1&b=1", **api.as_("op")).status_code == 200
