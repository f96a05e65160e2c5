"""``legato deploy`` and ``run`` in both validation profiles, Camunda 7 job types, and
``legato decide`` on Camunda-style DMN files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legato.cli.app import app

CAMUNDA = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="urn:t">
  <process id="pay" isExecutable="true">
    <startEvent id="s"/>
    <serviceTask id="charge" camunda:delegateExpression="${paymentDelegate}"/>
    <serviceTask id="book" camunda:class="org.acme.BookingDelegate"/>
    <serviceTask id="notify" camunda:expression="${mailer.send(execution)}"/>
    <exclusiveGateway id="g" default="late"/>
    <endEvent id="e"/>
    <intermediateCatchEvent id="wait"><timerEventDefinition>
      <timeDuration>PT60H</timeDuration></timerEventDefinition></intermediateCatchEvent>
    <sequenceFlow id="f1" sourceRef="s" targetRef="charge"/>
    <sequenceFlow id="f2" sourceRef="charge" targetRef="book"/>
    <sequenceFlow id="f3" sourceRef="book" targetRef="notify"/>
    <sequenceFlow id="f4" sourceRef="notify" targetRef="g"/>
    <sequenceFlow id="now" sourceRef="g" targetRef="e">
      <conditionExpression>${paid}</conditionExpression></sequenceFlow>
    <sequenceFlow id="late" sourceRef="g" targetRef="wait"/>
    <sequenceFlow id="f5" sourceRef="wait" targetRef="e"/>
  </process>
</definitions>"""

HANDLERS = """
import legato

@legato.handler("paymentDelegate")
def charge(job):
    return {"paid": True}

@legato.handler("org.acme.BookingDelegate")
def book(job):
    return None

@legato.handler("mailer.send")
def send(job):
    return None
"""

PLOT = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="plot"
  name="Plot destination" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="plotDestination" name="Plot destination">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="fuel" label="Fuel level">
        <inputExpression id="fuelExpr" typeRef="number"><text>fuelLevel</text></inputExpression>
      </input>
      <output id="destination" name="destination" typeRef="string"/>
      <rule id="near"><inputEntry id="i1"><text>&lt; 50</text></inputEntry>
        <outputEntry id="o1"><text>"Mars"</text></outputEntry></rule>
      <rule id="far"><inputEntry id="i2"><text>&gt;= 50</text></inputEntry>
        <outputEntry id="o2"><text>"Jupiter"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LEGATO_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COLUMNS", "300")
    return CliRunner()


@pytest.fixture
def camunda_model(tmp_path: Path) -> Path:
    path = tmp_path / "pay.bpmn"
    path.write_text(CAMUNDA)
    return path


def test_deploy_lists_camunda_job_types_and_warnings(cli: CliRunner, camunda_model: Path) -> None:
    result = cli.invoke(app, ["deploy", str(camunda_model)])

    assert result.exit_code == 0, result.output
    assert "paymentDelegate" in result.stdout and "${" not in result.stdout
    assert "org.acme.BookingDelegate" in result.stdout and "mailer.send" in result.stdout
    assert "warning:" in result.stderr and "[EXT012]" in result.stderr
    assert "element 'wait'" in result.stderr and "element 'now'" in result.stderr


def test_deploy_json_carries_job_types_and_warnings(cli: CliRunner, camunda_model: Path) -> None:
    result = cli.invoke(app, ["deploy", str(camunda_model), "--json"])

    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert {(j["element_id"], j["job_type"]) for j in row["job_types"]} == {
        ("charge", "paymentDelegate"),
        ("book", "org.acme.BookingDelegate"),
        ("notify", "mailer.send"),
    }
    assert {(w["rule"], w["element_id"], w["severity"]) for w in row["warnings"]} == {
        ("EXT012", "wait", "warning"),
        ("EXT012", "now", "warning"),
    }


def test_deploy_strict_refuses_naming_the_rule(cli: CliRunner, camunda_model: Path) -> None:
    result = cli.invoke(app, ["deploy", str(camunda_model), "--strict"])

    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "EXT012" in str(result.exception)
    listed = cli.invoke(app, ["deploy", str(camunda_model), "--json"])
    assert json.loads(listed.stdout)[0]["version"] == 1  # the strict attempt stored nothing


def test_run_runs_camunda_handlers_by_bean_and_class_name(
    cli: CliRunner, camunda_model: Path, tmp_path: Path
) -> None:
    handlers = tmp_path / "handlers.py"
    handlers.write_text(HANDLERS)

    result = cli.invoke(app, ["run", str(camunda_model), "--handlers", str(handlers)])
    strict = cli.invoke(app, ["run", str(camunda_model), "--strict"])

    assert result.exit_code == 0, result.output
    assert "status: completed" in result.stdout
    assert "[EXT012]" in result.stderr
    assert strict.exit_code != 0 and "EXT012" in str(strict.exception)


def test_decide_sees_inputs_without_input_data(cli: CliRunner, tmp_path: Path) -> None:
    model = tmp_path / "plot.dmn"
    model.write_text(PLOT)

    result = cli.invoke(
        app, ["decide", str(model), "-d", "plotDestination", "-i", '{"fuelLevel": 70}']
    )

    assert result.exit_code == 0, result.output
    assert "Plot destination = Jupiter" in result.stdout
    assert "far" in result.stdout and result.stderr == ""


def test_decide_with_errors_prints_no_value_and_fails(cli: CliRunner, tmp_path: Path) -> None:
    model = tmp_path / "plot.dmn"
    model.write_text(PLOT)

    result = cli.invoke(app, ["decide", str(model), "-d", "plotDestination", "-i", "{}"])
    as_json = cli.invoke(app, ["decide", str(model), "-d", "plotDestination", "--json"])

    assert result.exit_code == 1
    assert "=" not in result.stdout
    assert "fuelLevel" in result.stderr and "no value" in result.stderr
    assert as_json.exit_code == 1
    decided = json.loads(as_json.stdout)
    assert decided["value"] is None and decided["errors"]


def test_decide_camunda_dinner_decisions(cli: CliRunner) -> None:
    from conftest import corpora_root

    model = next(iter(corpora_root().glob("camunda-bpm-examples/**/dinnerDecisions.dmn")), None)
    if model is None:
        pytest.skip("the camunda-bpm-examples corpus is not available")
    inputs = '{"season": "Winter", "guestCount": 4, "guestsWithChildren": true}'

    result = cli.invoke(app, ["decide", str(model), "-d", "beverages", "-i", inputs, "--json"])

    assert result.exit_code == 0, result.output
    decided = json.loads(result.stdout)
    assert decided["value"] == ["Bordeaux", "Apple Juice", "Water"]
    assert decided["errors"] == []
