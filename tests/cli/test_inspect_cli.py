"""What the listings and ``show`` print: where instances wait, full width into a pipe, odd
values (given or already stored) without a traceback or a hang; deploying directories."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legato.cli.app import app

WAITING = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
  targetNamespace="t">
  <bpmn:process id="approval" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:userTask id="review"/><bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""

DECISION = """<?xml version="1.0"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="rules" name="Rules"
  namespace="t">
  <decision id="limit" name="Limit"><literalExpression><text>1000</text></literalExpression>
  </decision>
</definitions>"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "inspect.db"


@pytest.fixture
def cli(db: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LEGATO_DB", f"sqlite:///{db}")
    monkeypatch.delenv("COLUMNS", raising=False)  # as in a pipe or a file: no terminal width
    return CliRunner()


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _started(cli: CliRunner, tmp_path: Path, *variables: str, key: str = "k") -> int:
    model = tmp_path / "approval.bpmn"
    model.write_text(WAITING)
    _ok(cli, "deploy", str(model))
    args = [arg for pair in variables for arg in ("--var", pair)]
    started = json.loads(_ok(cli, "start", "approval", "-k", key, *args, "--json"))
    return int(started["key"])


def test_instances_says_where_each_instance_waits(cli: CliRunner, tmp_path: Path) -> None:
    key = _started(cli, tmp_path, "amount=12")
    [listed] = json.loads(_ok(cli, "instances", "--json"))
    assert listed["active_elements"] == ["review"]
    assert listed["variables"] == {"amount": 12}
    table = _ok(cli, "instances")
    [row] = [line for line in table.splitlines() if str(key) in line]
    assert "review" in row


def test_tables_are_not_cut_when_the_output_is_not_a_terminal(
    cli: CliRunner, tmp_path: Path
) -> None:
    long_key = "customer-" + "x" * 150
    long_value = "y" * 300
    key = _started(cli, tmp_path, f"note={long_value}", key=long_key)
    assert long_key in _ok(cli, "instances")
    assert long_value in _ok(cli, "show", str(key))


def test_text_with_brackets_is_printed_as_it_is(cli: CliRunner, tmp_path: Path) -> None:
    # Rich reads [..] as markup: a closing tag that opens nothing made it raise.
    key = _started(cli, tmp_path, "note=[/oops]", key="[/bk]")
    assert "[/bk]" in _ok(cli, "instances")
    shown = _ok(cli, "show", str(key))
    assert "[/oops]" in shown and "[/bk]" in shown


def test_an_unknown_status_is_refused_with_the_valid_ones(cli: CliRunner) -> None:
    result = cli.invoke(app, ["instances", "--status", "bogus"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "'bogus' is not one of active, completed, terminated" in result.output


@pytest.mark.parametrize("number", ["1e5000", "-1e99999999", "1" * 5000])
def test_a_number_out_of_range_is_refused_at_start_naming_the_variable(
    cli: CliRunner, tmp_path: Path, number: str
) -> None:
    _started(cli, tmp_path)
    result = cli.invoke(
        app, ["start", "approval", "--var", f"d={number}", "--json"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "variable 'd': cannot store" in result.output and "out of range" in result.output
    assert len(json.loads(_ok(cli, "instances", "--json"))) == 1


def test_values_stored_before_they_were_checked_are_shown(
    cli: CliRunner, tmp_path: Path, db: Path
) -> None:
    key = _started(cli, tmp_path)
    odd = {
        "huge": {"$decimal": "1E+99999999"},
        "large": {"$decimal": "1E+5000"},
        "tiny": {"$decimal": "1E-99999999"},
        "nan": {"$decimal": "NaN"},
        "signalling": {"$decimal": "sNaN"},
        "infinite": {"$decimal": "-Infinity"},
        "longest": {"$duration": 1e20},
    }
    with sqlite3.connect(db) as connection:
        [(text,)] = connection.execute(
            "SELECT state FROM instances WHERE instance_key = ?", (key,)
        ).fetchall()
        state = json.loads(text)
        state["variables"][str(key)].update(odd)
        connection.execute(
            "UPDATE instances SET state = ? WHERE instance_key = ?", (json.dumps(state), key)
        )
    shown = json.loads(_ok(cli, "show", str(key), "--json"))
    variables = shown["instance"]["variables"]
    assert variables["huge"] == "1E+99999999" and variables["large"] == "1E+5000"
    assert variables["tiny"] == "1E-99999999" and variables["signalling"] == "sNaN"
    assert variables["infinite"] == "-Infinity"
    table = _ok(cli, "show", str(key))
    assert "1E+99999999" in table and "sNaN" in table
    [listed] = json.loads(_ok(cli, "instances", "--json"))
    assert listed["variables"]["huge"] == "1E+99999999"


def test_deploy_takes_a_directory_and_lists_processes_and_decisions(
    cli: CliRunner, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "approval.bpmn").write_text(WAITING)
    (models / "rules.dmn").write_text(DECISION)
    (models / "README.txt").write_text("not a model")
    deployed = json.loads(_ok(cli, "deploy", str(models), "--json"))
    assert [(d["kind"], d.get("decision_id") or d.get("process_id")) for d in deployed] == [
        ("decision", "limit"),
        ("process", "approval"),
    ]
    assert all(d["version"] == 1 for d in deployed)
    table = _ok(cli, "deploy", str(models / "rules.dmn"))
    assert "decision" in table and "limit" in table and "rules.dmn" in table


def test_deploy_refuses_paths_it_cannot_read(cli: CliRunner, tmp_path: Path) -> None:
    missing = cli.invoke(app, ["deploy", str(tmp_path / "nowhere.bpmn")], env={"COLUMNS": "300"})
    assert missing.exit_code == 2 and "does not exist" in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli.invoke(app, ["deploy", str(empty)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "holds no .bpmn or .dmn file" in result.output
