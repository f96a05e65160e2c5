"""The onboarding example's sensitive data, end to end: the process declares the credit score
and the applicant's identity number sensitive, so an operator sees them masked on every way
out (native API, Camunda 7 and 8 routes, the web app, the CLI) while the credit-check handler
gets the real values; with a key ring no plaintext of them is in a dump of the database; and
an audit record edited in the database is named by ``legato audit verify``."""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from accounts_support import CountingHasher
from legato import Engine, Job
from legato.api.app import create_app
from legato.api.c7 import ids
from legato.api.c7.ids import Kind
from legato.cli.app import app as cli
from legato.security import Principal, StaticAuthenticator
from legato.security.accounts import Accounts
from legato.security.keyring import new_key, write_key_file
from legato.security.sensitive import Viewer
from legato.web import mount
from sign_in_support import post_sign_in

HERE = Path(__file__).parent
ID_NUMBER = "756.3047.5009.62"
SCORE = 641.75
"""The applicant's identity number and credit score: distinctive, so that finding either in
a text means it was shown (a score under 700 waits for a manager: the instance stays open)."""

PLAINTEXTS = (ID_NUMBER, str(SCORE))
PRINCIPALS = {
    "op": Principal("op", frozenset({"operator"})),
    "admin": Principal("admin", frozenset({"admin"})),
}
PASSWORDS = {"admin": "pw-admin", "olga": "pw-olga"}


@pytest.fixture(autouse=True)
def _on_every_store() -> str:
    """On SQLite only (the test dumps the file), not on every store as the other examples."""
    return "sqlite"


@dataclass
class Onboarding:
    """An encrypted SQLite database with one onboarding waiting for a manager."""

    engine: Engine
    database: Path
    keys: Path
    instance_key: int
    seen: list[dict[str, Any]]

    @property
    def url(self) -> str:
        return f"sqlite:///{self.database}"


def _handlers() -> Any:
    spec = importlib.util.spec_from_file_location("onboarding_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    handlers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    return handlers


@pytest.fixture
def onboarding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Onboarding]:
    monkeypatch.setenv("ONBOARDING_LEDGER", str(tmp_path / "payments.json"))
    keys = tmp_path / "keys.json"
    write_key_file(keys, {"k1": new_key()})
    monkeypatch.setenv("LEGATO_KEYRING", str(keys))  # for the CLI commands below
    database = tmp_path / "onboarding.db"
    handlers = _handlers()
    seen: list[dict[str, Any]] = []

    def credit_check(job: Job) -> dict[str, Any]:
        seen.append(dict(job.variables))
        result: dict[str, Any] = handlers.credit_check(job)
        return result

    engine = Engine(f"sqlite:///{database}", keyring=str(keys))
    engine.deploy(HERE / "onboarding.bpmn")
    engine.register_module(handlers)
    engine.register("credit-check", credit_check)
    key = engine.start("onboarding", {"customer": "Ada", "score": SCORE, "idNumber": ID_NUMBER}).key
    engine.run_until_idle()
    try:
        yield Onboarding(engine, database, keys, key, seen)
    finally:
        engine.close()


def _dump(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def _masked(text: str, where: str) -> None:
    assert [value for value in PLAINTEXTS if value in text] == [], where
    assert "****" in text, where


def test_the_handler_gets_the_real_values_and_the_engine_keeps_them(
    onboarding: Onboarding,
) -> None:
    (variables,) = onboarding.seen
    assert variables["idNumber"] == ID_NUMBER and variables["score"] == SCORE
    stored = onboarding.engine.instance(onboarding.instance_key).variables
    assert stored["idNumber"] == ID_NUMBER and stored["score"] == SCORE
    (task,) = onboarding.engine.user_tasks(instance_key=onboarding.instance_key)
    assert task.element_id == "manager_approval"  # the real score took the gateway's branch


def test_the_api_masks_them_for_an_operator_and_shows_them_to_an_admin(
    onboarding: Onboarding,
) -> None:
    key = str(onboarding.instance_key)
    instance_id = ids.to_uuid(Kind.INSTANCE, onboarding.instance_key)
    routes: list[tuple[str, str, Any]] = [
        ("GET", f"/legato/v1/instances/{key}/detail", None),
        ("GET", f"/legato/v1/instances/{key}/history", None),
        ("GET", f"/engine-rest/process-instance/{instance_id}/variables", None),
        ("POST", "/v2/variables/search", {"filter": {"processInstanceKey": key}}),
    ]
    app = create_app(
        onboarding.engine, StaticAuthenticator({n: (n, p) for n, p in PRINCIPALS.items()})
    )
    with TestClient(app) as client:
        for method, path, body in routes:
            shown = client.request(method, path, json=body, auth=("op", "op"))
            assert shown.status_code == 200, f"{path}: {shown.text}"
            _masked(shown.text, path)
            revealed = client.request(method, path, json=body, auth=("admin", "admin"))
            assert ID_NUMBER in revealed.text, path


def _sign_in(client: TestClient, name: str) -> None:
    client.cookies.clear()
    answer = post_sign_in(client, name, PASSWORDS[name], "/")
    assert answer.status_code == 303, answer.text


def test_the_web_instance_page_masks_them_for_an_operator(onboarding: Onboarding) -> None:
    accounts = Accounts(onboarding.engine.store, password_hasher=CountingHasher())
    accounts.ensure_admin(PASSWORDS["admin"])
    accounts.create_user("olga", PASSWORDS["olga"], ["operator"])
    app = create_app(onboarding.engine, accounts)
    mount(app)
    page = f"/cockpit/instances/{onboarding.instance_key}"
    with TestClient(app) as client:
        _sign_in(client, "olga")
        shown = client.get(page)
        assert shown.status_code == 200 and "Ada" in shown.text
        _masked(shown.text, page)
        _sign_in(client, "admin")
        assert ID_NUMBER in client.get(page).text


def test_the_cli_masks_them_unless_revealed(onboarding: Onboarding) -> None:
    onboarding.engine.close()
    key = str(onboarding.instance_key)
    for args in (["show", key], ["show", key, "--json"], ["instances", "--json"]):
        result = CliRunner().invoke(cli, [*args, "--db", onboarding.url])
        assert result.exit_code == 0, result.output
        assert "Ada" in result.output or args[0] == "instances"
        _masked(result.output, " ".join(args))
    revealed = CliRunner().invoke(cli, ["show", key, "--db", onboarding.url, "--reveal"])
    assert revealed.exit_code == 0 and ID_NUMBER in revealed.output


def test_a_dump_of_the_encrypted_database_holds_no_plaintext_of_them(
    onboarding: Onboarding,
) -> None:
    onboarding.engine.close()
    dump = _dump(onboarding.database)
    assert "Ada" in dump  # the rest is stored in the clear
    assert [value for value in PLAINTEXTS if value in dump] == []


def test_an_edited_audit_record_is_named_by_audit_verify(onboarding: Onboarding) -> None:
    onboarding.engine.close()
    key = str(onboarding.instance_key)
    for _ in range(2):  # two reveals: two records of the trail
        revealed = CliRunner().invoke(cli, ["show", key, "--db", onboarding.url, "--reveal"])
        assert revealed.exit_code == 0, revealed.output
    intact = CliRunner().invoke(cli, ["audit", "verify", "--db", onboarding.url])
    assert intact.exit_code == 0 and "intact" in intact.output, intact.output

    connection = sqlite3.connect(onboarding.database)
    try:
        (first,) = connection.execute("SELECT min(seq) FROM audit_log").fetchone()
        with connection:
            connection.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (first,))
    finally:
        connection.close()

    broken = CliRunner().invoke(cli, ["audit", "verify", "--db", onboarding.url])
    assert broken.exit_code == 1
    assert f"record #{first}: edited" in broken.output


def test_version_2_declares_them_too(tmp_path: Path) -> None:
    """Each version declares them in its own model (the deployed versions' declarations add
    up, so version 2 is checked on an engine that has only it)."""
    with Engine(f"sqlite:///{tmp_path / 'v2.db'}") as engine:
        engine.deploy(HERE / "onboarding-v2.bpmn")
        variables = {"customer": "Ada", "score": SCORE, "idNumber": ID_NUMBER}
        key = engine.start("onboarding", variables).key
        operator = Viewer(PRINCIPALS["op"])
        shown = engine.instance(key, viewer=operator).variables
        assert shown == {"customer": "Ada", "score": "****", "idNumber": "****"}
        assert engine.instance(key).variables == variables
