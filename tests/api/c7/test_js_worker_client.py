"""The real ``camunda-external-task-client-js`` 3.1.0 (Camunda's own worker, the largest C7
user base), unchanged, against a live Legato server: it parses answers only when their
``Content-Type`` is exactly ``application/json``, sends lowercase variable types, long polls,
completes, fails, throws BPMN errors, extends, unlocks and locks.

It needs Node.js and the client installed in a folder named by ``LEGATO_C7_JS_CLIENT``::

    mkdir -p ~/c7js && cd ~/c7js && npm install camunda-external-task-client-js@3.1.0
    LEGATO_C7_JS_CLIENT=~/c7js pytest tests/api/c7/test_js_worker_client.py

and is skipped otherwise (the suite does not fetch from npm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from c7_support import WORKER, wait_for

from legato import Engine

CLIENT_DIR = Path(os.environ.get("LEGATO_C7_JS_CLIENT", "/nonexistent"))
SCRIPT = Path(__file__).parent / "js" / "worker.mjs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not (CLIENT_DIR / "node_modules" / "camunda-external-task-client-js").is_dir(),
    reason="Node.js and camunda-external-task-client-js (LEGATO_C7_JS_CLIENT) are needed",
)


def test_the_js_worker_completes_fails_and_throws(
    live_server: str, engine: Engine, tmp_path: Path
) -> None:
    done = engine.start("order", {"mode": "complete", "amount": 21, "customer": {"name": "Ann"}})
    relocked = engine.start("order", {"mode": "relock", "amount": 1})
    failed = engine.start("order", {"mode": "fail"})
    caught = engine.start("order", {"mode": "error"})
    log = tmp_path / "js-worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            ["node", str(SCRIPT), str(CLIENT_DIR), live_server, *WORKER],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: (
                engine.instance(done.key).status == "completed"
                and engine.instance(relocked.key).status == "completed"
                and engine.instance(caught.key).status == "completed"
                and engine.incidents(instance_key=failed.key)
            ),
            timeout=120,
            what=f"the JS worker's results (its log: {log})",
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    variables = engine.instance(done.key).variables
    assert variables["charged"] is True
    assert variables["doubled"] == 42
    assert variables["big"] == 3_000_000_000
    assert variables["ratio"] == 0.5
    assert variables["customerName"] == "Ann"  # the client parsed the Json variable
    assert variables["receipt"] == {"no": 7, "items": [1, 2]}
    assert variables["when"] == datetime(1970, 1, 1, tzinfo=UTC)
    assert engine.instance(relocked.key).variables["charged"] is True
    [incident] = engine.incidents(instance_key=failed.key)
    assert incident.message == "card declined"
    assert "out_of_stock" in [entry.element_id for entry in engine.history(caught.key)]
