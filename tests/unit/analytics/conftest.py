"""Every export test runs on each store: memory, SQLite and PostgreSQL (see
``tests/engine_stores.py``); the test ids name the store."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _on_every_store(engine_store: str) -> str:
    return engine_store
