"""Encryption at rest end to end: a database dump holds no sensitive plaintext, an engine
with the keys reads everything back, one without them says which key it needs."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from encryption_support import LIMIT, PLAINTEXTS, SCORE, SSN, Selector, onboarding_run
from legato import Engine
from legato.errors import EncryptionError
from legato.runtime.rekey import Rekey
from legato.security.keyring import KeyRing, load_key_file, new_key, write_key_file
from legato.store.schema import metadata
from legato.store.sql import SqlStore
from postgres_fixtures import fresh_postgres_url  # noqa: F401 (a fixture)

RING = KeyRing.of({"k1": new_key()})


def sqlite_dump(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def postgres_dump(url: str) -> str:
    """pg_dump of the schema when the binary is there (and speaks to this server), else
    every row of every table as text."""
    parsed = sa.make_url(url)
    schema = parsed.query["options"].split("search_path=")[1]
    if shutil.which("pg_dump"):
        found = subprocess.run(
            [
                "pg_dump",
                "-h",
                parsed.host or "127.0.0.1",
                "-p",
                str(parsed.port or 5432),
                "-U",
                parsed.username or "postgres",
                "-n",
                schema,
                parsed.database or "test",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0:
            assert "CREATE TABLE" in found.stdout
            return found.stdout
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            return "\n".join(
                str(tuple(row))
                for table in metadata.sorted_tables
                for row in connection.execute(sa.text(f'SELECT * FROM "{table.name}"'))
            )
    finally:
        engine.dispose()


def assert_no_plaintext(dump: str) -> None:
    assert "instances" in dump and "history" in dump
    found = [value for value in PLAINTEXTS if value in dump]
    assert found == [], f"plaintext in the dump: {found}"


def assert_reads_back(engine: Engine, instance_key: int) -> None:
    info = engine.instance(instance_key)
    assert info.variables["applicant"]["ssn"] == SSN
    assert float(info.variables["creditScore"]) == SCORE
    assert info.variables["limit"] == LIMIT
    (incident,) = engine.incidents()
    assert SSN in incident.message
    history = engine.history(instance_key)
    assert any(SSN in str(entry) for entry in history)
    (job,) = engine.jobs(instance_key=instance_key, state="failed")
    assert job.error_message is not None and SSN in job.error_message
    (message,) = engine.expire_messages() or [None]
    assert message is None  # still buffered: its time to live has not run out


def test_a_sqlite_dump_holds_no_sensitive_value(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    with Engine(url, keyring=RING, sensitive=Selector()) as engine:
        key = onboarding_run(engine)
        assert_reads_back(engine, key)
    assert_no_plaintext(sqlite_dump(tmp_path / "legato.db"))
    # What is not sensitive stays readable (and queryable) as before.
    assert '"band":"gold"' in sqlite_dump(tmp_path / "legato.db")


def test_a_save_that_changes_only_the_state_is_sealed_too(tmp_path: Path) -> None:
    """A variable set on a waiting instance changes no summary column: the store writes only
    the state (``update_instance_states``), sealed like every other save."""
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    with Engine(url, keyring=RING, sensitive=Selector()) as engine:
        key = onboarding_run(engine)
        engine.set_variables(key, {"limit": "limit-set-later-5501"})
        assert engine.instance(key).variables["limit"] == "limit-set-later-5501"
    assert "limit-set-later-5501" not in sqlite_dump(tmp_path / "legato.db")


def test_without_a_key_ring_the_dump_shows_every_value(tmp_path: Path) -> None:
    """The control: the run stores each value where the dump shows it in the clear."""
    with Engine(f"sqlite:///{tmp_path / 'legato.db'}", keyring=None) as engine:
        onboarding_run(engine)
    dump = sqlite_dump(tmp_path / "legato.db")
    assert [value for value in PLAINTEXTS if value not in dump] == []


def test_an_engine_restarted_with_the_keys_reads_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    with Engine(url, keyring=RING, sensitive=Selector()) as engine:
        key = onboarding_run(engine)
    with Engine(url, keyring=RING, sensitive=Selector()) as engine:
        assert_reads_back(engine, key)
        seen: list[str] = []

        @engine.task("verify")
        def verify(job: Any) -> None:
            seen.append(job.variables["applicant"]["ssn"])

        # The instance goes on after the restart: the incident resolved, the job retried
        # with the decrypted variables.
        engine.retry(engine.incidents()[0].incident_key, retries=1)
        engine.run_until_idle()
        assert seen == [SSN]
        assert engine.instance(key).status == "completed"


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    with Engine(url, keyring=RING, sensitive=Selector()) as engine:
        key = onboarding_run(engine)
    other = KeyRing.of({"k2": new_key()})
    with (
        Engine(url, keyring=other, sensitive=Selector()) as engine,
        pytest.raises(EncryptionError, match="'k1' is not in the key ring"),
    ):
        engine.instance(key)


def test_everything_encrypts_every_value(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    with Engine(url, keyring=RING, encryption="everything") as engine:
        key = onboarding_run(engine)
        assert engine.instance(key).variables["band"] == "gold"
    dump = sqlite_dump(tmp_path / "legato.db")
    assert_no_plaintext(dump)
    assert "gold" not in dump and "Ada" not in dump


def test_a_variable_filter_finds_no_instance_by_a_sensitive_value(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    with Engine(url, keyring=RING, sensitive=Selector()) as engine:
        onboarding_run(engine)
        assert engine.search_instances(variable=("limit", LIMIT)).instances == []
        assert len(engine.search_instances(variable=("band", "gold")).instances) == 1


@pytest.mark.postgres
def test_a_postgres_dump_holds_no_sensitive_value(fresh_postgres_url: str) -> None:  # noqa: F811
    with Engine(fresh_postgres_url, keyring=RING, sensitive=Selector()) as engine:
        key = onboarding_run(engine)
        assert_reads_back(engine, key)
    assert_no_plaintext(postgres_dump(fresh_postgres_url))


@pytest.mark.postgres
def test_a_rotation_on_postgres_leaves_nothing_on_the_old_key(
    fresh_postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    file = tmp_path / "keys.json"
    write_key_file(file, {"k1": new_key()})
    with Engine(fresh_postgres_url, keyring=str(file), sensitive=Selector()) as engine:
        key = onboarding_run(engine)
    keys = load_key_file(file).keys()
    keys["k2"] = new_key()
    write_key_file(file, keys)
    store = SqlStore(fresh_postgres_url)
    try:
        rekey = Rekey(store, load_key_file(file), lambda: datetime.now(UTC))
        assert rekey.usage()["k1"].values > 0
        done = rekey.run(rekey.start().batch_key)
        assert (done.status, done.done) == ("completed", 1)
        usage = rekey.usage()
        assert usage["k1"].values == 0 and usage["k2"].values > 0
    finally:
        store.close()
    del keys["k1"]
    write_key_file(file, keys)
    with Engine(fresh_postgres_url, keyring=str(file), sensitive=Selector()) as engine:
        assert_reads_back(engine, key)
