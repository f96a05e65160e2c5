"""``legato alerts``, ``legato sla`` and ``legato webhooks`` on a database with an overdue
instance (raised by a test engine on the virtual clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpmn_helpers import chain, process
from legato.cli.app import app
from legato.testing import TestEngine

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
MODEL = process(
    '<bpmn:extensionElements><legato:sla expectedDuration="PT1H"/></bpmn:extensionElements>'
    '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:endEvent id="e"/>'
    + chain("s", "review", "e")
)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    monkeypatch.setenv("LEGATO_DB", url)
    engine = TestEngine(url, start=T0)
    engine.deploy(MODEL)
    engine.start("p")
    engine.clock.advance(timedelta(hours=3))
    engine.close()
    return url


def invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_alerts_lists_resolves_and_shows_json(db: str) -> None:
    listed = json.loads(invoke("alerts", "--json"))
    (alert,) = listed
    assert (alert["kind"], alert["elementId"]) == ("instance_overdue", None)
    assert "instance_overdue" in invoke("alerts")

    assert f"alert {alert['alertKey']} resolved" in invoke(
        "alerts", "resolve", str(alert["alertKey"])
    )

    assert "no open alerts" in invoke("alerts")
    assert "resolved" in invoke("alerts", "--all")


def test_bad_input_is_one_line_naming_it(db: str) -> None:
    assert "--kind" in invoke("alerts", "--kind", "late", code=2)
    assert "no alert 999" in invoke("alerts", "resolve", "999", code=1)
    assert "EXPECTED" in invoke("sla", "set", "p", "soon", code=2)


def test_sla_set_list_and_remove(db: str) -> None:
    invoke("sla", "set", "p", "PT30M", "--element", "review", "--threshold", "3")

    (level,) = json.loads(invoke("sla", "list", "--json"))
    assert level == {
        "processId": "p",
        "version": None,
        "elementId": "review",
        "expectedSeconds": 1800.0,
        "threshold": 3.0,
    }
    assert "removed" in invoke("sla", "remove", "p", "--element", "review")


def test_webhooks_add_list_and_remove(db: str) -> None:
    added = invoke("webhooks", "add", "https://ops.example.com/hook", "--kind", "error_rate")
    assert "secret (shown only now)" in added

    (hook,) = json.loads(invoke("webhooks", "list", "--json"))
    assert (hook["url"], hook["kinds"]) == ("https://ops.example.com/hook", ["error_rate"])
    assert "removed" in invoke("webhooks", "remove", str(hook["webhookKey"]))
    assert "url must be" in invoke("webhooks", "add", "ftp://x", code=1)
