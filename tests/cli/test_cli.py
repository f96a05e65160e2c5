"""The command line, end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legato.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "onboarding" / "onboarding.bpmn"
HANDLERS = ROOT / "examples" / "onboarding" / "handlers.py"

FLAKY = """
import legato

@legato.handler("flaky")
def flaky(job):
    if not job.variables.get("fixed"):
        raise legato.NonRetryableError("upstream refused the data")
    return {"done": True}
"""
FLAKY_MODEL = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="flaky" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="flaky"/>
    </bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LEGATO_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONBOARDING_LEDGER", str(tmp_path / "payments.json"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _json(cli: CliRunner, *args: str) -> object:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_run_prints_the_trace_and_final_variables(cli: CliRunner) -> None:
    result = cli.invoke(
        app,
        [
            "run",
            str(MODEL),
            "--handlers",
            str(HANDLERS),
            "--var",
            "score=720",
            "--var",
            "customer=Ada",
        ],
    )
    assert result.exit_code == 0, result.output
    for expected in (
        "credit_check",
        "auto_approve",
        "customer_onboarded",
        "status: completed",
        "attempt failed",
        "chargeId",
    ):
        assert expected in result.output
    [instance] = _json(cli, "instances")  # type: ignore[misc]
    assert instance["status"] == "completed"
    shown = _json(cli, "show", str(instance["key"]))
    assert isinstance(shown, dict)
    assert shown["tokens"] == []
    assert shown["instance"]["variables"]["approved"] is True
    assert shown["history"][-1]["event_type"] == "InstanceCompleted"


def test_user_tasks_can_be_listed_and_completed(cli: CliRunner) -> None:
    result = cli.invoke(app, ["run", str(MODEL), "--handlers", str(HANDLERS), "--var", "score=600"])
    assert "waiting for a person" in result.output
    [task] = _json(cli, "tasks", "--group", "managers")  # type: ignore[misc]
    result = cli.invoke(
        app,
        [
            "complete",
            str(task["user_task_key"]),
            "--var",
            "approved=true",
            "--handlers",
            str(HANDLERS),
        ],
    )
    assert result.exit_code == 0, result.output
    [instance] = _json(cli, "instances")  # type: ignore[misc]
    assert instance["status"] == "completed"


def test_incident_is_listed_then_fixed_and_retried(cli: CliRunner, tmp_path: Path) -> None:
    model = tmp_path / "flaky.bpmn"
    model.write_text(FLAKY_MODEL)
    handlers = tmp_path / "flaky_handlers.py"
    handlers.write_text(FLAKY)
    result = cli.invoke(app, ["run", str(model), "--handlers", str(handlers)])
    assert "incident" in result.output
    assert result.exit_code == 1  # the instance stopped at an incident
    [incident] = _json(cli, "incidents")  # type: ignore[misc]
    assert "upstream refused the data" in incident["message"]
    result = cli.invoke(
        app,
        [
            "retry",
            str(incident["incident_key"]),
            "--var",
            "fixed=true",
            "--handlers",
            str(handlers),
        ],
    )
    assert result.exit_code == 0, result.output
    assert _json(cli, "incidents") == []
    [instance] = _json(cli, "instances")  # type: ignore[misc]
    shown = _json(cli, "show", str(instance["key"]))
    assert isinstance(shown, dict)
    assert shown["instance"]["status"] == "completed"
    assert shown["instance"]["variables"]["done"] is True


def test_bad_input_gives_a_clear_error_and_no_traceback(cli: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.bpmn"
    broken.write_text('<?xml version="1.0"?>\n<definitions>\n<unclosed>\n</definitions>')
    import sys

    from legato.cli.app import main

    argv = sys.argv
    sys.argv = ["legato", "deploy", str(broken)]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = argv
    assert exit_info.value.code == 1
    result = cli.invoke(app, ["start", "nothing-deployed"])
    assert result.exit_code != 0
    result = cli.invoke(app, ["start", "x", "--var", "novalue"])
    assert result.exit_code == 2 and "NAME=VALUE" in result.output


def test_deploy_lists_versions(cli: CliRunner) -> None:
    first = _json(cli, "deploy", str(MODEL))
    again = _json(cli, "deploy", str(MODEL))
    assert first == again
    assert isinstance(first, list) and first[0]["version"] == 1


def test_run_many_instances_with_a_progress_bar(cli: CliRunner) -> None:
    args = ["run", str(MODEL), "--handlers", str(HANDLERS), "--var", "score=720", "--count", "25"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "25 of 25 instances ended" in result.output
    rows = _json(cli, "instances", "--status", "completed")
    assert isinstance(rows, list) and len(rows) == 25


def test_worker_runs_the_jobs_of_started_instances(cli: CliRunner) -> None:
    assert cli.invoke(app, ["deploy", str(MODEL)]).exit_code == 0
    started = cli.invoke(
        app, ["start", "onboarding", "--var", "score=800", "--var", "customer=Ada"]
    )
    assert started.exit_code == 0, started.output
    result = cli.invoke(app, ["worker", "--handlers", str(HANDLERS), "--until-idle"])
    assert result.exit_code == 0, result.output
    assert "jobs run" in result.output
    [instance] = _json(cli, "instances")  # type: ignore[misc]
    assert instance["status"] == "completed"


WAITING_MODEL = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:message id="m" name="paid"><bpmn:extensionElements>
    <zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>
  <bpmn:signal id="sig" name="stop"/>
  <bpmn:process id="waits" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="gw"/>
    <bpmn:eventBasedGateway id="gw"/>
    <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="paid"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="stopped"/>
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="stopped"><bpmn:signalEventDefinition signalRef="sig"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="paid" targetRef="e1"/><bpmn:endEvent id="e1"/>
    <bpmn:sequenceFlow id="f5" sourceRef="stopped" targetRef="e2"/><bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_publish_and_signal(cli: CliRunner, tmp_path: Path) -> None:
    model = tmp_path / "waits.bpmn"
    model.write_text(WAITING_MODEL)
    assert cli.invoke(app, ["deploy", str(model)]).exit_code == 0
    for order in ("A", "B"):
        assert cli.invoke(app, ["start", "waits", "--var", f"orderId={order}"]).exit_code == 0
    published = _json(cli, "publish", "paid", "--key", "A", "--var", "amount=3")
    assert isinstance(published, dict) and len(published["correlated"]) == 1
    result = cli.invoke(app, ["signal", "stop"])
    assert result.exit_code == 0 and "reached 1 waiting element" in result.output
    rows = _json(cli, "instances", "--status", "completed")
    assert isinstance(rows, list) and len(rows) == 2
    result = cli.invoke(app, ["publish", "paid", "--key", "C", "--ttl", "60", "--id", "x"])
    assert "kept for 60 s" in result.output
    result = cli.invoke(app, ["publish", "paid", "--key", "C", "--ttl", "60", "--id", "x"])
    assert "published already" in result.output


def test_decide_and_feel(cli: CliRunner) -> None:
    from conftest import corpora_root

    model = (
        corpora_root()
        / "dmn-tck/TestCases/compliance-level-2/0004-simpletable-U/0004-simpletable-U.dmn"
    )
    if not model.exists():
        pytest.skip("the DMN TCK corpus is not available")
    inputs = '{"Age": 18, "RiskCategory": "Low", "isAffordable": true}'
    decided = _json(cli, "decide", str(model), "--decision", "Approval Status", "--input", inputs)
    assert isinstance(decided, dict)
    assert decided["value"] == "Approved" and decided["matched_rules"][0]["index"] == 1
    assert _json(cli, "feel", "sum([1, 2, 3]) * x", "--context", '{"x": 0.5}') == {
        "value": 3,
        "warnings": [],
    }
    result = cli.invoke(app, ["feel", "1 +"])
    assert result.exit_code == 2


def test_an_instance_is_suspended_and_resumed(cli: CliRunner) -> None:
    assert cli.invoke(app, ["deploy", str(MODEL)]).exit_code == 0
    started = cli.invoke(app, ["start", "onboarding", "--var", "score=720"])
    assert started.exit_code == 0, started.output
    [instance] = _json(cli, "instances")  # type: ignore[misc]
    key = str(instance["key"])
    result = cli.invoke(app, ["suspend", key])
    assert result.exit_code == 0, result.output
    assert f"instance {key} suspended" in result.output
    [held] = _json(cli, "instances", "--status", "suspended")  # type: ignore[misc]
    assert held["key"] == instance["key"] and held["status"] == "suspended"
    again = cli.invoke(app, ["suspend", key])
    assert "is suspended already" in str(again.exception)  # main() prints it as one line
    assert cli.invoke(app, ["resume", key]).exit_code == 0
    [running] = _json(cli, "instances")  # type: ignore[misc]
    assert running["status"] == "active"
