"""``legato serve --http`` with a key ring: values go in and come out in the clear over HTTP,
and are stored encrypted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from api_models import ORDER
from api_support import start_server

from legato import Engine
from legato.api.server import ServerConfig, load_config
from legato.security.keyring import new_key, write_key_file

WORK = ORDER.replace('type="charge"', 'type="work"').replace('id="order"', 'id="work"')
SECRET = "card-4111-secret"


def test_the_key_ring_and_the_mode_come_from_the_environment() -> None:
    environ = {"LEGATO_KEYRING": "keys.json", "LEGATO_ENCRYPTION": "everything"}
    loaded = load_config({}, environ=environ)
    assert loaded == ServerConfig(keyring="keys.json", encryption="everything")


def test_a_server_with_a_key_ring_stores_values_encrypted(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    write_key_file(keys, {"k1": new_key()})
    env = {"LEGATO_KEYRING": str(keys), "LEGATO_ENCRYPTION": "everything"}
    server = start_server(tmp_path, env=env)
    with server.http() as http:
        http.post("/v2/deployments", files={"resources": ("work.bpmn", WORK.encode())})
        created = http.post(
            "/v2/process-instances",
            json={"processDefinitionId": "work", "variables": {"card": SECRET}},
        )
        key = int(created.json()["processInstanceKey"])
        found = http.post(
            "/v2/variables/search", json={"filter": {"processInstanceKey": str(key)}}
        ).json()
        assert [v["value"] for v in found["items"] if v["name"] == "card"] == [f'"{SECRET}"']
    server.process.stop(30)
    connection = sqlite3.connect(tmp_path / "server.db")
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    assert "instances" in dump and SECRET not in dump
    with Engine(server.db, keyring=str(keys)) as engine:
        assert engine.instance(key).variables["card"] == SECRET
    with Engine(server.db, keyring=None) as engine:
        # Without the key ring the value stays sealed.
        assert SECRET not in str(engine.instance(key).variables["card"])
