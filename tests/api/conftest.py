"""Fixtures of the API tests: an application over a fresh engine with fixed principals, and
a real ``legato serve --http`` process (helpers in :mod:`api_support`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

# The helper modules of this folder are imported by name; appended, so that the tests'
# own ``conftest`` (tests/) stays the one ``import conftest`` finds.
sys.path.append(str(Path(__file__).resolve().parent))

from api_support import PRINCIPALS, WAIT, Api, Server, start_server

from legato import Engine
from legato.api.app import create_app
from legato.security import StaticAuthenticator


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    engine = Engine(f"sqlite:///{tmp_path / 'api.db'}")
    users = {name: (name, principal) for name, principal in PRINCIPALS.items()}
    app = create_app(engine, StaticAuthenticator(users), max_upload_bytes=64 * 1024)
    with TestClient(app) as client:
        yield Api(engine, client)
    engine.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path)
    try:
        yield running
    finally:
        code = running.process.stop(WAIT)
    assert code == 0, running.log
