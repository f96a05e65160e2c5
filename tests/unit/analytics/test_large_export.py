"""A large export streams: 200,000 log events are written while memory holds a page, not
the log (the peak of Python's allocations is measured against the size of the data)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bpmn_helpers import services_in_sequence
from legato.analytics import ExportSummary, export_csv, export_xes
from legato.store.ports import Store
from legato.store.records import DefinitionRecord, HistoryChunk, InstanceRecord
from legato.store.sql import SqlStore

TASKS = [(f"t{i}", "work") for i in range(10)]
ELEMENTS = ["s", *(element_id for element_id, _ in TASKS), "e"]
LOG_EVENTS_PER_INSTANCE = 2 * len(ELEMENTS)
INSTANCES = 200_000 // LOG_EVENTS_PER_INSTANCE + 1
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_every_store() -> None:
    """On SQLite only (this folder's default runs each test on every store)."""


def _instance_history(key: int, started: datetime) -> list[HistoryChunk]:
    """What the engine records for one run of the sequence: a chunk per command."""
    chunks = []
    position = 1
    events: list[list[object]] = [
        ["InstanceCreated", None, {"instance_key": key, "process_id": "p"}]
    ]
    element_key = key * 100
    for step, element_id in enumerate(ELEMENTS):
        kind = (
            "startEvent"
            if element_id == "s"
            else "endEvent"
            if element_id == "e"
            else "serviceTask"
        )
        element_key += 1
        events.append(
            [
                "ElementActivated",
                element_id,
                {
                    "key": element_key,
                    "element_id": element_id,
                    "element_kind": kind,
                    "parent_key": key,
                    "is_mi_body": False,
                },
            ]
        )
        if kind == "serviceTask":
            # A job's completion is the next command, a minute later.
            chunks.append(HistoryChunk(key, position, started + timedelta(minutes=step), events))
            position += len(events)
            events = [["JobCompleted", None, {"job_key": element_key + 50, "variables": {}}]]
        events.append(
            ["ElementCompleted", element_id, {"key": element_key, "element_id": element_id}]
        )
    events.append(["InstanceCompleted", None, {}])
    chunks.append(HistoryChunk(key, position, started + timedelta(minutes=len(ELEMENTS)), events))
    return chunks


def _fill(store: Store) -> None:
    definition = DefinitionRecord(
        definition_key=1,
        process_id="p",
        version=1,
        resource_name="p.bpmn",
        source=services_in_sequence(*TASKS),
        checksum="p-1",
        deployed_at=T0,
    )
    with store.transaction() as tx:
        tx.insert_definition(definition)
    for first in range(0, INSTANCES, 1000):
        with store.transaction() as tx:
            keys = range(1000 + first, 1000 + min(first + 1000, INSTANCES))
            started = [T0 + timedelta(seconds=key) for key in keys]
            tx.insert_instances(
                [
                    InstanceRecord(
                        key, 1, "p", 1, "completed", f"bk-{key}", at, at + timedelta(hours=1), {}
                    )
                    for key, at in zip(keys, started, strict=True)
                ]
            )
            tx.append_history_chunks(
                [
                    chunk
                    for key, at in zip(keys, started, strict=True)
                    for chunk in _instance_history(key, at)
                ]
            )


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("large-export")
    store = SqlStore(f"sqlite:///{folder / 'big.db'}", synchronous="OFF")
    _fill(store)
    yield store
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize("export", [export_xes, export_csv], ids=["xes", "csv"])
def test_a_large_export_holds_a_page_not_the_log(
    big_store: Store, tmp_path: Path, export: Callable[..., ExportSummary]
) -> None:
    target = tmp_path / "log.out"
    tracemalloc.start()
    try:
        summary = export(big_store, target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.cases == INSTANCES
    assert summary.events == INSTANCES * LOG_EVENTS_PER_INSTANCE >= 200_000
    size = target.stat().st_size
    # Holding the log (or its text) would take more than its size; a page of instances and
    # of history rows, and the text of a thousand events, take a small share of it (about
    # 2 MB, against 19 MB of CSV and 86 MB of XES).
    assert peak < size / 8, (peak, size)
