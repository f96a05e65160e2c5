"""``GET /legato/v1/export/xes`` and ``/export/csv``: the event log streamed over HTTP, the
same as the Python export; bad selections answered before the log starts."""

from __future__ import annotations

import io

from api_helpers import assert_problem
from api_support import Api
from lxml import etree

from eventlog_helpers import read_csv, read_xes, xes_schema
from legato.analytics import export_csv, export_xes

REVIEW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="t">
  <bpmn:process id="review" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="check" name="Check the claim"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _reviews(api: Api) -> list[int]:
    """Three reviews: one checked by ann, one cancelled, one waiting."""
    engine = api.engine
    engine.deploy(REVIEW)
    keys = [engine.start("review", business_key=f"claim-{n}").key for n in range(3)]
    [task] = [t for t in engine.user_tasks() if t.instance_key == keys[0]]
    engine.complete_user_task(task.user_task_key, user="ann")
    engine.cancel(keys[1])
    return keys


def test_the_xes_log_streams_as_the_python_export_writes_it(api: Api) -> None:
    keys = _reviews(api)
    answer = api.client.get(
        "/legato/v1/export/xes",
        params={"processId": "review", "status": ["completed", "terminated"]},
        **api.as_("audit"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    assert 'filename="event-log.xes"' in answer.headers["content-disposition"]
    expected = io.BytesIO()
    export_xes(api.engine, expected, process_id="review", statuses=["completed", "terminated"])
    assert answer.content == expected.getvalue()
    assert xes_schema().validate(etree.fromstring(answer.content))
    traces = read_xes(answer.content).traces
    assert [int(t.attributes["concept:name"]) for t in traces] == keys[:2]
    resources = [e.get("org:resource") for e in traces[0].events]
    assert resources == [None, None, None, "ann", None, None]


def test_the_csv_log_with_instance_keys(api: Api) -> None:
    keys = _reviews(api)
    answer = api.client.get(
        "/legato/v1/export/csv",
        params={"instanceKey": [str(keys[2])], "activitiesOnly": "true", "activity": "id"},
        **api.as_("audit"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    expected = io.BytesIO()
    export_csv(api.engine, expected, instance_keys=[keys[2]], activities_only=True, activity="id")
    assert answer.content == expected.getvalue()
    rows = read_csv(answer.content)
    assert [(r["activity"], r["lifecycle"]) for r in rows] == [("check", "start")]


def test_bad_selections_are_answered_before_the_log(api: Api) -> None:
    _reviews(api)
    for params, status, words in (
        ({"processId": "nope"}, 404, ["no process 'nope' is deployed"]),
        ({"processId": "review", "version": "2"}, 404, ["has no version 2"]),
        ({"instanceKey": "999999"}, 404, ["no instance with key 999999"]),
        ({"instanceKey": "abc"}, 400, ["instanceKey"]),
        ({"status": "done"}, 400, ["unknown status 'done'"]),
        ({"since": "yesterday"}, 400, ["since"]),
        ({"until": "2026-01-01T00:00:00"}, 400, ["until", "offset"]),
        (
            {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            400,
            ["the time window is empty"],
        ),
        ({"window": "during"}, 400, ["unknown window 'during'"]),
    ):
        answer = api.client.get("/legato/v1/export/xes", params=params, **api.as_("audit"))
        assert_problem(answer, status, *words)


def test_the_log_needs_the_right_to_read_instances(api: Api) -> None:
    _reviews(api)
    answer = api.client.get("/legato/v1/export/xes", **api.as_("worker"))
    assert_problem(answer, 403)
    assert api.client.get("/legato/v1/export/pdf", **api.as_("audit")).status_code in (400, 404)
