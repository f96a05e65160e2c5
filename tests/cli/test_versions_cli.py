"""``legato versions`` and ``legato rollout`` end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legato.cli.app import app

MODEL = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:extensionElements><zeebe:versionTag value="{tag}"/></bpmn:extensionElements>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="{job}"/>
    </bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LEGATO_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    for number, (tag, job) in enumerate((("1.0", "charge"), ("2.0", "charge-card")), 1):
        model = tmp_path / f"order-{number}.bpmn"
        model.write_text(MODEL.format(tag=tag, job=job))
        deployed = runner.invoke(app, ["deploy", str(model)])
        assert deployed.exit_code == 0, deployed.output
    return runner


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_versions_are_listed_compared_suspended_and_tagged(cli: CliRunner) -> None:
    listed = _ok(cli, "versions", "list", "order")
    assert "v1" in listed and "1.0" in listed and "2.0" in listed
    assert "rollout: none (latest version)" in listed
    diff = _ok(cli, "versions", "diff", "order", "1", "2")
    assert "changed serviceTask 't':" in diff
    assert "job type: 'charge' -> 'charge-card'" in diff
    _ok(cli, "versions", "suspend", "order", "1")
    refused = cli.invoke(app, ["start", "order", "--version", "1"])
    assert refused.exit_code != 0
    data = json.loads(_ok(cli, "versions", "list", "order", "--json"))
    assert [v["suspended"] for v in data["versions"]] == [True, False]
    _ok(cli, "versions", "resume", "order", "1")
    started = _ok(cli, "start", "order", "--version-tag", "1.0")
    assert "v1" in started and "explicit version tag '1.0'" in started
    _ok(cli, "versions", "tag", "order", "1", "legacy")
    assert "legacy" in _ok(cli, "versions", "list", "order")
    unknown = cli.invoke(app, ["versions", "diff", "order", "1", "9"])
    assert unknown.exit_code == 1
    assert "error: process 'order' has no version 9" in unknown.output


def test_the_rollout_is_set_shown_and_cleared(cli: CliRunner) -> None:
    shown = _ok(cli, "rollout", "set", "order", "--split", "1=100", "--split", "2=0")
    assert "order: v1 100%, v2 0% (revision 1" in shown
    assert "rollout: 100% split" in _ok(cli, "start", "order")
    _ok(cli, "rollout", "set", "order", "--rule", 'if region = "EU" then 2 else 1')
    assert " v2" in _ok(cli, "start", "order", "--var", "region=EU")
    rule = json.loads(_ok(cli, "rollout", "show", "order", "--json"))
    assert (rule["rule"], rule["revision"]) == ('if region = "EU" then 2 else 1', 2)
    bad = cli.invoke(app, ["rollout", "set", "order", "--split", "1=50"])
    assert bad.exit_code == 1 and "adds up to 50%" in bad.output
    wrong = cli.invoke(app, ["rollout", "set", "order", "--rule", "if then"])
    assert wrong.exit_code == 1 and "not valid FEEL at line 1, column" in wrong.output
    assert "rollout rule removed" in _ok(cli, "rollout", "clear", "order")
    assert "no rollout rule" in _ok(cli, "rollout", "show", "order")
    assert "(latest)" in _ok(cli, "start", "order")


def test_instances_are_listed_per_version(cli: CliRunner) -> None:
    _ok(cli, "start", "order", "--version", "1")
    _ok(cli, "start", "order")
    listed = json.loads(_ok(cli, "instances", "--process", "order", "--version", "1", "--json"))
    assert [i["version"] for i in listed] == [1]
    assert len(json.loads(_ok(cli, "instances", "--process", "order", "--json"))) == 2
    alone = cli.invoke(app, ["instances", "--version", "1"])
    assert alone.exit_code != 0 and "--version needs --process" in alone.output
