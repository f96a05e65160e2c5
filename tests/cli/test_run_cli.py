"""``legato run`` says how the instance ended: its exit code and one line on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from legato.cli.app import app

HEADER = (
    '<?xml version="1.0"?>\n<bpmn:definitions '
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">'
)


def _model(body: str, process_id: str = "p") -> str:
    return (
        f'{HEADER}<bpmn:process id="{process_id}" isExecutable="true">'
        f'<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>'
        f'{body}<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>'
        "</bpmn:process></bpmn:definitions>"
    )


def _timer(duration: str) -> str:
    return _model(
        '<bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition>'
        f'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )


SERVICE = _model(
    '<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="charge-card"/>'
    "</bpmn:extensionElements></bpmn:serviceTask>"
)

CANCELLING = """
import os

import legato


@legato.handler("charge-card")
def charge(job):
    with legato.Engine(os.environ["LEGATO_DB"]) as other:
        other.cancel(job.instance_key, "customer withdrew")
"""

FAILING = """
import legato


@legato.handler("charge-card")
def charge(job):
    raise legato.NonRetryableError("card declined")
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LEGATO_DB", f"sqlite:///{tmp_path / 'run.db'}")
    monkeypatch.setenv("COLUMNS", "500")  # usage errors are boxed at the terminal's width
    return CliRunner()


def _run(cli: CliRunner, tmp_path: Path, model: str, *args: str) -> Result:
    path = tmp_path / "model.bpmn"
    path.write_text(model)
    return cli.invoke(app, ["run", str(path), *args])


def _handlers(tmp_path: Path, source: str) -> str:
    path = tmp_path / "handlers.py"
    path.write_text(source)
    return str(path)


def test_run_waits_for_the_instances_timer_and_needs_no_handlers_without_jobs(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = _run(cli, tmp_path, _timer("PT0.05S"))
    assert result.exit_code == 0, result.output
    assert "status: completed" in result.stdout
    assert result.stderr == ""


def test_run_gives_up_when_its_timeout_runs_out_before_the_timer(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = _run(cli, tmp_path, _timer("PT1H"), "--timeout", "0.05")
    assert result.exit_code == 4, result.output
    assert "status: active" in result.stdout and "waiting at: t" in result.stdout
    assert "timed out after 0.05 s" in result.stderr
    assert "still waits for a timer" in result.stderr


def test_run_names_the_job_types_that_no_handler_runs(cli: CliRunner, tmp_path: Path) -> None:
    result = _run(cli, tmp_path, SERVICE)
    assert result.exit_code == 3, result.output
    assert "waits for jobs that no handler here runs: type 'charge-card' (at 't')" in (
        result.stderr
    )


def test_run_fails_when_the_instance_stops_at_an_incident(cli: CliRunner, tmp_path: Path) -> None:
    result = _run(cli, tmp_path, SERVICE, "--handlers", _handlers(tmp_path, FAILING))
    assert result.exit_code == 1, result.output
    assert "stopped at an incident at 't': " in result.stderr
    assert "card declined" in result.stderr


def test_run_fails_when_the_instance_is_cancelled(cli: CliRunner, tmp_path: Path) -> None:
    result = _run(cli, tmp_path, SERVICE, "--handlers", _handlers(tmp_path, CANCELLING))
    assert result.exit_code == 1, result.output
    assert "status: terminated" in result.stdout
    assert "was cancelled (customer withdrew)" in result.stderr


def test_run_of_many_instances_fails_when_they_stop_at_incidents(
    cli: CliRunner, tmp_path: Path
) -> None:
    handlers = _handlers(tmp_path, FAILING)
    result = _run(cli, tmp_path, SERVICE, "--handlers", handlers, "--count", "5")
    assert result.exit_code == 1, result.output
    assert "0 of 5 instances ended" in result.stdout
    assert result.stderr.count("stopped at an incident") == 3
    assert "and 2 more instances" in result.stderr


def test_run_refuses_a_model_without_a_process(cli: CliRunner, tmp_path: Path) -> None:
    decisions = tmp_path / "only.dmn"
    decisions.write_text(
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="x" name="x" '
        'namespace="t"><decision id="d" name="d"><literalExpression><text>1</text>'
        "</literalExpression></decision></definitions>"
    )
    result = cli.invoke(app, ["run", str(decisions)])
    assert result.exit_code == 2
    assert "has no executable process" in result.output
