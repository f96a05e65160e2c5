"""Shared fixtures: the corpora, fresh databases, PostgreSQL schemas and the engine tests'
stores."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Fixtures for every test below; imported after the path is set (so not at the top).
from engine_stores import engine_store, postgres_pool, sqlite_pool  # noqa: E402
from postgres_fixtures import (  # noqa: E402
    empty_postgres_url,
    fresh_postgres_url,
    postgres_store,
    postgres_url,
)

# Property tests are judged on what they compute, not on how fast: with two suites on two
# cores an example can take longer than Hypothesis' 200 ms deadline (it then reports a flaky
# failure), and generating data longer than its "too slow" health check allows.
settings.register_profile("legato", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("legato")

# The terminal size variables of the process that runs the suite. A pytest-xdist worker gets
# COLUMNS=80 and LINES=24 set in its environment before any test is collected (readline sets
# them when the worker imports it), and the CLI's console reads COLUMNS when legato.cli.app
# is imported: its tables would then be cut at 80 columns in a worker only.
TERMINAL_SIZE = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: WorkerController) -> None:
    """(pytest-xdist, in the controller) Hand this process' terminal size to the worker."""
    node.workerinput["terminal_size"] = {name: os.environ.get(name) for name in TERMINAL_SIZE}


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker, the controller's terminal size, before any collection."""
    workerinput: dict[str, object] = getattr(config, "workerinput", {})
    given = workerinput.get("terminal_size")
    if isinstance(given, dict):
        for name, value in given.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test with a node id of its own; in a pytest-xdist worker, the tests marked
    ``slow`` first.

    Schemathesis names the test of each API operation after it (``test[GET /v2/...]``) but
    gives them all the node id of the test function; pytest-xdist sends a file's tests to a
    worker by node id (``--dist loadfile``), so it ran the first operation only and counted
    one test. Such tests get the bracketed part of their name in their node id, and a node
    id that is still not unique stops the run.

    The slow tests first, each group in the order collected: the workers take files in that
    order (``scripts/test.sh`` turns off xdist's own order, most tests first, which left the
    longest files, of one or two tests, for the end, one worker running them while the
    other had nothing left).
    """
    shared = {nodeid for nodeid, count in Counter(i.nodeid for i in items).items() if count > 1}
    for item in items:
        label = item.name.partition("[")[2].removesuffix("]")
        if item.nodeid in shared and label:
            # pytest 9.2's node ids are structured: the label goes in as their parameters.
            item._id = item._id.with_params(label)  # type: ignore[attr-defined]
    repeated = [nodeid for nodeid, count in Counter(i.nodeid for i in items).items() if count > 1]
    if repeated:
        raise pytest.UsageError(f"tests that share a node id: {repeated[:5]}")
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


__all__ = [
    "empty_postgres_url",
    "engine_store",
    "fresh_postgres_url",
    "postgres_pool",
    "postgres_store",
    "postgres_url",
    "sqlite_pool",
]


def corpora_root() -> Path:
    """Where the conformance corpora are (``LEGATO_CORPORA`` or ``../shared/corpora``)."""
    return Path(os.environ.get("LEGATO_CORPORA", ROOT.parent / "shared" / "corpora"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
def corpora() -> Path:
    root = corpora_root()
    if not root.exists():
        pytest.skip(f"corpora not found at {root}")
    return root
