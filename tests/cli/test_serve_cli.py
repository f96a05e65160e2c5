"""``legato serve`` runs an engine node until SIGTERM; ``legato nodes`` lists the nodes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from legato.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "onboarding" / "onboarding.bpmn"
HANDLERS = ROOT / "examples" / "onboarding" / "handlers.py"
LEGATO = str(Path(sys.executable).with_name("legato"))


def nodes(runner: CliRunner, db: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["nodes", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    listed: list[dict[str, object]] = json.loads(result.output)
    return listed


def test_a_served_node_runs_jobs_heartbeats_and_says_goodbye_on_sigterm(tmp_path: Path) -> None:
    # Given a deployed process and an instance waiting for its service tasks
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["deploy", str(MODEL), "--db", db]).exit_code == 0
    started = runner.invoke(
        app, ["start", "onboarding", "--db", db, "--var", "score=720", "--json"]
    )
    assert started.exit_code == 0, started.output

    # When a node serves the database (with a payment ledger of this test's own: two test
    # runs at once must not share one)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ONBOARDING_LEDGER": str(tmp_path / "payments.json"),
    }
    node = subprocess.Popen(
        [LEGATO, "serve", "--db", db, "--handlers", str(HANDLERS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        # until the instance completed (the fee's first charge fails and is retried after a
        # second) and a heartbeat has counted the jobs
        deadline = time.monotonic() + 120
        listed: list[dict[str, object]] = []
        while True:
            listed = nodes(runner, db)
            if completed(runner, db) and listed and int(str(listed[0]["jobs_done"])) > 0:
                break
            assert time.monotonic() < deadline, f"the node did not finish the instance: {listed}"
            time.sleep(0.2)
        # Then it is listed as running, with its heartbeat
        assert len(listed) == 1
        assert listed[0]["status"] == "running"
        assert listed[0]["pid"] == node.pid
        assert float(str(listed[0]["seconds_since_heartbeat"])) < 10

        # And SIGTERM stops it cleanly, recorded as stopped
        node.send_signal(signal.SIGTERM)
        output, _ = node.communicate(timeout=30)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
    assert node.returncode == 0, output.decode()
    assert b"stopped" in output
    assert [n["status"] for n in nodes(runner, db)] == ["stopped"]
    assert completed(runner, db)


def completed(runner: CliRunner, db: str) -> bool:
    result = runner.invoke(app, ["instances", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    return [i["status"] for i in json.loads(result.output)] == ["completed"]
