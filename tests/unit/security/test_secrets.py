"""Secrets named in the model (``secrets.CRM_TOKEN``) reach the handler and nothing else:
not the variables, the history, the incidents or the logs (grepped in the database file)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bpmn_helpers import chain, process, service
from legato import Engine, Job
from legato.security.secrets import (
    ChainedSecrets,
    EnvironmentSecrets,
    FileSecrets,
    SecretsError,
    resolve,
)

TOKEN = "tok-3f9a-very-secret-41c7"
CRM = process(
    '<bpmn:startEvent id="s"/>'
    + service(
        "call",
        "crm",
        '<zeebe:taskHeaders><zeebe:header key="auth" value="secrets.CRM_TOKEN"/>'
        '<zeebe:header key="url" value="https://crm.example"/></zeebe:taskHeaders>'
        '<zeebe:ioMapping><zeebe:input source="=secrets.CRM_TOKEN" target="apiToken"/>'
        '<zeebe:input source="=name" target="who"/></zeebe:ioMapping>',
    )
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "call", "e"),
    process_id="crm",
)


class Vault:
    """A provider of the tests' own: the protocol is one method."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def secret(self, name: str) -> str | None:
        self.asked.append(name)
        return self.values.get(name)


def _stored_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_a_handler_gets_the_secret_and_nothing_stores_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "secrets.db"
    vault = Vault({"CRM_TOKEN": TOKEN})
    engine = Engine(f"sqlite:///{db}", secrets=vault)
    seen: list[Job] = []

    def crm(job: Job) -> dict[str, Any]:
        seen.append(job)
        logging.getLogger("crm").debug("calling with %s", job.headers["url"])
        return dict(job.variables)  # hands its inputs back: the secret must not be stored

    try:
        engine.deploy(CRM)
        engine.register("crm", crm)
        key = engine.start("crm", {"name": "ann"}).key
        engine.run_until_idle()

        [job] = seen
        assert job.headers == {"auth": TOKEN, "url": "https://crm.example"}
        assert (job.variables["apiToken"], job.variables["who"]) == (TOKEN, "ann")
        assert job.context is not None and job.context.secrets == {"CRM_TOKEN": TOKEN}
        assert vault.asked == ["CRM_TOKEN"]
        assert engine.instance(key).status == "completed"
        assert "apiToken" not in engine.instance(key).variables
        assert engine.instance(key).variables["name"] == "ann"
        history = json.dumps([repr(e) for e in engine.history(key)])
        assert TOKEN not in history
    finally:
        engine.close()
    assert TOKEN.encode() not in _stored_bytes(db)
    assert TOKEN not in caplog.text


def test_an_error_quoting_the_secret_is_scrubbed_from_the_incident(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "secrets.db"
    engine = Engine(f"sqlite:///{db}", secrets=Vault({"CRM_TOKEN": TOKEN}))

    def crm(job: Job) -> None:
        raise PermissionError(f"CRM refused the token {job.headers['auth']}")

    try:
        engine.deploy(CRM)
        engine.register("crm", crm)
        engine.start("crm", {"name": "ann"})
        for _ in range(5):  # the default policy's attempts
            engine.run_until_idle()
            engine.fire_due_timers()
        engine.clock.now()
        incidents = engine.incidents()
        failures = [j.error_message for j in engine.jobs()]
    finally:
        engine.close()
    messages = [i.message for i in incidents] + [m for m in failures if m]
    assert messages and all("CRM refused the token ***" in m for m in messages)
    assert TOKEN.encode() not in _stored_bytes(db)
    assert TOKEN not in caplog.text


def test_a_missing_secret_raises_an_incident_naming_it(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'missing.db'}", secrets=Vault({}))
    called: list[Job] = []
    try:
        engine.deploy(CRM)
        engine.register("crm", called.append)
        key = engine.start("crm", {"name": "ann"}).key
        engine.run_until_idle()
        [incident] = engine.incidents(instance_key=key)
    finally:
        engine.close()
    assert called == []
    assert "'CRM_TOKEN'" in incident.message
    assert "not set" in incident.message


def test_the_environment_provider_reads_prefixed_variables() -> None:
    environ = {"LEGATO_SECRET_CRM_TOKEN": "a", "APP_CRM_TOKEN": "b", "CRM_TOKEN": "c"}

    assert EnvironmentSecrets(environ=environ).secret("CRM_TOKEN") == "a"
    assert EnvironmentSecrets("APP_", environ=environ).secret("CRM_TOKEN") == "b"
    assert EnvironmentSecrets(environ=environ).secret("OTHER") is None


def test_the_file_provider_reads_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "secrets.toml"
    toml.write_text('CRM_TOKEN = "from-toml"\n')
    js = tmp_path / "secrets.json"
    js.write_text('{"CRM_TOKEN": "from-json", "SMTP": "pw"}')

    chained = ChainedSecrets(FileSecrets(toml), FileSecrets(js))

    assert chained.secret("CRM_TOKEN") == "from-toml"
    assert chained.secret("SMTP") == "pw"
    assert resolve(chained, ["SMTP", "NOPE", "SMTP"]).missing == ("NOPE",)


def test_a_bad_secrets_file_is_named_and_its_values_are_not(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"CRM_TOKEN": 12345678}')
    broken = tmp_path / "broken.toml"
    broken.write_text('CRM_TOKEN = "unterminated-s3cr3t\n')

    with pytest.raises(SecretsError, match=r"bad\.json: the value of 'CRM_TOKEN' is not"):
        FileSecrets(bad)
    with pytest.raises(SecretsError, match=r"broken\.toml: not valid") as raised:
        FileSecrets(broken)
    assert "s3cr3t" not in str(raised.value)
    with pytest.raises(SecretsError, match=r"absent\.toml"):
        FileSecrets(tmp_path / "absent.toml")
