"""``legato encryption-keys``: init, a rotation interrupted and resumed while an engine runs,
status per key, retire refused while a key is used, all audited."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from encryption_support import SSN, Selector, onboarding_run
from legato import Engine
from legato.cli.app import app
from legato.errors import EncryptionError
from legato.runtime import rekey
from legato.security.keyring import load_key_file, write_key_file
from legato.store.sealing import key_id_of, sealed_tokens


class Killed(Exception):
    """The process dies in the middle of a chunk (its transaction is rolled back)."""


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def stored_key_ids(path: Path) -> set[str]:
    """The key ids of every ciphertext in the instance states and the history."""
    connection = sqlite3.connect(path)
    try:
        texts = [row[0] for row in connection.execute("SELECT state FROM instances")]
        texts += [row[0] for row in connection.execute("SELECT events FROM history")]
    finally:
        connection.close()
    return {key_id_of(token) for text in texts for token in sealed_tokens(json.loads(text))}


def test_init_writes_a_key_file_once(tmp_path: Path) -> None:
    file = tmp_path / "keys.json"
    result = run("encryption-keys", "init", "--file", str(file), "--id", "k1")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "LEGATO_KEYRING" in result.output
    assert load_key_file(file).key_ids == ["k1"]
    again = run("encryption-keys", "init", "--file", str(file))
    assert again.exit_code == 2 and "exists" in again.output


def test_a_rotation_interrupted_and_resumed_while_an_engine_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file, database = tmp_path / "keys.json", tmp_path / "legato.db"
    db = f"sqlite:///{database}"
    assert run("encryption-keys", "init", "--file", str(file), "--id", "k1").exit_code == 0
    engine = Engine(db, keyring=str(file), sensitive=Selector())
    try:
        first = onboarding_run(engine)
        keys = [first] + [
            engine.start("onboarding", variables={"applicant": {"ssn": f"{SSN}-{i}"}}).key
            for i in range(24)
        ]
        engine.run_until_idle()
        assert stored_key_ids(database) == {"k1"}

        # A crash in the middle of the second chunk: its transaction is lost, the first
        # chunk's stays.
        monkeypatch.setattr(rekey, "CHUNK", 10)
        calls = {"n": 0}
        original = rekey.Rekey._rekey_instance

        def crashing(self: rekey.Rekey, tx: Any, instance_key: int) -> None:
            calls["n"] += 1
            if calls["n"] == 15:
                raise Killed("killed")
            original(self, tx, instance_key)

        monkeypatch.setattr(rekey.Rekey, "_rekey_instance", crashing)
        crashed = run("encryption-keys", "rotate", "--file", str(file), "--db", db, "--id", "k2")
        assert isinstance(crashed.exception, Killed)
        assert "rotation" in crashed.output and "10/25 instances" in crashed.output
        monkeypatch.setattr(rekey.Rekey, "_rekey_instance", original)
        assert load_key_file(file).primary_key_id == "k2"
        assert stored_key_ids(database) == {"k1", "k2"}
        # The rotation is a batch operation of its own kind: migrations do not see it.
        assert engine.batch_operations() == []

        status = run("encryption-keys", "status", "--file", str(file), "--db", db)
        assert status.exit_code == 0, status.output
        assert "k2 [primary]" in status.output and "running: 10/25" in status.output
        # The buffered message went first, whole.
        assert "1 buffered messages" in status.output.split("k2 [primary]")[1]

        refused = run("encryption-keys", "retire", "k1", "--file", str(file), "--db", db)
        assert refused.exit_code == 2 and "still running" in refused.output

        # The engine goes on meanwhile: it reads the instances already on k2 (taking the
        # new key from the file) and writes with k2 from then on.
        for instance_key in keys:
            (task,) = engine.user_tasks(instance_key=instance_key) or [None]
            if task is not None:
                engine.complete_user_task(task.user_task_key, {"limit": "x-1"})
        engine.run_until_idle()

        again = run("encryption-keys", "rotate", "--file", str(file), "--db", db)
        assert again.exit_code == 2 and "--resume" in again.output
        resumed = run("encryption-keys", "rotate", "--file", str(file), "--db", db, "--resume")
        assert resumed.exit_code == 0, resumed.output
        assert "completed: 25 instances on key k2" in resumed.output
        assert stored_key_ids(database) == {"k2"}

        status = run("encryption-keys", "status", "--file", str(file), "--db", db)
        assert "k1: 0 values" in status.output
        retired = run("encryption-keys", "retire", "k1", "--file", str(file), "--db", db)
        assert retired.exit_code == 0, retired.output
        assert load_key_file(file).key_ids == ["k2"]
    finally:
        engine.close()

    with Engine(db, keyring=str(file), sensitive=Selector()) as restarted:
        assert restarted.instance(first).variables["applicant"]["ssn"] == SSN
        assert SSN in restarted.incidents()[0].message
    actions = run("audit", "list", "--db", db, "--action", "key.")
    assert "key.rotate" in actions.output and "key.retire" in actions.output


def test_retire_refuses_a_key_that_data_uses(tmp_path: Path) -> None:
    file, db = tmp_path / "keys.json", f"sqlite:///{tmp_path / 'legato.db'}"
    run("encryption-keys", "init", "--file", str(file), "--id", "k1")
    with Engine(db, keyring=str(file), sensitive=Selector()) as engine:
        onboarding_run(engine)
    primary = run("encryption-keys", "retire", "k1", "--file", str(file), "--db", db)
    assert primary.exit_code == 2 and "primary key" in primary.output
    # A second key added by hand, without a rotation: k1 still encrypts the data.
    keys = load_key_file(file).keys()
    keys["k2"] = b"\x01" * 32
    write_key_file(file, keys)
    used = run("encryption-keys", "retire", "k1", "--file", str(file), "--db", db)
    assert used.exit_code == 2
    assert "key 'k1' still encrypts" in used.output and "instance states" in used.output
    unknown = run("encryption-keys", "retire", "k9", "--file", str(file), "--db", db)
    assert unknown.exit_code == 2 and "no key 'k9'" in unknown.output
    with pytest.raises(EncryptionError):
        load_key_file(tmp_path / "none.json")


def test_the_keys_group_manages_the_key_ring_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``legato keys init|rotate|status|retire`` are the encryption-keys commands, next to
    the API-key ones."""
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'legato.db'}"
    made = run("keys", "init", "--file", "keys.json", "--id", "k1")
    assert made.exit_code == 0, made.output
    assert load_key_file(tmp_path / "keys.json").key_ids == ["k1"]
    with Engine(db, keyring="keys.json", sensitive=Selector()) as engine:
        instance_key = onboarding_run(engine)
    assert stored_key_ids(tmp_path / "legato.db") == {"k1"}

    rotated = run("keys", "rotate", "--file", "keys.json", "--db", db, "--id", "k2")
    assert rotated.exit_code == 0, rotated.output
    assert "on key k2" in rotated.output
    assert stored_key_ids(tmp_path / "legato.db") == {"k2"}
    status = run("keys", "status", "--file", "keys.json", "--db", db)
    assert status.exit_code == 0, status.output
    assert "k2 [primary]" in status.output and "k1: 0 values" in status.output
    retired = run("keys", "retire", "k1", "--file", "keys.json", "--db", db)
    assert retired.exit_code == 0, retired.output
    with Engine(db, keyring="keys.json", sensitive=Selector()) as engine:
        assert engine.instance(instance_key).variables["applicant"]["ssn"] == SSN
    # The API-key commands of the group are still there.
    assert run("keys", "list", "--db", db).exit_code == 0
