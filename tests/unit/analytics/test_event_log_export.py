"""The event log export (XES and CSV) of a varied set of instances: valid against the XES
schema, and read back event by event against ``engine.history``."""

from __future__ import annotations

import gzip
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from bpmn_helpers import chain, process
from eventlog_helpers import (
    BUSINESS_KEY,
    ORDER,
    STEP,
    Varied,
    expected_events,
    millis,
    model_names,
    read_csv,
    read_xes,
    run_varied,
    xes_schema,
)
from legato.analytics import event_log, export, export_csv, export_xes, selection
from legato.analytics.eventlog import LogCase, LogEvent, LogItem, read_event_log
from legato.errors import InvalidCommandError, NotFoundError, StoreError
from legato.testing import TestEngine

NAMES = model_names(ORDER)


@pytest.fixture
def varied() -> Varied:
    return run_varied(TestEngine())


def _xes(varied: Varied, **choice: object) -> bytes:
    buffer = io.BytesIO()
    export_xes(varied.engine, buffer, **choice)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_the_log_is_valid_against_the_standard_schema(varied: Varied) -> None:
    data = _xes(varied)
    schema = xes_schema()
    document = etree.fromstring(data)
    assert schema.validate(document), schema.error_log
    assert document.get("xes.version") == "2.0"


def test_the_log_declares_its_extensions_globals_and_classifiers(varied: Varied) -> None:
    log = read_xes(_xes(varied, process_id="order"))
    assert log.extensions == {
        "concept": "http://www.xes-standard.org/concept.xesext",
        "lifecycle": "http://www.xes-standard.org/lifecycle.xesext",
        "time": "http://www.xes-standard.org/time.xesext",
        "org": "http://www.xes-standard.org/org.xesext",
        "legato": "https://legato.dev/xes/legato.xesext",
    }
    assert log.classifiers["Activity"] == "concept:name"
    assert log.classifiers["ActivityLifecycle"] == "concept:name lifecycle:transition"
    assert log.attributes == {"concept:name": "order", "lifecycle:model": "standard"}
    # Every trace and event carries the attributes the globals promise.
    for trace in log.traces:
        assert set(log.globals["trace"]) <= set(trace.attributes)
        for event in trace.events:
            assert set(log.globals["event"]) <= set(event)


def test_every_trace_and_event_matches_the_history(varied: Varied) -> None:
    engine = varied.engine
    log = read_xes(_xes(varied))
    everyone = [*varied.completed, varied.terminated, varied.active, *varied.children]
    assert [trace.attributes["concept:name"] for trace in log.traces] == [
        str(key) for key in sorted(everyone)
    ]
    for trace in log.traces:
        key = int(trace.attributes["concept:name"])
        info = engine.instance(key)
        stored_status = "active" if info.status == "suspended" else info.status
        assert trace.attributes["legato:processId"] == info.process_id
        assert trace.attributes["legato:processVersion"] == info.version
        assert trace.attributes["legato:status"] == stored_status
        assert trace.attributes["legato:startedAt"] == millis(info.started_at)
        assert trace.attributes.get("legato:endedAt") == (
            None if info.ended_at is None else millis(info.ended_at)
        )
        assert trace.attributes.get("legato:businessKey") == info.business_key
        parent = info.parent_instance_key
        assert trace.attributes.get("legato:parentInstanceKey") == (
            None if parent is None else str(parent)
        )
        expected = expected_events(engine, key, NAMES)
        assert len(trace.events) == len(expected)
        for event, wanted in zip(trace.events, expected, strict=True):
            assert event["concept:name"] == wanted.activity
            assert event["concept:instance"] == str(wanted.element_instance_key)
            assert event["lifecycle:transition"] == wanted.transition
            assert event["time:timestamp"] == millis(wanted.at)
            assert event.get("org:resource") == wanted.resource
            assert event["legato:elementId"] == wanted.element_id
            assert event["legato:elementType"] == wanted.element_type
            assert event["legato:position"] == wanted.position


def _trace(varied: Varied, key: int) -> list[tuple[str, str, str | None]]:
    log = read_xes(_xes(varied, instance_keys=[key]))
    [trace] = log.traces
    return [
        (e["legato:elementId"], e["lifecycle:transition"], e.get("org:resource"))
        for e in trace.events
    ]


def test_parallel_branches_user_tasks_sub_processes_and_multi_instances(varied: Varied) -> None:
    events = _trace(varied, varied.completed[0])
    # The branches both start before either ends; the join starts once, after both.
    assert events[4:6] == [("stock", "start", None), ("approve", "start", None)]
    assert ("approve", "complete", "ann") in events
    assert events.index(("join", "start", None)) > events.index(("approve", "complete", "ann"))
    # The sub-process opens around its own elements, the call activity among them.
    inner = [e for e, _, _ in events[events.index(("ship", "start", None)) :]]
    assert inner[:8] == ["ship", "ss", "ss", "pack", "pack", "deliver", "deliver", "se"]
    # Two inner instances of the multi-instance task, no body.
    assert [t for e, t, _ in events if e == "notify"] == ["start", "start", "complete", "complete"]
    assert events[-2:] == [("e", "start", None), ("e", "complete", None)]
    assert ("approve", "complete", "bob") in _trace(varied, varied.completed[1])


def test_a_cancelled_instance_aborts_what_was_running(varied: Varied) -> None:
    events = _trace(varied, varied.terminated)
    assert ("approve", "ate_abort", None) in events
    assert not any(t == "complete" for e, t, _ in events if e == "approve")
    log = read_xes(_xes(varied, instance_keys=[varied.terminated]))
    assert log.traces[0].attributes["legato:status"] == "terminated"


def test_called_instances_are_cases_of_their_own(varied: Varied) -> None:
    log = read_xes(_xes(varied, process_id="delivery"))
    assert [t.attributes["legato:parentInstanceKey"] for t in log.traces] == [
        str(key) for key in varied.completed
    ]
    for trace in log.traces:
        names = [(e["concept:name"], e["lifecycle:transition"]) for e in trace.events]
        assert ("Sign for parcel", "complete") in names
        assert [e.get("org:resource") for e in trace.events if e.get("org:resource")] == ["carl"]


def test_names_and_text_are_escaped_and_read_back_unchanged(varied: Varied) -> None:
    log = read_xes(_xes(varied, instance_keys=[varied.completed[0]]))
    [trace] = log.traces
    assert trace.attributes["legato:businessKey"] == BUSINESS_KEY
    assert 'Check & reserve "stock"' in {e["concept:name"] for e in trace.events}


def test_the_selection_filters_the_cases(varied: Varied) -> None:
    def cases(**choice: object) -> list[int]:
        log = read_xes(_xes(varied, **choice))
        return [int(t.attributes["concept:name"]) for t in log.traces]

    orders = sorted([*varied.completed, varied.terminated, varied.active])
    assert cases(process_id="order") == orders
    assert cases(process_id="order", versions=[1]) == orders
    assert cases(statuses=["terminated"]) == [varied.terminated]
    assert cases(process_id="order", statuses=["active", "completed"]) == sorted(
        [*varied.completed, varied.active]
    )
    assert cases(instance_keys=[varied.active, varied.completed[1]]) == sorted(
        [varied.active, varied.completed[1]]
    )
    first = varied.engine.instance(varied.completed[0]).started_at
    terminated = varied.engine.instance(varied.terminated)
    assert terminated.ended_at is not None
    # Started at or after the second order, before the last: the second and the cancelled.
    second = varied.engine.instance(varied.completed[1]).started_at
    assert cases(process_id="order", since=second, until=second + 6 * STEP) == [
        varied.completed[1],
        varied.terminated,
    ]
    assert cases(process_id="order", until=first + timedelta(microseconds=1)) == [
        varied.completed[0]
    ]
    # Ended in a window: the running instance is never in it.
    assert cases(
        process_id="order",
        window="ended",
        since=terminated.ended_at,
        until=terminated.ended_at + timedelta(days=1),
    ) == [varied.terminated]


def test_activities_only_and_ids_as_activity_names(varied: Varied) -> None:
    key = varied.completed[0]
    log = read_xes(_xes(varied, instance_keys=[key], activities_only=True, activity="id"))
    [trace] = log.traces
    expected = expected_events(varied.engine, key, {}, activities_only=True)
    assert [(e["concept:name"], e["lifecycle:transition"]) for e in trace.events] == [
        (w.element_id, w.transition) for w in expected
    ]
    assert {e["legato:elementType"] for e in trace.events} == {
        "serviceTask",
        "userTask",
        "subProcess",
        "task",
        "callActivity",
    }


def test_the_csv_log_matches_the_history(varied: Varied) -> None:
    buffer = io.BytesIO()
    summary = export_csv(varied.engine, buffer)
    data = buffer.getvalue()
    assert data.startswith(b"case_id,activity,lifecycle,timestamp,resource,")
    assert b"\r\n" in data  # RFC 4180 line ends
    rows = read_csv(data)
    assert summary.events == len(rows)
    engine = varied.engine
    by_case: dict[int, list[dict[str, str]]] = {}
    for row in rows:
        by_case.setdefault(int(row["case_id"]), []).append(row)
    assert summary.cases == len(by_case)
    for key, case_rows in by_case.items():
        info = engine.instance(key)
        expected = expected_events(engine, key, NAMES)
        assert len(case_rows) == len(expected)
        for row, wanted in zip(case_rows, expected, strict=True):
            assert row["activity"] == wanted.activity
            assert row["lifecycle"] == wanted.transition
            assert datetime.fromisoformat(row["timestamp"]) == wanted.at
            assert row["resource"] == (wanted.resource or "")
            assert row["element_id"] == wanted.element_id
            assert row["element_type"] == wanted.element_type
            assert int(row["element_instance_key"]) == wanted.element_instance_key
            assert int(row["position"]) == wanted.position
            assert row["process_id"] == info.process_id
            assert int(row["process_version"]) == info.version
            assert row["business_key"] == (info.business_key or "")
    assert by_case[varied.completed[0]][0]["business_key"] == BUSINESS_KEY


def test_the_python_api_yields_cases_then_their_events(varied: Varied) -> None:
    items = list(event_log(varied.engine, selection(instance_keys=[varied.active])))
    assert isinstance(items[0], LogCase)
    assert items[0].instance.instance_key == varied.active
    assert all(isinstance(item, LogEvent) for item in items[1:])
    # Waiting for approval: the user task started and has not ended.
    assert ("approve", "start") in [(i.element_id, i.transition) for i in items[1:]]  # type: ignore[union-attr]
    assert all(i.element_id != "approve" or i.transition == "start" for i in items[1:])  # type: ignore[union-attr]


def test_a_store_is_a_source_too(varied: Varied) -> None:
    buffer = io.BytesIO()
    export_xes(varied.engine.store, buffer, process_id="delivery")
    assert len(read_xes(buffer.getvalue()).traces) == 2


def test_files_are_written_whole_and_gz_compresses(varied: Varied, tmp_path: Path) -> None:
    plain = tmp_path / "log.xes"
    packed = tmp_path / "log.xes.gz"
    summary = export_xes(varied.engine, plain)
    assert export_xes(varied.engine, packed) == summary
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.xes", "log.xes.gz"]
    assert summary.cases == 6


@pytest.mark.parametrize(
    ("choice", "error", "message"),
    [
        ({"process_id": "nope"}, NotFoundError, "no process 'nope' is deployed"),
        (
            {"process_id": "order", "versions": [1, 7]},
            NotFoundError,
            "process 'order' has no version 7 (deployed: 1)",
        ),
        ({"versions": [1]}, InvalidCommandError, "versions select versions of a process"),
        ({"instance_keys": [1, 987654]}, NotFoundError, "no instance with key 1, 987654"),
        ({"statuses": ["done"]}, InvalidCommandError, "unknown status 'done'"),
        ({"window": "during"}, InvalidCommandError, "unknown window 'during'"),
        ({"activity": "label"}, InvalidCommandError, "unknown activity label 'label'"),
        ({"since": datetime(2025, 1, 1)}, InvalidCommandError, "has no time zone"),
        (
            {"since": datetime(2025, 2, 1, tzinfo=UTC), "until": datetime(2025, 1, 1, tzinfo=UTC)},
            InvalidCommandError,
            "the time window is empty",
        ),
    ],
)
def test_bad_selections_are_refused_before_anything_is_written(
    varied: Varied, tmp_path: Path, choice: dict[str, object], error: type, message: str
) -> None:
    target = tmp_path / "log.xes"
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        export_xes(varied.engine, target, **choice)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_failure_midway_leaves_no_half_written_file(
    varied: Varied, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: object, chosen: object) -> Iterator[LogItem]:
        yield from itertools.islice(read_event_log(varied.engine, selection()), 10)
        raise StoreError("database unavailable: connection lost")

    monkeypatch.setattr(export, "read_event_log", broken)
    with pytest.raises(StoreError, match="connection lost"):
        export_xes(varied.engine, tmp_path / "log.xes")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupting_boundary_event_aborts_the_task_it_interrupts() -> None:
    engine = TestEngine()
    engine.deploy(
        process(
            '<bpmn:startEvent id="s"/><bpmn:userTask id="approve" name="Approve"/>'
            '<bpmn:boundaryEvent id="late" name="Too late" attachedToRef="approve">'
            "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
            "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
            '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
            + chain("s", "approve", "e")
            + chain("late", "e2", prefix="b")
        )
    )
    instance = engine.start("p")
    engine.clock.advance(timedelta(hours=1))
    buffer = io.BytesIO()
    export_xes(engine, buffer, activities_only=True)
    [trace] = read_xes(buffer.getvalue()).traces
    assert [(e["concept:name"], e["lifecycle:transition"]) for e in trace.events] == [
        ("Approve", "start"),
        ("Approve", "ate_abort"),
    ]
    assert trace.events[1]["time:timestamp"] == millis(
        engine.instance(instance.key).started_at + timedelta(hours=1)
    )
