"""Fixtures of the Camunda 7 surface's tests: an engine on a temporary SQLite file with the
test models deployed, the application over it (TestClient), and a live HTTP server for the
real clients."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app

# The helper module of this folder is imported by name; appended, so that the tests' own
# ``conftest`` (tests/) stays the one ``import conftest`` finds.
sys.path.append(str(Path(__file__).resolve().parent))

from c7_support import ADMIN, MODELS, SERVER_USERS, authenticator, serving


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'c7.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh SQLite file with every test model deployed."""
    engine = Engine(db_url)
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


@pytest.fixture(scope="session")
def serve_http() -> bool:
    """Whether ``legato serve --http`` exists (then the real clients talk to a real server
    process; before it did, to the application served in a thread)."""
    probe = subprocess.run(
        [sys.executable, "-m", "legato", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    return "--http" in probe.stdout


@pytest.fixture
def live_server(engine: Engine, db_url: str, tmp_path: Path, serve_http: bool) -> Iterator[str]:
    """A live HTTP server over ``engine``'s database with this suite's users; yields the
    ``/engine-rest`` base URL.

    A real ``legato serve --http`` process on a free loopback port when the command exists
    (the test's ``engine`` shares the SQLite file to start instances and check state), else
    the application in a thread of this process.
    """
    if not serve_http:
        with serving(engine) as url:
            yield url
        return
    from legato.testing.server import LegatoServer, admin_client

    with LegatoServer(db_url, tmp_path / "server.log") as server:
        with admin_client(server) as http:
            for name, password, roles, groups in SERVER_USERS:
                response = http.post(
                    "/legato/v1/users",
                    json={"name": name, "password": password, "roles": roles, "groups": groups},
                )
                assert response.status_code == 201, response.text
        yield f"{server.url}/engine-rest"
