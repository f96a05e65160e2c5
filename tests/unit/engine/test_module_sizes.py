"""The engine's modules stay a few hundred lines each: none over :data:`LIMIT` lines.

A module that grows past the limit is split by topic (as the appliers and the migration were);
the failure names every module over it with its line count.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[3] / "src" / "legato" / "engine"
LIMIT = 400


@pytest.fixture(autouse=True)
def _on_every_store() -> None:
    """Reads source files only: these tests run once, not once per store."""


def oversized(package: Path, limit: int = LIMIT) -> list[str]:
    """Each module under ``package`` (subpackages included) longer than ``limit`` lines, as
    ``"path: N lines"`` with the path relative to ``package``."""
    found = []
    for module in sorted(package.rglob("*.py")):
        lines = len(module.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append(f"{module.relative_to(package).as_posix()}: {lines} lines")
    return found


def test_no_engine_module_is_over_the_limit() -> None:
    assert ENGINE.is_dir(), ENGINE
    too_long = oversized(ENGINE)
    assert not too_long, f"engine modules over {LIMIT} lines (split them by topic): {too_long}"


def test_a_module_over_the_limit_is_named_with_its_line_count(tmp_path: Path) -> None:
    (tmp_path / "short.py").write_text("x = 1\n" * LIMIT, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "long.py").write_text("x = 1\n" * (LIMIT + 1), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x\n" * (LIMIT + 50), encoding="utf-8")

    assert oversized(tmp_path) == [f"sub/long.py: {LIMIT + 1} lines"]
