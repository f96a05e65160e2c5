"""What the Camunda 7 surface's tests share besides fixtures: the users, the models, waiting
for a condition, and reading an exact ``application/json`` body."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from legato import Engine
from legato.api.app import create_app
from legato.security import Principal, StaticAuthenticator
from legato.testing.server import free_port, release_port

MODELS = Path(__file__).parent / "models"
ENGINE_REST = "/engine-rest"

ADMIN = ("demo", "demo")
WORKER = ("worker", "w-secret")
"""A worker key that may work on the topic ``charge`` only."""
ANN = ("ann", "ann-secret")
"""A person in the group ``sales``."""
BOB = ("bob", "bob-secret")
"""A person in no group."""
AUDITOR = ("audit", "audit-secret")

SERVER_USERS: list[tuple[str, str, list[str], list[str]]] = [
    (ADMIN[0], ADMIN[1], ["admin"], []),
    (WORKER[0], WORKER[1], ["worker"], []),
    (ANN[0], ANN[1], ["user"], ["sales"]),
    (BOB[0], BOB[1], ["user"], []),
    (AUDITOR[0], AUDITOR[1], ["auditor"], []),
]
"""The same users as accounts of a real server (name, password, roles, groups); there the
worker is a user with the worker role, for every topic (an API key's topic scope is tested
in-process)."""

T = TypeVar("T")


def authenticator() -> StaticAuthenticator:
    """The users of these tests."""
    return StaticAuthenticator(
        {
            ADMIN[0]: (ADMIN[1], Principal("demo", frozenset({"admin"}))),
            WORKER[0]: (
                WORKER[1],
                Principal(
                    "worker", frozenset({"worker"}), job_types=frozenset({"charge"}), kind="key"
                ),
            ),
            ANN[0]: (ANN[1], Principal("ann", frozenset({"user"}), frozenset({"sales"}))),
            BOB[0]: (BOB[1], Principal("bob", frozenset({"user"}))),
            AUDITOR[0]: (AUDITOR[1], Principal("audit", frozenset({"auditor"}))),
        }
    )


def wait_for(
    condition: Callable[[], T | None], *, timeout: float = 60.0, what: str = "the condition"
) -> T:
    """Wait until ``condition`` gives something true and return it (generous deadline; the
    tests never assert how long anything takes)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def json_of(response: Any) -> Any:
    """The JSON body of a response that must be exactly ``application/json``."""
    assert response.headers["content-type"] == "application/json", response.headers
    return response.json()


@contextmanager
def serving(engine: Engine) -> Iterator[str]:
    """Serve the application over ``engine`` with uvicorn in a thread on a free loopback port
    until the block ends; gives the ``/engine-rest`` base URL."""
    port = free_port()
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
        release_port(port)
