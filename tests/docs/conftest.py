"""The README's testing-kit example runs on every store (``tests/engine_stores.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _on_every_store(engine_store: str) -> str:
    return engine_store
