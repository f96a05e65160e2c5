"""``--log-format json`` (or ``LEGATO_LOG_FORMAT=json``): one JSON object per line, with the
instance, element and job keys on every line that concerns a job."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpmn_helpers import chain, process, service
from legato import Engine, Job
from legato.cli.app import app
from legato.cli.logs import JsonLines
from legato.runtime.logcontext import JobLogFilter
from legato.store.memory import MemoryStore

CHARGE = process(
    '<bpmn:startEvent id="s"/>' + service("charge", "charge") + '<bpmn:endEvent id="e"/>'
    "" + chain("s", "charge", "e"),
    process_id="pay",
)

HANDLERS = """
import logging

import legato

log = logging.getLogger("legato.shop")
calls = []


@legato.handler("charge")
def charge(job):
    calls.append(job.key)
    log.info("charging %s", job.variables["card"])
    if len(calls) == 1:
        raise RuntimeError("the bank is away")
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Path, int]:
    db = f"sqlite:///{tmp_path / 'logs.db'}"
    with Engine(db) as engine:
        engine.deploy(CHARGE)
        key = engine.start("pay", {"card": "4242"}).key
    handlers = tmp_path / "handlers.py"
    handlers.write_text(HANDLERS)
    return db, handlers, key


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("how", [["--log-format", "json"], ["--log-format", "JSON"], []])
def test_a_worker_logs_json_lines_with_the_keys_of_its_jobs(
    setup: tuple[str, Path, int], how: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, handlers, key = setup
    if not how:
        monkeypatch.setenv("LEGATO_LOG_FORMAT", "json")
    result = CliRunner().invoke(
        app, ["worker", "--handlers", str(handlers), "--db", db, "--until-idle", *how]
    )
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stderr)
    charging = [line for line in lines if line["message"] == "charging 4242"]
    failed = [line for line in lines if line.get("event") == "JobFailed"]
    assert len(charging) == 2 and len(failed) == 1
    with Engine(db) as engine:
        [job_created] = [h for h in engine.history(key) if h.event_type == "JobCreated"]
        job_key = job_created.details["job_key"]
    for line in [*charging, *failed]:
        assert line["instance_key"] == key
        assert line["element_id"] == "charge"
        assert line["job_key"] == job_key
        assert line["level"] in ("info", "warning")


def test_an_unknown_log_format_is_refused(setup: tuple[str, Path, int]) -> None:
    db, handlers, _ = setup
    result = CliRunner().invoke(
        app,
        ["worker", "--handlers", str(handlers), "--db", db, "--until-idle", "--log-format", "xml"],
    )
    assert result.exit_code == 2
    assert "'xml' is not a log format: use text or json" in result.output


def test_embedded_users_add_the_filter_to_their_own_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an application logger whose handler has the job filter, formatting JSON lines
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    keep = Keep()
    keep.addFilter(JobLogFilter())
    keep.setFormatter(JsonLines())
    shop = logging.getLogger("shop")
    shop.addHandler(keep)
    shop.setLevel(logging.INFO)
    try:
        with Engine(store=MemoryStore()) as engine:
            engine.deploy(CHARGE)

            def charge(job: Job) -> None:
                shop.info("charging")

            engine.register("charge", charge)
            instance = engine.start("pay", {"card": "4242"})
            engine.run_until_idle()
            shop.info("after the jobs")
    finally:
        shop.removeHandler(keep)
    during, after = (json.loads(line) for line in records)
    assert during["instance_key"] == instance.key
    assert during["element_id"] == "charge"
    assert during["process_id"] == "pay"
    assert "job_key" in during
    assert "instance_key" not in after
