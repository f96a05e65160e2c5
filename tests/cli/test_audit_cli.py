"""``legato audit``: verify's exit codes on an intact and a tampered trail, list, export and
prune; the changing commands (here ``users`` and ``keys``) leave their records."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legato.cli.app import app
from legato.store.sql import SqlStore


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("LEGATO_DB", url)
    return url


def invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def three_changes() -> None:
    invoke("users", "add", "ann", "--role", "operator", "--password", "pw-ann")
    invoke("users", "roles", "ann", "--role", "auditor")
    invoke("keys", "create", "ci", "--role", "developer")


def tamper(db: str, statement: str) -> None:
    store = SqlStore(db)
    try:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        store.close()


def test_verify_exits_0_on_an_intact_trail(db: str) -> None:
    three_changes()
    assert invoke("audit", "verify").strip() == "intact: 3 records, last #3"


def test_verify_exits_1_naming_the_first_record_broken(db: str) -> None:
    three_changes()
    tamper(db, 'UPDATE audit_log SET details = \'{"roles":["admin"]}\' WHERE seq = 2')
    output = invoke("audit", "verify", code=1)
    assert output.strip() == "record #2: edited: its content does not match its hash"


def test_verify_names_a_deleted_record(db: str) -> None:
    three_changes()
    tamper(db, "DELETE FROM audit_log WHERE seq = 2")
    output = invoke("audit", "verify", "--db", db, code=1)
    assert output.strip() == "record #2: missing (deleted): the trail goes on at #3"


def test_list_shows_who_did_what_newest_first(db: str) -> None:
    three_changes()
    lines = invoke("audit", "list", "--action", "user.").splitlines()
    who = getpass.getuser()
    assert [line.split("  ")[2:] for line in lines] == [
        [who, "user.change", "user:ann", "allowed"],
        [who, "user.create", "user:ann", "allowed"],
    ]
    [record] = [
        json.loads(line) for line in invoke("audit", "list", "--json", "--limit", "1").splitlines()
    ]
    assert record["action"] == "api_key.create"
    assert record["userAgent"] == "legato-cli"
    assert record["details"]["roles"] == ["developer"]


def test_export_writes_every_record_as_json_lines(db: str, tmp_path: Path) -> None:
    three_changes()
    target = tmp_path / "audit.jsonl"
    assert invoke("audit", "export", "--output", str(target)).strip() == (
        f"exported 3 records to {target}"
    )
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[1]["prevHash"] == records[0]["hash"]


def test_prune_keeps_the_trail_verifiable_and_is_recorded(db: str) -> None:
    three_changes()
    assert invoke("audit", "prune", "--before", "2999-01-01").startswith("pruned 3 records")
    assert invoke("audit", "verify").strip() == "intact: 1 records, last #4"
    [record] = [json.loads(line) for line in invoke("audit", "list", "--json").splitlines()]
    assert (record["action"], record["details"]["deleted"]) == ("audit.prune", 3)


def test_prune_refuses_a_trail_that_does_not_verify(db: str) -> None:
    three_changes()
    tamper(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    output = invoke("audit", "prune", "--before", "2999-01-01", code=2)
    assert "the trail does not verify (record #1: edited" in output


def test_a_bad_date_is_named(db: str) -> None:
    assert "not an ISO 8601 date: 'soon'" in invoke("audit", "list", "--since", "soon", code=2)
