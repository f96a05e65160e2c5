"""``legato migrate plan|check|run|status|pause|resume|cancel`` on a SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bpmn_helpers import chain, process
from legato import Engine
from legato.cli.app import app
from legato.testing import TestEngine

V1 = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:endEvent id="e"/>'
    + chain("s", "review", "e")
)
V2 = process(
    '<bpmn:startEvent id="s"/><bpmn:userTask id="approve"/><bpmn:endEvent id="e"/>'
    + chain("s", "approve", "e")
)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Three instances waiting at ``review`` in version 1; version 2 calls it ``approve``."""
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    engine = TestEngine(url)
    engine.deploy(V1)
    for i in range(3):
        engine.start("p", business_key=f"k{i % 2}")
    engine.deploy(V2)
    engine.close()
    return url


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["migrate", *args])


def _versions(db: str) -> list[int]:
    engine = Engine(db)
    try:
        return sorted(i.version for i in engine.instances())
    finally:
        engine.close()


def test_plan_check_and_run_with_a_plan_file(db: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    made = run("plan", "p", "--from", "1", "--to", "2", "--map", "review=approve", "-o",
               str(plan), "--db", db)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(plan.read_text())["mappings"] == [["review", "approve"]]
    checked = run("check", "--plan", str(plan), "--db", db)
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.count("ok: moves to version 2") == 3
    assert "the token at 'review' moves to 'approve'" in checked.stdout
    assert checked.stderr == "3 of 3 instances can move\n"
    ran = run("run", "--plan", str(plan), "--by", "olga", "--db", db)
    assert ran.exit_code == 0, ran.output
    assert "3 done, 0 failed, 0 pending of 3; by olga" in ran.stdout
    assert _versions(db) == [2, 2, 2]
    status = run("status", "--json", "--db", db)
    [batch] = json.loads(status.stdout)
    assert (batch["status"], batch["done"], batch["createdBy"]) == ("completed", 3, "olga")


def test_a_refused_check_exits_with_1_and_names_the_reason(db: str) -> None:
    checked = run("check", "p", "--from", "1", "--to", "2", "--db", db)
    assert checked.exit_code == 1
    assert "cannot move: the active element 'review' has no counterpart in version 2" in (
        checked.stdout
    )
    assert checked.stderr == "0 of 3 instances can move\n"


def test_bad_input_is_one_line(db: str, tmp_path: Path) -> None:
    unknown = run("plan", "p", "--from", "1", "--to", "2", "--map", "nope=approve", "--db", db)
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: the plan maps the source element 'nope'")
    missing = run("plan", "p", "--from", "1", "--to", "7", "--db", db)
    assert missing.stderr == "error: process 'p' has no version 7\n"
    malformed = run("plan", "p", "--from", "1", "--to", "2", "--map", "review", "--db", db)
    assert (malformed.exit_code, malformed.stderr) == (
        2,
        "error: --map 'review': write NAME=VALUE\n",
    )
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2")
    bad_file = run("check", "--plan", str(garbage), "--db", db)
    assert bad_file.exit_code == 2 and "not a migration plan" in bad_file.stderr


def test_a_batch_left_to_the_servers_is_paused_resumed_and_run(db: str) -> None:
    started = run("run", "p", "--from", "1", "--to", "2", "--map", "review=approve",
                  "--business-key", "k0", "--no-wait", "--db", db)  # fmt: skip
    assert started.exit_code == 0, started.output
    key = started.stderr.split()[1].rstrip(":")
    assert started.stderr == f"batch {key}: 2 instances\n"
    assert run("pause", key, "--db", db).stdout == f"batch {key}: paused\n"
    assert run("resume", key, "--db", db).stdout == f"batch {key}: running\n"
    assert "0 done, 0 failed, 2 pending of 2" in run("status", key, "--db", db).stdout
    engine = Engine(db)
    try:
        assert engine.run_batch_operation(int(key)).status == "completed"  # as a server would
    finally:
        engine.close()
    assert _versions(db) == [1, 2, 2]
    assert run("cancel", key, "--db", db).stderr == (
        f"error: batch operation {key} is completed: it cannot be cancelled\n"
    )
