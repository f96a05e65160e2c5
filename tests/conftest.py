"""Shared fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def corpora_root() -> Path:
    """Where the conformance corpora are (``LEGATO_CORPORA`` or ``../shared/corpora``)."""
    return Path(os.environ.get("LEGATO_CORPORA", ROOT.parent / "shared" / "corpora"))


@pytest.fixture
def corpora() -> Path:
    root = corpora_root()
    if not root.exists():
        pytest.skip(f"corpora not found at {root}")
    return root
