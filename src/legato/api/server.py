"""The server: the HTTP API in the main thread, an engine node in a background thread.

``legato serve --http`` calls :func:`run_server`. The node (timers, message expiry,
heartbeats, the Python handlers of ``--handlers``) runs :meth:`Engine.serve` on its own
thread; uvicorn serves the application of :func:`legato.api.app.create_app` on the main
thread. ``/ready`` answers 503 until the node has registered itself in the ``nodes`` table,
and again from the moment a stop begins.

SIGINT or SIGTERM stops gracefully: ``/ready`` turns 503, the listening socket closes,
parked long polls answer (empty), in-flight requests and running handlers get ``grace``
seconds, the node commits what its handlers finished and gives back the jobs it still holds
(no attempt charged), and the process exits 0. A second SIGINT exits at once.

Configuration (:func:`load_config`): flags > environment (``LEGATO_*``) > a TOML file
(``--config`` or ``LEGATO_CONFIG``) > defaults. Any number of servers on one PostgreSQL
database are one system: each is an engine node, and every request may go to any of them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI

from legato.api.app import create_app
from legato.api.lifecycle import begin_stop
from legato.runtime.engine import DEFAULT_DATABASE, Engine
from legato.security.accounts import Accounts
from legato.security.sensitive import PolicyError, load_policy

logger = logging.getLogger("legato.server")

_READY_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class ServerConfig:
    """How a server runs. Each field is also a key of the TOML file and, upper-cased with
    ``LEGATO_`` in front, an environment variable (``bind`` is ``LEGATO_BIND``)."""

    db: str = DEFAULT_DATABASE
    """The database URL."""
    bind: str = "127.0.0.1:8080"
    """``host:port`` to listen on (``[::1]:8080`` for IPv6)."""
    handlers: str | None = None
    """A Python file of ``@legato.handler`` functions the node runs."""
    tls_cert: str | None = None
    """A PEM certificate: serve HTTPS (with ``tls_key``)."""
    tls_key: str | None = None
    max_upload_mb: float = 32.0
    """The largest request body (deployments), in MiB; larger ones are refused with 413."""
    grace: float = 30.0
    """Seconds that in-flight requests and running handlers get after SIGINT or SIGTERM."""
    concurrency: int = 32
    """Handler calls the node runs at once."""
    poll_interval: float = 0.5
    """The node's longest idle sleep, in seconds."""
    log_json: bool = False
    """Log one JSON object per line."""
    session_hours: float = 8.0
    """How long a web app sign-in lasts, in hours."""
    metrics_token: str | None = None
    """A secret that Prometheus presents as ``Authorization: Bearer`` to scrape
    ``/metrics`` (admins' credentials are accepted too)."""
    policy: str | None = None
    """A TOML policy file on sensitive data: variables sensitive beside those the models
    declare, and the detectors switched on (see :mod:`legato.security.sensitive`)."""
    keyring: str | None = None
    """Encryption at rest: the key file (``LEGATO_KEYRING``; see
    :mod:`legato.security.keyring`)."""
    encryption: str = "sensitive"
    """With a key ring, what is encrypted: ``sensitive`` values or ``everything``."""

    @property
    def host_port(self) -> tuple[str, int]:
        """``bind`` split into host and port.

        Raises:
            ValueError: ``bind`` is not ``host:port``.
        """
        host, colon, port = self.bind.rpartition(":")
        if not colon or not port.isdigit():
            raise ValueError(f"bind: '{self.bind}' is not host:port")
        return host.strip("[]") or "127.0.0.1", int(port)


ENV_PREFIX = "LEGATO_"
"""Environment variables that configure the server start with this."""


def load_config(
    flags: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> ServerConfig:
    """The configuration from flags (None: not given), the environment, a TOML file and
    the defaults, in this order of precedence.

    Raises:
        ValueError: a value of the wrong type, or an unknown key in the TOML file.
    """
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get(f"{ENV_PREFIX}CONFIG"):
        config_file = Path(environ[f"{ENV_PREFIX}CONFIG"])
    known = {f.name: f for f in fields(ServerConfig)}
    values: dict[str, Any] = {}
    if config_file is not None:
        with config_file.open("rb") as stream:
            data = tomllib.load(stream)
        table = data.get("server", data)
        for name, value in table.items():
            if name not in known:
                raise ValueError(f"{config_file}: unknown key '{name}'")
            values[name] = value
    for name in known:
        text = environ.get(f"{ENV_PREFIX}{name.upper()}")
        if text is not None and text != "":
            values[name] = text
    for name, value in flags.items():
        if value is not None and name in known:
            values[name] = value
    return replace(ServerConfig(), **{k: _typed(k, v) for k, v in values.items()})


def _typed(name: str, value: Any) -> Any:
    default = getattr(ServerConfig(), name)
    kind = type(default) if default is not None else str
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: '{value}' is not true or false")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: '{value}' is not a {kind.__name__}") from None


def _encryption_mode(text: str) -> Literal["sensitive", "everything"]:
    if text == "sensitive":
        return "sensitive"
    if text == "everything":
        return "everything"
    raise ValueError(f"encryption: '{text}' is not sensitive or everything")


def load_handlers(engine: Engine, path: Path) -> list[str]:
    """Register the ``@legato.handler`` functions of a Python file with ``engine``.

    Raises:
        ValueError: the file does not exist, cannot be loaded, or marks no function.
    """
    if not path.exists():
        raise ValueError(f"handlers file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"legato_handlers_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load handlers from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    registered = engine.register_module(module)
    if not registered:
        raise ValueError(f"{path} marks no function with @legato.handler(...)")
    return registered


def build_authenticator(engine: Engine, say: Callable[[str], None]) -> Accounts:
    """The accounts of the database as the authenticator; on an empty database the admin
    user is created first (with ``LEGATO_ADMIN_PASSWORD``, or a generated password that is
    printed once)."""
    accounts = Accounts(engine.store)
    generated = accounts.ensure_admin(os.environ.get(f"{ENV_PREFIX}ADMIN_PASSWORD") or None)
    if generated is not None and not os.environ.get(f"{ENV_PREFIX}ADMIN_PASSWORD"):
        say(f"created the user 'admin' with the password: {generated}")
        say("(shown this once: keep it, or set LEGATO_ADMIN_PASSWORD before the first start)")
    elif generated is not None:
        say("created the user 'admin' with the password of LEGATO_ADMIN_PASSWORD")
    return accounts


class _Server(uvicorn.Server):
    """uvicorn's server, telling the application and the node when a stop begins."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not self.should_exit
        super().handle_exit(sig, frame)
        if first:
            self._on_stop()


def run_server(
    config: ServerConfig,
    *,
    say: Callable[[str], None] = print,
    extend: Callable[[FastAPI], None] | None = None,
) -> int:
    """Run a server until SIGINT or SIGTERM; returns the exit code (0 after a graceful
    stop). ``extend`` adds to the application before it serves (``legato serve --http``
    mounts the web app with it); ``app.state.session_lifetime`` holds
    :attr:`ServerConfig.session_hours` for it.

    Raises:
        ValueError: a configuration value that cannot be used (bind, handlers, TLS).
    """
    host, port = config.host_port
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ValueError("tls_cert and tls_key go together")
    try:
        policy = load_policy(config.policy) if config.policy else None
    except PolicyError as error:
        raise ValueError(f"policy: {error}") from None
    engine = Engine(
        config.db,
        concurrency=config.concurrency,
        policy=policy,
        keyring=config.keyring,
        encryption=_encryption_mode(config.encryption),
    )
    try:
        types = load_handlers(engine, Path(config.handlers)) if config.handlers else []
        authenticator = build_authenticator(engine, say)
        app = create_app(
            engine,
            authenticator,
            max_upload_bytes=int(config.max_upload_mb * 1024 * 1024),
            metrics_token=config.metrics_token,
        )
        if config.session_hours <= 0:
            raise ValueError("session_hours: must be positive")
        app.state.session_lifetime = timedelta(hours=config.session_hours)
        if extend is not None:
            extend(app)
        app.state.ready = False
        node_done = threading.Event()
        failure: list[BaseException] = []

        def serve_node() -> None:
            try:
                engine.serve(
                    poll_interval=config.poll_interval,
                    shutdown_grace=timedelta(seconds=config.grace),
                )
            except BaseException as exc:  # reported on the main thread
                failure.append(exc)
                logger.exception("the engine node stopped")
            finally:
                node_done.set()
                app.state.ready = False

        def stopping() -> None:
            begin_stop(app)
            os.write(2, f"stopping: requests and handlers get {config.grace:g} s\n".encode())
            engine.stop()

        def mark_ready() -> None:
            while not node_done.is_set() and not app.state.stopping:
                try:
                    if any(
                        n.node_id == engine.worker_name and n.status == "running"
                        for n in engine.nodes()
                    ):
                        app.state.ready = not app.state.stopping
                        return
                except Exception:  # the database may come up later: keep looking
                    logger.debug("node not visible yet", exc_info=True)
                node_done.wait(_READY_POLL_SECONDS)

        uv_config = uvicorn.Config(
            app,
            host=host,
            port=port,
            ssl_certfile=config.tls_cert,
            ssl_keyfile=config.tls_key,
            timeout_graceful_shutdown=int(config.grace + 0.999),
            # Clients keep connections in pools for a minute or more (load balancers too):
            # closing an idle one after uvicorn's default 5 s races with its reuse, and the
            # client sees a dropped request.
            timeout_keep_alive=75,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        server = _Server(uv_config, stopping)
        node = threading.Thread(target=serve_node, name="legato-node", daemon=True)
        node.start()
        threading.Thread(target=mark_ready, name="legato-ready", daemon=True).start()
        scheme = "https" if config.tls_cert else "http"
        say(
            f"node {engine.worker_name} serving {', '.join(types) or 'timers'}; "
            f"API on {scheme}://{config.bind}"
        )
        # uvicorn raises the stopping signal again once it has shut down: a handler that
        # ignores it lets the node finish and the process exit 0.
        previous = {
            number: signal.signal(number, _ignore) for number in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            server.run()
        finally:
            stopping_already = app.state.stopping
            if not stopping_already:
                stopping()
            # A second Ctrl-C (force exit) does not wait: closing the engine gives back its jobs.
            node.join(0.5 if server.force_exit else config.grace + 5)
            for number, handler in previous.items():
                signal.signal(number, handler)
        if failure and not isinstance(failure[0], KeyboardInterrupt):
            return 1
        if not server.started:
            return 1
        say("stopped")
        return 0
    finally:
        engine.close()


def _ignore(number: int, frame: FrameType | None) -> None:
    """Swallows a signal that uvicorn raises again after its graceful shutdown."""
