"""The onboarding example's tests: an engine with version 1 deployed and the handlers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from legato.testing import TestEngine

HERE = Path(__file__).parent


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestEngine:
    """A test engine with ``onboarding.bpmn`` deployed and ``handlers.py`` registered (its
    payment provider keeps its ledger in ``tmp_path``; ``engine.payments`` is it)."""
    monkeypatch.setenv("ONBOARDING_LEDGER", str(tmp_path / "payments.json"))
    spec = importlib.util.spec_from_file_location("onboarding_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    handlers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    engine = TestEngine()
    engine.deploy(HERE / "onboarding.bpmn")
    engine.register_module(handlers)
    engine.payments = handlers.PAYMENTS  # type: ignore[attr-defined]
    return engine
