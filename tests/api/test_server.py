"""The server runner: configuration precedence, readiness, graceful stops, upload limits,
the token endpoint, and two servers on one PostgreSQL database."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_models import ORDER, PAYMENT
from api_support import WAIT, Api, Server, start_server, wait_until

from legato import Engine
from legato.api.lifecycle import begin_stop
from legato.api.server import ServerConfig, load_config
from legato.security.accounts import Accounts
from legato.testing.server import LEGATO, free_port

SLOW_HANDLERS = Path(__file__).resolve().parent.parent / "cli" / "handlers" / "slow.py"

WORK = ORDER.replace('type="charge"', 'type="work"').replace('id="order"', 'id="work"')


# -- configuration ----------------------------------------------------------------------------


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "legato.toml"
    config.write_text(
        'db = "sqlite:///from-file.db"\nbind = "0.0.0.0:9000"\ngrace = 5\n'
        "max_upload_mb = 2\nlog_json = true\n"
    )
    environ = {"LEGATO_BIND": "127.0.0.1:9100", "LEGATO_GRACE": "7.5"}
    loaded = load_config({"grace": 1.0, "db": None}, environ=environ, config_file=config)
    assert loaded == ServerConfig(
        db="sqlite:///from-file.db",
        bind="127.0.0.1:9100",
        grace=1.0,
        max_upload_mb=2.0,
        log_json=True,
    )
    assert load_config({}, environ={}) == ServerConfig()
    assert loaded.host_port == ("127.0.0.1", 9100)


def test_the_config_file_may_be_named_by_the_environment_and_have_a_server_table(
    tmp_path: Path,
) -> None:
    config = tmp_path / "legato.toml"
    config.write_text('[server]\nbind = "[::1]:8081"\nconcurrency = 4\n')
    loaded = load_config({}, environ={"LEGATO_CONFIG": str(config)})
    assert loaded.host_port == ("::1", 8081)
    assert loaded.concurrency == 4


def test_wrong_configuration_is_refused_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "legato.toml"
    config.write_text("port = 8080\n")
    with pytest.raises(ValueError, match="unknown key 'port'"):
        load_config({}, environ={}, config_file=config)
    with pytest.raises(ValueError, match="grace"):
        load_config({}, environ={"LEGATO_GRACE": "soon"})
    with pytest.raises(ValueError, match="bind"):
        _ = load_config({"bind": "nowhere"}, environ={}).host_port


# -- the token endpoint -----------------------------------------------------------------------


def test_the_token_endpoint_takes_credentials_in_the_body_or_a_basic_header(api: Api) -> None:
    form = {"grant_type": "client_credentials", "client_id": "worker", "client_secret": "worker"}
    body = api.client.post("/oauth/token", data={**form, "audience": "zeebe-api"})
    assert body.status_code == 200, body.text
    token = body.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.client.get("/v2/topology", headers=bearer).status_code == 200

    credentials = base64.b64encode(b"worker:worker").decode()
    for scheme in ("Basic", "Basic:"):
        answer = api.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"{scheme} {credentials}"},
        )
        assert answer.status_code == 200, answer.text


def test_the_token_endpoint_refuses_wrong_credentials_the_oauth_way(api: Api) -> None:
    wrong = api.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "worker", "client_secret": "x"},
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["error_description"]
    missing = api.client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_client"
    grant = api.client.post("/oauth/token", data={"grant_type": "password"})
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"


# -- the real process -------------------------------------------------------------------------


def test_a_parked_long_poll_answers_when_the_server_stops(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    answers: list[httpx.Response] = []

    def poll() -> None:
        with server.http() as http:
            answers.append(
                http.post(
                    "/v2/jobs/activation",
                    json={
                        "type": "nothing",
                        "timeout": 1000,
                        "maxJobsToActivate": 1,
                        "requestTimeout": int(WAIT * 1000),
                    },
                )
            )

    poller = threading.Thread(target=poll)
    poller.start()
    with server.http() as http:
        wait_until(
            lambda: http.get("/legato/v1/server").json()["parkedLongPolls"] == 1,
            "the long poll to park",
        )
    code = server.process.stop(WAIT)
    poller.join(WAIT)
    assert code == 0, server.log
    [answer] = answers
    assert answer.status_code == 200
    assert answer.json() == {"jobs": []}
    assert "stopping" in server.log


def test_a_running_handler_finishes_before_the_server_exits(tmp_path: Path) -> None:
    calls = tmp_path / "calls.log"
    env = {"LEGATO_TEST_LOG": str(calls), "LEGATO_TEST_PAUSE": "1"}
    server = start_server(tmp_path, "--handlers", str(SLOW_HANDLERS), env=env)
    with server.http() as http:
        http.post("/v2/deployments", files={"resources": ("work.bpmn", WORK.encode())})
        created = http.post("/v2/process-instances", json={"processDefinitionId": "work"})
        key = int(created.json()["processInstanceKey"])
    wait_until(lambda: calls.exists() and "start" in calls.read_text(), "the handler to start")
    assert server.process.stop(WAIT) == 0, server.log
    assert "end" in calls.read_text()
    with Engine(server.db) as engine:
        assert engine.instance(key).status == "completed"
        assert engine.instance(key).variables["worked"] is True
        [node] = engine.nodes()
        assert node.status == "stopped"


def test_the_upload_limit_comes_from_the_flag(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--max-upload-mb", "0.001")
    try:
        with server.http() as http:
            big = http.post(
                "/v2/deployments", files={"resources": ("order.bpmn", ORDER.encode() * 2)}
            )
            assert big.status_code == 413
            assert big.json()["status"] == 413
            small = http.post(
                "/v2/deployments", files={"resources": ("p.bpmn", PAYMENT.encode()[:500])}
            )
            assert small.status_code == 400  # cut short, so malformed, but not refused for size
    finally:
        assert server.process.stop(WAIT) == 0


def test_settings_come_from_a_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "legato.toml"
    config.write_text("max_upload_mb = 0.001\ngrace = 2\n")
    server = start_server(tmp_path, "--config", str(config))
    try:
        with server.http() as http:
            answer = http.post(
                "/v2/deployments", files={"resources": ("order.bpmn", ORDER.encode() * 2)}
            )
            assert answer.status_code == 413
    finally:
        assert server.process.stop(WAIT) == 0
    assert "get 2 s" in server.log


def test_the_server_refuses_wrong_credentials_and_answers_right_ones(server: Server) -> None:
    assert httpx.get(f"{server.v2}/topology").status_code == 401
    with server.http() as http:
        topology = http.get("/v2/topology").json()
        assert topology["brokers"][0]["partitions"][0]["role"] == "leader"
        me = http.get("/v2/authentication/me").json()
        assert me["username"] == "admin"
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"client_id": "admin", "client_secret": server.password},
    ).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(f"{server.v2}/topology", headers=bearer).status_code == 200


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_database_are_one_system(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    first = start_server(tmp_path, db=fresh_postgres_url, log="first.log")
    second = start_server(tmp_path, db=fresh_postgres_url, log="second.log")
    try:
        with first.http() as a, second.http() as b:
            deployed = a.post("/v2/deployments", files={"resources": ("order.bpmn", ORDER)})
            assert deployed.status_code == 200, deployed.text
            created = b.post("/v2/process-instances", json={"processDefinitionId": "order"})
            assert created.status_code == 200, created.text
            key = created.json()["processInstanceKey"]
            activation: dict[str, Any] = {
                "type": "charge",
                "timeout": 30_000,
                "maxJobsToActivate": 1,
                "requestTimeout": int(WAIT * 1000),
            }
            [job] = a.post("/v2/jobs/activation", json=activation).json()["jobs"]
            assert job["processInstanceKey"] == key
            assert b.post(f"/v2/jobs/{job['jobKey']}/completion", json={}).status_code == 204
            instance = a.get(f"/v2/process-instances/{key}").json()
            assert instance["state"] == "COMPLETED"

            def two_brokers() -> bool:
                return len(a.get("/v2/topology").json()["brokers"]) == 2

            wait_until(two_brokers, "both nodes in the topology")
    finally:
        assert first.process.stop(WAIT) == 0, first.log
        assert second.process.stop(WAIT) == 0, second.log


def test_a_server_that_cannot_bind_exits_with_an_error(tmp_path: Path, server: Server) -> None:
    bind = server.url.removeprefix("http://")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    clash = subprocess.run(
        [*LEGATO, "serve", "--http", "--bind", bind, "--db", other],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env={**os.environ, "LEGATO_ADMIN_PASSWORD": "x"},
    )
    assert clash.returncode != 0
    assert "address already in use" in (clash.stdout + clash.stderr).lower()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_the_server_speaks_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    log = tmp_path / "tls.log"
    command = [
        *LEGATO, "serve", "--http", "--bind", f"127.0.0.1:{port}",
        "--db", f"sqlite:///{tmp_path / 'tls.db'}", "--tls-cert", str(cert), "--tls-key", str(key),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=out, env={**os.environ, "LEGATO_ADMIN_PASSWORD": "pw"}
        )
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                answer = httpx.get(f"https://127.0.0.1:{port}/ready", verify=False, timeout=5)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200

        wait_until(ready, "the HTTPS server")
        topology = httpx.get(
            f"https://127.0.0.1:{port}/v2/topology", auth=("admin", "pw"), verify=False
        )
        assert topology.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0, log.read_text()


def test_ready_turns_503_when_a_stop_begins(api: Api) -> None:
    assert api.client.get("/ready").status_code == 200
    begin_stop(api.client.app)  # type: ignore[arg-type]
    answer = api.client.get("/ready")
    assert answer.status_code == 503
    assert answer.json() == {"status": "DOWN"}
    # Activations answer at once (empty) instead of waiting.
    waiting = api.client.post(
        "/v2/jobs/activation",
        json={"type": "charge", "timeout": 1000, "maxJobsToActivate": 1, "requestTimeout": 600_000},
        **api.as_("worker"),
    )
    assert waiting.json() == {"jobs": []}


def test_the_first_start_prints_a_generated_admin_password_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {k: v for k, v in os.environ.items() if k != "LEGATO_ADMIN_PASSWORD"}
    outputs = []
    for run in range(2):
        port = free_port()
        log = tmp_path / f"run-{run}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*LEGATO, "serve", "--http", "--bind", f"127.0.0.1:{port}", "--db", db],
                stdout=out,
                stderr=out,
                env=env,
            )

        def ready(process: subprocess.Popen[bytes] = process, port: int = port) -> bool:
            assert process.poll() is None
            try:
                return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, "the server")
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
        outputs.append(log.read_text())
    [line] = [line for line in outputs[0].splitlines() if "password:" in line]
    password = line.rsplit(": ", 1)[1].strip()
    assert "password" not in outputs[1]
    with Engine(db) as engine:
        assert Accounts(engine.store).authenticate_basic("admin", password) is not None
