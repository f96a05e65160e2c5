"""A real ``legato serve --http`` process on loopback, for tests (ours and users') and
benchmarks that talk to the server as its clients do.

```python
from legato.testing.server import LegatoServer, admin_client

with LegatoServer("sqlite:///test.db", Path("server.log")) as server:
    with admin_client(server) as http:
        http.post("/v2/deployments", files={"resources": open("order.bpmn", "rb")})
```

The server is started on a free port with a known admin password, and waited for through
``GET /ready`` (with a generous bound: the machine's speed decides nothing here); it is
stopped with SIGTERM (graceful) or killed with SIGKILL when a test wants a crash.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess  # starts the legato server of the tests  # nosec B404
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

LEGATO = (sys.executable, "-m", "legato")
"""The command line, run by the Python that runs the caller."""
ADMIN_PASSWORD = "admin-secret-for-tests"
"""The first admin's password on every database a server of this module creates."""
READY_WITHIN = 120.0
"""Seconds a server may take to answer /ready (a loaded machine; never a measurement)."""


PORT_LOCKS = Path(tempfile.gettempdir()) / "legato-test-ports"
"""Where :func:`free_port` keeps a lock file per port it hands out."""

_held: dict[int, int] = {}
"""The ports this process holds, with the descriptor of each one's locked file."""


def free_port() -> int:
    """A TCP port nobody listens on now, and that no other process using this function holds.

    The kernel may hand the same free port to two processes that each probe for one before
    either listens on it (two test suites at once); so each port handed out is also locked
    (``flock`` on a file per port), until :func:`release_port` or the end of the process,
    and a port locked elsewhere is skipped.
    """
    PORT_LOCKS.mkdir(exist_ok=True)
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port in _held:
            continue
        descriptor = os.open(PORT_LOCKS / f"{port}.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        _held[port] = descriptor
        return port
    raise RuntimeError("no free TCP port found that another process does not hold")


def release_port(port: int) -> None:
    """Let other processes have ``port`` again (a no-op for a port this process does not
    hold)."""
    descriptor = _held.pop(port, None)
    if descriptor is not None:
        os.close(descriptor)  # closing the file drops its lock


class LegatoServer:
    """One ``legato serve --http`` process; a context manager that stops it at the end."""

    def __init__(
        self,
        db_url: str,
        log_path: Path,
        *,
        port: int | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.db_url = db_url
        self._own_port = port is None
        self.port = port or free_port()
        self.log_path = log_path
        self.args = args
        self.env = {**os.environ, "LEGATO_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LegatoServer:
        """Start the process and wait until it answers /ready."""
        bind = f"127.0.0.1:{self.port}"
        command = [*LEGATO, "serve", "--http", "--bind", bind, "--db", self.db_url, *self.args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=self.env)  # nosec B603
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait (killed if it does not exit in ``timeout``); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._own_port:
            release_port(self.port)
        return self.process.returncode

    def __enter__(self) -> LegatoServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def admin_client(server: LegatoServer, timeout: float = 60.0) -> httpx.Client:
    """An HTTP client signed in as the first admin."""
    return httpx.Client(base_url=server.url, auth=("admin", ADMIN_PASSWORD), timeout=timeout)
