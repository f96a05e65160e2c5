"""The README's Python examples run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_testing_kit_example_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    [block] = [b for b in _python_blocks() if "def test_low_scores_wait_for_a_manager" in b]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    test = namespace["test_low_scores_wait_for_a_manager"]
    assert callable(test)
    test()


def test_the_engine_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    os.symlink(ROOT / "examples", tmp_path / "examples")
    [block] = [b for b in _python_blocks() if "legato.Engine(" in b]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert (tmp_path / "legato.db").exists()


def test_the_simulation_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    [block] = [b for b in _python_blocks() if "legato.simulation" in b]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    report = namespace["report"]
    assert getattr(report, "instances_completed", 0) > 1000
