"""Sensitive values on the command line: ``show``, ``instances``, ``incidents`` and the
retention archive mask them unless ``--reveal`` (which the audit trail records); the event
log exports carry no variable at all; a wrong policy file is refused naming it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpmn_helpers import chain, process, service
from legato import Engine
from legato.cli.app import app
from legato.runtime.clock import VirtualClock
from legato.runtime.types import Job
from legato.security.audit import AuditTrail
from legato.store.audit import AuditQuery
from legato.store.sql import SqlStore

SSN = "078-05-1120"
IBAN = "DE89 3704 0044 0532 0130 00"
MODEL = process(
    '<bpmn:extensionElements><legato:sensitive variables="ssn"/></bpmn:extensionElements>'
    '<bpmn:startEvent id="s"/>' + service("check", "check") + '<bpmn:endEvent id="e"/>'
    "" + chain("s", "check", "e"),
    process_id="onboarding",
)


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, int, int]:
    """A database with an instance stopped at an incident that quotes the SSN, and one that
    completed 40 days ago; the keys of both."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    clock = VirtualClock(datetime.now(UTC) - timedelta(days=40))
    with Engine(url, clock=clock) as engine:
        engine.deploy(MODEL)
        engine.register("check", lambda job: None)
        done = engine.start("onboarding", {"ssn": SSN, "iban": IBAN}).key
        engine.run_until_idle()
        clock.advance(timedelta(days=40))

        def fail(job: Job) -> None:
            raise ValueError(f"no record of {job.variables['ssn']}")

        engine.register("check", fail)
        stuck = engine.start("onboarding", {"ssn": SSN}).key
        for _ in range(3):
            engine.run_until_idle()
            clock.advance(timedelta(minutes=10))
    return url, stuck, done


def invoke(*args: str, code: int = 0) -> str:
    # A wide terminal: an error panel must not fold the (long) path of the policy file.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    assert result.exit_code == code, result.output
    return result.output


def reveals(url: str) -> list[dict[str, object]]:
    store = SqlStore(url)
    try:
        return [r.details for r in AuditTrail(store).records(AuditQuery(action="value.reveal"))]
    finally:
        store.close()


def test_show_instances_and_incidents_mask_unless_revealed(db: tuple[str, int, int]) -> None:
    url, stuck, _ = db
    for args in (
        ("show", str(stuck)),
        ("show", str(stuck), "--json"),
        ("instances", "--json"),
        ("incidents",),
        ("incidents", "--json"),
    ):
        output = invoke(*args, "--db", url)
        assert SSN not in output and "****" in output, args
    assert reveals(url) == []

    assert SSN in invoke("show", str(stuck), "--json", "--reveal", "--db", url)
    (details,) = reveals(url)
    assert details["revealed"] == [
        {"process_id": "onboarding", "instance_key": stuck, "variables": ["ssn"]}
    ]


def test_the_retention_archive_is_masked_unless_revealed(
    db: tuple[str, int, int], tmp_path: Path
) -> None:
    url, _, done = db
    archive = tmp_path / "archive.jsonl"

    invoke("retention", "--older-than", "30d", "--archive", str(archive), "--db", url)

    (line,) = [json.loads(text) for text in archive.read_text(encoding="utf-8").splitlines()]
    assert line["instance"]["instance_key"] == done
    assert line["instance"]["state"]["variables"][str(done)]["ssn"] == "****"
    assert line["instance"]["state"]["variables"][str(done)]["iban"] == IBAN  # not sensitive
    assert SSN not in json.dumps(line)


def test_the_event_log_exports_carry_no_variable(db: tuple[str, int, int]) -> None:
    url, _, _ = db
    for kind in ("xes", "csv"):
        assert SSN not in invoke("export", kind, "--db", url, "--process", "onboarding")


def test_a_policy_and_its_detectors_apply_and_a_wrong_one_is_refused(
    db: tuple[str, int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, stuck, _ = db
    policy = tmp_path / "policy.toml"
    policy.write_text('[sensitive]\ndetect = ["iban"]\n', encoding="utf-8")
    assert IBAN in invoke("instances", "--json", "--db", url)
    monkeypatch.setenv("LEGATO_POLICY", str(policy))
    assert IBAN not in invoke("instances", "--json", "--db", url)

    policy.write_text('[sensitive]\ndetect = ["ssn"]\n', encoding="utf-8")
    refused = invoke("show", str(stuck), "--db", url, code=2)
    assert "policy.toml" in refused and "sensitive.detect[0]" in refused


@pytest.mark.parametrize("http", [False, True])
def test_serve_refuses_a_wrong_policy_before_it_starts(tmp_path: Path, http: bool) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[sensitive]\nvariables = ['a..b']\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'serve.db'}"

    refused = invoke(
        "serve", *(["--http", "--bind", "127.0.0.1:1"] if http else []),
        "--policy", str(policy), "--db", url, code=2,
    )  # fmt: skip

    assert "policy.toml" in refused and "sensitive.variables[0]" in refused
