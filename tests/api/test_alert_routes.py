"""Alerts, expected durations and webhooks over HTTP: who may read and manage them, what
they show, and bad input as problem details naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime

from api_helpers import assert_problem
from api_support import Api

from legato.store.records import AlertRecord

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def _raise(api: Api, dedupe: str, kind: str = "instance_overdue") -> int:
    with api.engine.store.transaction() as tx:
        (key,) = tx.reserve_keys(1)
        tx.insert_alert(
            AlertRecord(
                alert_key=key,
                dedupe_key=dedupe,
                kind=kind,
                raised_at=T0,
                process_id="order",
                version=1,
                instance_key=42,
                element_id="review" if kind == "element_overdue" else None,
                details={"expectedSeconds": 3600.0},
            )
        )
    return key


def test_alerts_are_listed_filtered_and_resolved(api: Api) -> None:
    first = _raise(api, "instance_overdue:42")
    second = _raise(api, "element_overdue:43", "element_overdue")

    listed = api.client.get("/legato/v1/alerts", **api.as_("audit")).json()["items"]
    assert {a["alertKey"] for a in listed} == {str(first), str(second)}
    only = api.client.get(
        "/legato/v1/alerts", params={"kind": "element_overdue"}, **api.as_("audit")
    ).json()["items"]
    assert [(a["alertKey"], a["elementId"], a["instanceKey"]) for a in only] == [
        (str(second), "review", "42")
    ]

    resolved = api.client.post(f"/legato/v1/alerts/{first}/resolution", **api.as_("op"))
    assert resolved.status_code == 200 and resolved.json()["resolvedAt"] is not None
    still_open = api.client.get("/legato/v1/alerts", **api.as_("audit")).json()["items"]
    assert [a["alertKey"] for a in still_open] == [str(second)]
    everything = api.client.get("/legato/v1/alerts", params={"state": "all"}, **api.as_("audit"))
    assert len(everything.json()["items"]) == 2
    one = api.client.get(f"/legato/v1/alerts/{first}/deliveries", **api.as_("audit"))
    assert one.json() == []


def test_bad_parameters_are_problems_naming_them(api: Api) -> None:
    get = api.client.get
    assert_problem(
        get("/legato/v1/alerts", params={"kind": "late"}, **api.as_("audit")), 400, "kind"
    )
    assert_problem(
        get("/legato/v1/alerts", params={"state": "x"}, **api.as_("audit")), 400, "state"
    )
    assert_problem(
        get("/legato/v1/alerts", params={"processInstanceKey": "x"}, **api.as_("audit")),
        400,
        "processInstanceKey",
    )
    assert_problem(get("/legato/v1/alerts/abc", **api.as_("audit")), 400, "alertKey")
    assert_problem(get("/legato/v1/alerts/999", **api.as_("audit")), 404, "999")
    bad_duration = {"processId": "order", "expectedDuration": "soon"}
    answer = api.client.put("/legato/v1/service-levels", json=bad_duration, **api.as_("admin"))
    assert_problem(answer, 400, "expectedDuration")
    bad_url = {"url": "ftp://x"}
    assert_problem(
        api.client.post("/legato/v1/webhooks", json=bad_url, **api.as_("admin")), 400, "url"
    )


def test_only_admins_manage_webhooks_and_expected_durations(api: Api) -> None:
    hook = {"url": "https://ops.example.com/hook", "kinds": ["instance_overdue"]}
    assert api.client.post("/legato/v1/webhooks", json=hook, **api.as_("op")).status_code == 403
    assert api.client.post("/legato/v1/alerts/1/resolution", **api.as_("audit")).status_code == 403

    made = api.client.post("/legato/v1/webhooks", json=hook, **api.as_("admin"))
    assert made.status_code == 201 and made.json()["secret"]
    listed = api.client.get("/legato/v1/webhooks", **api.as_("admin")).json()
    assert [(w["url"], w["secret"]) for w in listed] == [(hook["url"], None)]
    key = made.json()["webhookKey"]
    assert api.client.delete(f"/legato/v1/webhooks/{key}", **api.as_("admin")).status_code == 204
    assert api.client.delete(f"/legato/v1/webhooks/{key}", **api.as_("admin")).status_code == 404

    level = {"processId": "order", "elementId": "review", "expectedDuration": "PT30M"}
    assert (
        api.client.put("/legato/v1/service-levels", json=level, **api.as_("op")).status_code == 403
    )
    assert (
        api.client.put("/legato/v1/service-levels", json=level, **api.as_("admin")).status_code
        == 204
    )
    shown = api.client.get("/legato/v1/service-levels", **api.as_("audit")).json()
    assert shown == [
        {
            "processId": "order",
            "elementId": "review",
            "version": None,
            "expectedDuration": "PT30M",
            "threshold": None,
        }
    ]
    params = {"processId": "order", "elementId": "review"}
    removed = api.client.delete("/legato/v1/service-levels", params=params, **api.as_("admin"))
    assert removed.status_code == 204
