"""``legato analytics rebuild``: recomputes the facts the engine wrote, batch by batch, and
resumes from a printed position."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpmn_helpers import chain, process
from legato.cli.app import app
from legato.store.rebuild import rebuild_facts_in_steps
from legato.store.schema import to_micros
from legato.store.sql import SqlStore
from legato.testing import TestEngine

STRAIGHT = process('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e"))


def _facts(url: str, keys: list[int]) -> object:
    engine = TestEngine(url)
    try:
        with engine.store.transaction() as tx:
            return tx.facts_of(keys)
    finally:
        engine.close()


def test_a_rebuild_recomputes_what_the_engine_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    engine = TestEngine(url)
    engine.deploy(STRAIGHT)
    keys = [engine.start("p").key for _ in range(5)]
    engine.close()
    written = _facts(url, keys)

    result = CliRunner().invoke(app, ["analytics", "rebuild", "--db", url, "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "rebuilt the analytics facts of 5 instances" in result.stdout
    positions = re.findall(r"--after (\S+)\)", result.stderr)
    assert len(positions) == 3
    assert _facts(url, keys) == written

    # A rebuild stopped after its first batch is resumed from the position it reached.
    store = SqlStore(url)
    reached: list[str] = []

    def stop(count: int, position: tuple[datetime, int]) -> None:
        reached.append(f"{to_micros(position[0])}:{position[1]}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild_facts_in_steps(store.transaction, batch=2, on_batch=stop)
    store.close()
    assert len(_facts(url, keys)[0]) == 2  # type: ignore[index]
    again = CliRunner().invoke(app, ["analytics", "rebuild", "--db", url, "--after", reached[0]])
    assert again.exit_code == 0, again.output
    assert "of 3 instances" in again.stdout
    assert _facts(url, keys) == written


def test_a_bad_position_is_refused_naming_the_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    result = CliRunner().invoke(app, ["analytics", "rebuild", "--db", url, "--after", "x"])
    assert result.exit_code == 2
    assert "--after" in result.output
