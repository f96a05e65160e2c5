"""``/metrics``: who may scrape it, what it says, and that it answers while the database is
busy (a crash recovery holding it)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import PRINCIPALS, WAIT, start_server, wait_until
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bpmn_helpers import chain, process, service
from legato import Engine
from legato.api.app import create_app
from legato.security import StaticAuthenticator

TOKEN = "scrape-me-0123456789"

ORDER = process(
    '<bpmn:startEvent id="s"/>'
    + service("check", "check")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "check", "e"),
    process_id="order",
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(f"sqlite:///{tmp_path / 'metrics.db'}") as engine:
        engine.deploy(ORDER)
        yield engine


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    users = {name: (name, principal) for name, principal in PRINCIPALS.items()}
    app = create_app(engine, StaticAuthenticator(users), metrics_token=TOKEN)
    with TestClient(app) as client:
        yield client


def parsed(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    families: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            families.setdefault(sample.name, {})[labels] = sample.value
    return families


def test_an_admin_reads_the_metrics(engine: Engine, client: TestClient) -> None:
    engine.start("order")
    engine.start("order")

    answer = client.get("/metrics", auth=("admin", "admin"))

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    metrics = parsed(answer.text)
    order = (("process", "order"), ("version", "1"))
    assert metrics["legato_instances_started_total"][order] == 2
    assert metrics["legato_instances_active"][order] == 2
    assert metrics["legato_job_queue_depth"][(("job_type", "check"),)] == 2


def test_the_scrape_token_reads_the_metrics_and_nothing_else(client: TestClient) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    assert client.get("/metrics", headers=bearer).status_code == 200
    refused = client.get("/v2/topology", headers=bearer)
    assert refused.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": f"Basic {TOKEN}"},
    ],
    ids=["no credentials", "a wrong token", "the token as a password"],
)
def test_others_are_refused_with_a_problem(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.get("/metrics", headers=headers)

    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "UNAUTHORIZED"
    assert "legato_" not in answer.text


@pytest.mark.parametrize("name", ["dev", "op", "worker", "audit"])
def test_a_caller_who_is_not_an_admin_is_forbidden(client: TestClient, name: str) -> None:
    answer = client.get("/metrics", auth=(name, name))

    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == f"'{name}' may not read the metrics: it needs 'admin'"


def test_without_a_configured_token_no_bearer_is_a_scrape_token(engine: Engine) -> None:
    users = {name: (name, principal) for name, principal in PRINCIPALS.items()}
    with TestClient(create_app(engine, StaticAuthenticator(users))) as client:
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
        assert client.get("/metrics", auth=("admin", "admin")).status_code == 200


def test_a_scrape_answers_while_the_database_is_held(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    # Given a serving node with a reading of the gauges
    engine.start("order")
    node = threading.Thread(target=engine.serve, kwargs={"poll_interval": 0.05})
    node.start()
    try:
        wait_until(lambda: bool(engine.nodes()), "the node to register")
        first = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert first.status_code == 200
        # When another process holds the database (a recovery that has not finished)
        holder = sqlite3.connect(tmp_path / "metrics.db", timeout=WAIT)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            # Then a scrape still answers, with the last reading
            answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 200
            metrics = parsed(answer.text)
            order = (("process", "order"), ("version", "1"))
            assert metrics["legato_instances_active"][order] == 1
            assert "legato_gauges_age_seconds" in metrics
        finally:
            holder.rollback()
            holder.close()
    finally:
        engine.stop()
        node.join(WAIT)


def test_a_server_exports_its_node_and_the_database_gauges(tmp_path: Path) -> None:
    running = start_server(tmp_path, env={"LEGATO_METRICS_TOKEN": TOKEN})
    try:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        with running.http() as http:

            def node_counted() -> bool:
                answer = http.get(f"{running.url}/metrics", headers=bearer)
                assert answer.status_code == 200
                alive = parsed(answer.text).get("legato_nodes_alive", {})
                return alive.get((), 0) == 1

            wait_until(node_counted, "the server's node in legato_nodes_alive")
            assert http.get(f"{running.url}/metrics").status_code == 200  # the admin
    finally:
        assert running.process.stop(WAIT) == 0, running.log
