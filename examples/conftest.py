"""The examples' tests run on every store, like the engine tests (``tests/engine_stores.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engine_stores import engine_store, postgres_pool, sqlite_pool

__all__ = ["engine_store", "postgres_pool", "sqlite_pool"]


@pytest.fixture(autouse=True)
def _on_every_store(engine_store: str) -> str:
    return engine_store
