"""``legato retention``: old ended instances go (archived first), the rest stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legato.cli.app import app
from legato.runtime.clock import VirtualClock
from legato.runtime.engine import Engine

MODEL = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
  targetNamespace="t">
  <bpmn:process id="quick" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
  <bpmn:process id="waiting" isExecutable="true">
    <bpmn:startEvent id="s2"/><bpmn:sequenceFlow id="f2" sourceRef="s2" targetRef="review"/>
    <bpmn:userTask id="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="e2"/><bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database with three instances that ended 40 days ago, two that ended yesterday and
    one still waiting (started 40 days ago)."""
    url = f"sqlite:///{tmp_path / 'retention.db'}"
    clock = VirtualClock(datetime.now(UTC) - timedelta(days=40))
    with Engine(url, clock=clock) as engine:
        engine.deploy(MODEL)
        old = [engine.start("quick", {"n": n}).key for n in range(3)]
        engine.start("waiting")
        clock.advance(timedelta(days=39))
        for n in range(2):
            engine.start("quick", {"n": n})
    assert old == sorted(old)
    return url


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def statuses(db: str) -> list[tuple[str, str]]:
    rows = json.loads(invoke("instances", "--db", db, "--json"))
    return sorted((row["process_id"], row["status"]) for row in rows)


def test_retention_deletes_old_ended_instances_and_archives_them(db: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive.jsonl"

    output = invoke(
        "retention", "--older-than", "30d", "--archive", str(archive), "--batch", "2",
        "--db", db, "--json",
    )  # fmt: skip

    assert json.loads(output) == {"deleted": 3, "archived": 3, "batches": 2, "busy": False}
    assert statuses(db) == [("quick", "completed"), ("quick", "completed"), ("waiting", "active")]
    lines = [json.loads(line) for line in archive.read_text(encoding="utf-8").splitlines()]
    assert [line["instance"]["process_id"] for line in lines] == ["quick"] * 3
    found = []
    for line in lines:
        record = line["instance"]
        found.append(record["state"]["variables"][str(record["instance_key"])]["n"])
        events = [event["event_type"] for event in line["history"]]
        assert events[0] == "InstanceCreated" and events[-1] == "InstanceCompleted", events
        assert [event["position"] for event in line["history"]] == list(range(1, len(events) + 1))
    assert sorted(found) == [0, 1, 2]


def test_retention_with_a_longer_age_keeps_everything(db: str) -> None:
    output = invoke("retention", "--older-than", "6w", "--db", db)

    assert "deleted 0 instances in 0 batches" in output
    assert len(statuses(db)) == 6


def test_retention_refuses_an_age_it_cannot_read(db: str) -> None:
    result = CliRunner().invoke(app, ["retention", "--older-than", "a month", "--db", db])

    assert result.exit_code == 2
    assert "not an age" in result.output
