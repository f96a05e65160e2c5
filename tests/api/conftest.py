"""Fixtures of the API tests: an application over a fresh engine with fixed principals, and
a real ``legato serve --http`` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from legato import Engine
from legato.api.app import create_app
from legato.security import Principal, StaticAuthenticator

LEGATO = str(Path(sys.executable).with_name("legato"))
WAIT = 120.0
"""The longest any test waits for something to happen (generous: never a measurement)."""

PRINCIPALS = {
    "admin": Principal("admin", frozenset({"admin"})),
    "dev": Principal("dev", frozenset({"developer"})),
    "op": Principal("op", frozenset({"operator"})),
    "worker": Principal("worker", frozenset({"worker"}), job_types=frozenset({"charge"})),
    "ann": Principal("ann", frozenset({"user"}), groups=frozenset({"sales"})),
    "bob": Principal("bob", frozenset({"user"}), groups=frozenset({"support"})),
    "audit": Principal("audit", frozenset({"auditor"})),
}
"""Who calls the application in the unit-level tests; each one's password is its name."""


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait for ``condition`` to hold; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Api:
    """An application over a fresh engine."""

    engine: Engine
    client: TestClient

    def as_(self, name: str) -> dict[str, str]:
        """Request keywords that authenticate as one of :data:`PRINCIPALS`."""
        return {"auth": (name, name)}  # type: ignore[dict-item]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    engine = Engine(f"sqlite:///{tmp_path / 'api.db'}")
    users = {name: (name, principal) for name, principal in PRINCIPALS.items()}
    app = create_app(engine, StaticAuthenticator(users), max_upload_bytes=64 * 1024)
    with TestClient(app) as client:
        yield Api(engine, client)
    engine.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``legato serve --http`` process."""

    url: str
    db: str
    process: subprocess.Popen[bytes]
    log: Path
    password: str = "admin-secret"

    @property
    def v2(self) -> str:
        return f"{self.url}/v2"

    def http(self) -> httpx.Client:
        """An HTTP client authenticated as the admin."""
        return httpx.Client(base_url=self.url, auth=("admin", self.password), timeout=WAIT)

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=WAIT)


def start_server(tmp_path: Path, *extra: str, db: str | None = None) -> Server:
    """Start a server on a free loopback port and wait until it is ready."""
    db = db or f"sqlite:///{tmp_path / 'server.db'}"
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "LEGATO_ADMIN_PASSWORD": "admin-secret",
        "COLUMNS": "200",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [LEGATO, "serve", "--http", "--db", db, "--bind", f"127.0.0.1:{port}", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(f"http://127.0.0.1:{port}", db, process, log)

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            return httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, "the server to be ready")
    return server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path)
    try:
        yield running
    finally:
        code = running.stop()
    assert code == 0, running.log.read_text()
