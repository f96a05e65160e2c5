"""The event log's reads (``EventLogReads``) on every store adapter: instances by key in pages
under every filter, and histories in (instance, position) order in pages that resume after
the last event read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from legato.store.history import EventLogQuery
from legato.store.memory import MemoryStore
from legato.store.ports import Store
from legato.store.records import DefinitionRecord, HistoryChunk, HistoryRecord, InstanceRecord
from legato.store.sql import SqlStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    made: Store = MemoryStore() if request.param == "memory" else SqlStore("sqlite://")
    yield made
    made.close()


def _definition(key: int, process_id: str, version: int) -> DefinitionRecord:
    return DefinitionRecord(
        definition_key=key,
        process_id=process_id,
        version=version,
        resource_name=f"{process_id}.bpmn",
        source="<definitions/>",
        checksum=f"{process_id}-{version}",
        deployed_at=T0,
    )


def _instance(key: int, definition: DefinitionRecord, **changes: object) -> InstanceRecord:
    record = InstanceRecord(
        instance_key=key,
        definition_key=definition.definition_key,
        process_id=definition.process_id,
        version=definition.version,
        status="active",
        business_key=f"bk-{key}",
        started_at=T0 + timedelta(hours=key),
        ended_at=None,
        state={"big": "x" * 100},
    )
    return replace(record, **changes)  # type: ignore[arg-type]


ORDER_1 = _definition(1, "order", 1)
ORDER_2 = _definition(2, "order", 2)
REFUND = _definition(3, "refund", 1)


def _seed(store: Store) -> None:
    """Six instances: order v1 (10, 11, 12), order v2 (13, 14), refund (15)."""
    with store.transaction() as tx:
        for definition in (ORDER_1, ORDER_2, REFUND):
            tx.insert_definition(definition)
        tx.insert_instance(_instance(10, ORDER_1, status="completed", ended_at=T0 + timedelta(20)))
        tx.insert_instance(_instance(11, ORDER_1, status="terminated", ended_at=T0 + timedelta(1)))
        tx.insert_instance(_instance(12, ORDER_1))
        tx.insert_instance(_instance(13, ORDER_2, status="completed", ended_at=T0 + timedelta(2)))
        tx.insert_instance(_instance(14, ORDER_2, suspended=True))
        tx.insert_instance(_instance(15, REFUND, status="completed", ended_at=T0 + timedelta(3)))


def _keys(store: Store, query: EventLogQuery, page: int = 100) -> list[int]:
    """Every key ``query`` selects, read in pages of ``page``."""
    keys: list[int] = []
    after: int | None = None
    while True:
        with store.transaction() as tx:
            found = tx.event_log_instances(query, after=after, limit=page)
        assert len(found) <= page
        if not found:
            return keys
        keys += [record.instance_key for record in found]
        after = found[-1].instance_key


def test_instances_come_by_key_without_their_states(store: Store) -> None:
    _seed(store)
    with store.transaction() as tx:
        found = tx.event_log_instances(EventLogQuery(), after=None, limit=10)
    assert [r.instance_key for r in found] == [10, 11, 12, 13, 14, 15]
    assert all(r.state == {} for r in found)
    assert found[0] == replace(
        _instance(10, ORDER_1), status="completed", state={}, ended_at=T0 + timedelta(20)
    )
    assert found[4].suspended


@pytest.mark.parametrize("page", [1, 2, 100])
def test_pages_resume_after_the_last_key(store: Store, page: int) -> None:
    _seed(store)
    assert _keys(store, EventLogQuery(), page) == [10, 11, 12, 13, 14, 15]
    assert _keys(store, EventLogQuery(process_id="order"), page) == [10, 11, 12, 13, 14]


def test_every_filter_holds(store: Store) -> None:
    _seed(store)
    cases = [
        (EventLogQuery(process_id="order", versions=(2,)), [13, 14]),
        (EventLogQuery(process_id="order", versions=(1, 2)), [10, 11, 12, 13, 14]),
        (EventLogQuery(statuses=("completed",)), [10, 13, 15]),
        (EventLogQuery(statuses=("active", "terminated")), [11, 12, 14]),
        (EventLogQuery(process_id="order", statuses=("completed",)), [10, 13]),
        (EventLogQuery(instance_keys=(15, 11, 99)), [11, 15]),
        (EventLogQuery(instance_keys=(10, 13), statuses=("active",)), []),
        (EventLogQuery(started_from=T0 + timedelta(hours=12)), [12, 13, 14, 15]),
        (EventLogQuery(started_before=T0 + timedelta(hours=12)), [10, 11]),
        (
            EventLogQuery(
                started_from=T0 + timedelta(hours=11), started_before=T0 + timedelta(hours=14)
            ),
            [11, 12, 13],
        ),
        # An end bound leaves out the instances that have not ended.
        (EventLogQuery(ended_from=T0 + timedelta(days=2)), [10, 13, 15]),
        (EventLogQuery(ended_before=T0 + timedelta(days=3)), [11, 13]),
    ]
    for query, expected in cases:
        assert _keys(store, query) == expected, query
        assert _keys(store, query, page=1) == expected, query


def test_a_long_key_list_is_read_in_bounded_pieces(store: Store) -> None:
    _seed(store)
    # Far more keys than one IN list holds, nearly all unknown: the known ones are found.
    keys = (*range(1000, 2200), 14, 10, 15)
    assert _keys(store, EventLogQuery(instance_keys=keys)) == [10, 14, 15]
    assert _keys(store, EventLogQuery(instance_keys=keys), page=1) == [10, 14, 15]


def _event(key: int, position: int, at: datetime) -> HistoryRecord:
    return HistoryRecord(key, position, "ElementActivated", at, {"key": position}, f"e{position}")


def _events(chunks: list[HistoryChunk]) -> list[HistoryRecord]:
    return [record for chunk in chunks for record in chunk.records()]


def test_histories_come_in_pages_by_instance_and_position(store: Store) -> None:
    _seed(store)
    t1, t2 = T0, T0 + timedelta(seconds=1)
    # Commands of one instance share an instant: SQL stores keep them as one chunk each.
    first_10 = [_event(10, p, t1) for p in (1, 2, 3)]
    first_12 = [_event(12, p, t1) for p in (1, 2)]
    second_10 = [_event(10, p, t2) for p in (4, 5)]
    other = [_event(11, p, t1) for p in (1, 2)]
    with store.transaction() as tx:
        tx.append_history([*first_10, *first_12, *other])
    with store.transaction() as tx:
        tx.append_history(second_10)
    everything = [*first_10, *second_10, *first_12]
    for limit in (1, 2, 3, 100):
        read: list[HistoryRecord] = []
        after: tuple[int, int] | None = None
        while True:
            with store.transaction() as tx:
                chunks = tx.history_chunks([12, 10, 99], after=after, limit=limit)
            assert len(chunks) <= limit
            if not chunks:
                break
            read += _events(chunks)
            last = read[-1]
            after = (last.instance_key, last.position)
        assert read == everything, limit


def test_a_page_may_start_inside_an_instance(store: Store) -> None:
    _seed(store)
    with store.transaction() as tx:
        tx.append_history([_event(10, p, T0) for p in (1, 2, 3)])
        tx.append_history([_event(12, 1, T0)])
    with store.transaction() as tx:
        tx.append_history([_event(10, 4, T0 + timedelta(seconds=1))])
    with store.transaction() as tx:
        assert _events(tx.history_chunks([10, 12], after=(10, 3), limit=10)) == [
            _event(10, 4, T0 + timedelta(seconds=1)),
            _event(12, 1, T0),
        ]
        assert _events(tx.history_chunks([10, 12], after=(10, 4), limit=10)) == [_event(12, 1, T0)]
        assert tx.history_chunks([10, 12], after=(12, 1), limit=10) == []
        assert tx.history_chunks([], after=None, limit=10) == []
