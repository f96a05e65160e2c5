"""What the API tests share: the principals of the in-process application, a real
``legato serve --http`` process, and waiting for conditions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from legato import Engine
from legato.security import Principal
from legato.testing.server import ADMIN_PASSWORD, LegatoServer, admin_client

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


@dataclass
class Server:
    """A running ``legato serve --http`` process and its database."""

    process: LegatoServer
    db: str
    password: str = ADMIN_PASSWORD

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def v2(self) -> str:
        return f"{self.url}/v2"

    @property
    def log(self) -> str:
        return self.process.log_path.read_text()

    def http(self) -> httpx.Client:
        """An HTTP client authenticated as the admin."""
        return admin_client(self.process, timeout=WAIT)


def start_server(
    tmp_path: Path,
    *args: str,
    db: str | None = None,
    env: dict[str, str] | None = None,
    log: str = "server.log",
) -> Server:
    """Start a server on a free loopback port (waits until it is ready)."""
    db = db or f"sqlite:///{tmp_path / 'server.db'}"
    process = LegatoServer(db, tmp_path / log, args=args, env=env).start()
    return Server(process, db)
