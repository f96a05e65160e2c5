"""The test servers' ports: one port is never handed to two processes at once."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any, ClassVar

import pytest

from legato.testing import server

_HOLDER = (
    "import sys\n"
    "from legato.testing.server import free_port\n"
    "print(free_port(), flush=True)\n"
    "sys.stdin.readline()\n"
)


_REAL_SOCKET = socket.socket


class _Probe:
    """A socket whose ``bind`` to port 0 "gets" a chosen port first, then real ones."""

    offered: ClassVar[list[int]] = []

    def __init__(self) -> None:
        self._real = _REAL_SOCKET()
        self._port: int | None = None

    def __enter__(self) -> _Probe:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._real.close()

    def bind(self, address: tuple[str, int]) -> None:
        if _Probe.offered:
            self._port = _Probe.offered.pop(0)
        else:
            self._real.bind(address)

    def getsockname(self) -> tuple[str, int]:
        if self._port is not None:
            return ("127.0.0.1", self._port)
        name: tuple[str, int] = self._real.getsockname()
        return name


def test_a_port_another_process_holds_is_skipped_until_released(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        held = int(holder.stdout.readline())
        monkeypatch.setattr(socket, "socket", _Probe)
        _Probe.offered = [held]  # the kernel offers the held port first: it is passed over
        mine = server.free_port()
        assert mine != held
        assert _Probe.offered == []
        server.release_port(mine)
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(60) == 0
    _Probe.offered = [held]  # the holder is gone: its port can be handed out again
    assert server.free_port() == held
    server.release_port(held)
