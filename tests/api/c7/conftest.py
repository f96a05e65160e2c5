"""Fixtures of the Camunda 7 surface's tests: an engine on a temporary SQLite file with the
test models deployed, the application over it (TestClient), and a live HTTP server for the
real clients."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.app import create_app

sys.path.insert(0, str(Path(__file__).parent))

from c7_support import ADMIN, MODELS, authenticator, serving


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
    with serving(engine) as url:
        yield url
