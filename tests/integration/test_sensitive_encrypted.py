"""Declared once, protected twice: what the model and the policy file call sensitive is
encrypted in the database and masked for a reader without ``variables:reveal``, with no
selector of the user's own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from encryption_support import DECLARED_MODEL, LIMIT, PLAINTEXTS, SCORE, SSN, onboarding_run
from legato import Engine
from legato.security import Principal
from legato.security.keyring import KeyRing, new_key
from legato.security.sensitive import Viewer

RING = KeyRing.of({"k1": new_key()})


def _dump(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def test_the_models_and_the_policys_sensitive_values_are_encrypted_and_masked(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[sensitive]\nvariables = ["limit"]\n[sensitive.processes]\n')
    database = tmp_path / "legato.db"
    with Engine(f"sqlite:///{database}", keyring=RING, policy=policy) as engine:
        key = onboarding_run(engine, DECLARED_MODEL)
        stored = engine.instance(key)
        assert stored.variables["applicant"]["ssn"] == SSN
        assert stored.variables["limit"] == LIMIT
        operator = Viewer(Principal("olga", frozenset({"operator"})))
        shown = engine.instance(key, viewer=operator)
        assert shown.variables["applicant"]["ssn"] == "****"
        assert shown.variables["creditScore"] == "****"
        assert shown.variables["limit"] == "****"
        assert shown.variables["applicant"]["name"] == "Ada"
    dump = _dump(database)
    assert "instances" in dump and "history" in dump
    assert [value for value in PLAINTEXTS if value in dump] == []


def test_without_a_key_ring_the_same_run_is_stored_in_the_clear(tmp_path: Path) -> None:
    database = tmp_path / "legato.db"
    with Engine(f"sqlite:///{database}") as engine:
        onboarding_run(engine, DECLARED_MODEL)
    dump = _dump(database)
    assert SSN in dump and str(SCORE) in dump
