"""External workers get the secrets a job names only with a key limited to the job's type,
on v2 and Camunda 7; the value is in the answer and nowhere in the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import Api
from fastapi.testclient import TestClient

from bpmn_helpers import chain, process, service
from legato import Engine
from legato.api.app import create_app
from legato.security import Principal, StaticAuthenticator

TOKEN = "tok-worker-9e1d-secret"
CRM = process(
    '<bpmn:startEvent id="s"/>'
    + service(
        "call",
        "crm",
        '<zeebe:taskHeaders><zeebe:header key="auth" value="secrets.CRM_TOKEN"/>'
        "</zeebe:taskHeaders>"
        '<zeebe:ioMapping><zeebe:input source="=secrets.CRM_TOKEN" target="apiToken"/>'
        "</zeebe:ioMapping>",
    )
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "call", "e"),
    process_id="crm",
)
WORKERS = {
    "crm": Principal("crm", frozenset({"worker"}), job_types=frozenset({"crm"})),
    "any": Principal("any", frozenset({"worker"})),
}


class Vault:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def secret(self, name: str) -> str | None:
        return self.values.get(name)


@pytest.fixture
def vault() -> Vault:
    return Vault({"CRM_TOKEN": TOKEN})


@pytest.fixture
def api(tmp_path: Path, vault: Vault) -> Iterator[Api]:
    engine = Engine(f"sqlite:///{tmp_path / 'workers.db'}", secrets=vault)
    users = {name: (name, principal) for name, principal in WORKERS.items()}
    with TestClient(create_app(engine, StaticAuthenticator(users))) as client:
        yield Api(engine, client)
    engine.close()


def _v2(api: Api, who: str) -> list[dict[str, Any]]:
    answer = api.client.post(
        "/v2/jobs/activation",
        json={"type": "crm", "timeout": 30_000, "maxJobsToActivate": 1, "requestTimeout": -1},
        **api.as_(who),
    )
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, Any]] = answer.json()["jobs"]
    return jobs


def _c7(api: Api, who: str) -> list[dict[str, Any]]:
    answer = api.client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={
            "workerId": who,
            "maxTasks": 5,
            "topics": [{"topicName": "crm", "lockDuration": 9000}],
        },
        **api.as_(who),
    )
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()
    return tasks


def test_a_key_limited_to_the_job_type_gets_the_secret(api: Api, tmp_path: Path) -> None:
    api.engine.deploy(CRM)
    for _ in range(2):
        api.engine.start("crm")

    [v2] = _v2(api, "crm")
    [c7] = _c7(api, "crm")

    assert v2["customHeaders"]["auth"] == TOKEN
    assert v2["variables"]["apiToken"] == TOKEN
    assert c7["variables"]["apiToken"]["value"] == TOKEN
    assert TOKEN.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("workers.db*"))


def test_a_key_for_every_type_gets_the_reference_only(api: Api) -> None:
    api.engine.deploy(CRM)
    api.engine.start("crm")

    [job] = _v2(api, "any")

    assert job["customHeaders"]["auth"] == "secrets.CRM_TOKEN"
    assert "apiToken" not in job["variables"]


def test_a_missing_secret_fails_the_fetched_job_with_an_incident(api: Api, vault: Vault) -> None:
    vault.values.clear()
    api.engine.deploy(CRM)
    key = api.engine.start("crm").key

    assert _c7(api, "crm") == []
    [incident] = api.engine.incidents(instance_key=key)
    assert "'CRM_TOKEN'" in incident.message and "not set" in incident.message
