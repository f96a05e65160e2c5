"""``legato modify``: tokens started and cancelled from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bpmn_helpers import chain, process, service
from legato.cli.app import app
from legato.errors import InvalidCommandError

STUCK = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/>'
    + service("ship", "ship")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "review", "ship", "e")
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LEGATO_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    model = tmp_path / "stuck.bpmn"
    model.write_text(STUCK)
    runner = CliRunner()
    assert runner.invoke(app, ["deploy", str(model)]).exit_code == 0
    return runner


def _started(cli: CliRunner) -> str:
    started = cli.invoke(app, ["start", "p", "--json"])
    assert started.exit_code == 0, started.output
    return str(json.loads(started.output)["key"])


def _shown(cli: CliRunner, key: str) -> dict[str, Any]:
    result = cli.invoke(app, ["show", key, "--json"])
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.output)
    return shown


def _modified_by(cli: CliRunner, key: str) -> str:
    history = _shown(cli, key)["history"]
    [modified] = [e for e in history if e["event_type"] == "InstanceModified"]
    by: str = modified["details"]["by"]
    return by


def test_a_token_is_moved_with_variables_and_the_operator_recorded(cli: CliRunner) -> None:
    key = _started(cli)
    result = cli.invoke(
        app,
        ["modify", key, "--cancel", "review", "--start-after", "review", "--var", "ok=true"],
        env={"USER": "olga", "LOGNAME": "olga"},
    )
    assert result.exit_code == 0, result.output
    assert f"instance {key} modified: active, tokens at ship" in result.output
    assert _modified_by(cli, key) == "olga"  # the login name
    assert _shown(cli, key)["instance"]["variables"]["ok"] is True


def test_by_names_the_operator(cli: CliRunner) -> None:
    key = _started(cli)
    result = cli.invoke(app, ["modify", key, "--cancel", "review", "--by", "night-shift"])
    assert result.exit_code == 0, result.output
    assert f"instance {key} modified: completed, tokens at nowhere" in result.output
    assert _modified_by(cli, key) == "night-shift"


def test_a_refused_instruction_names_the_element(cli: CliRunner) -> None:
    key = _started(cli)
    result = cli.invoke(app, ["modify", key, "--cancel", "ship"])
    assert isinstance(result.exception, InvalidCommandError)  # main() prints it as one line
    assert "no token is active at 'ship'" in str(result.exception)
    nothing = cli.invoke(app, ["modify", key])
    assert nothing.exit_code == 2 and "--start-before" in nothing.output
    stray = cli.invoke(app, ["modify", key, "--cancel", "review", "--var", "a=1"])
    assert stray.exit_code == 2
