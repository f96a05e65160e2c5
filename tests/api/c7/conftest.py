"""Fixtures of the Camunda 7 surface's tests: an engine on a temporary SQLite file with the
test models deployed, the application over it (TestClient), and a live HTTP server for the
real clients."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app

sys.path.insert(0, str(Path(__file__).parent))

from c7_support import ADMIN, ENGINE_REST, MODELS, authenticator, wait_for


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh SQLite file with every test model deployed."""
    engine = Engine(f"sqlite:///{tmp_path / 'c7.db'}")
    for model in sorted(MODELS.glob("*.bpmn")):
        engine.deploy(model)
    yield engine
    engine.close()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The application over ``engine``, as the admin ``demo`` by default."""
    with TestClient(create_app(engine, authenticator()), base_url="http://testserver") as test:
        test.auth = ADMIN
        yield test


@pytest.fixture
def live_server(engine: Engine) -> Iterator[str]:
    """The application served over HTTP on a free loopback port; yields the
    ``/engine-rest`` base URL."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(engine, authenticator()),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="c7-test-server", daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="the test server to start")
    try:
        yield f"http://127.0.0.1:{port}{ENGINE_REST}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
