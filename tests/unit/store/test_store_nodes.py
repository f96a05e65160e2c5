"""The coordination part of the store contract: node heartbeats, releasing a dead node's
jobs, named locks and the database clock, on every adapter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from legato.errors import ConflictError
from legato.store.memory import MemoryStore
from legato.store.ports import Store
from legato.store.records import (
    DefinitionRecord,
    HistoryRecord,
    InstanceRecord,
    JobRecord,
    NodeRecord,
)
from legato.store.sql import SqlStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LONG_ENOUGH = 120.0
"""Seconds a thread waits for another in these tests: a bound for a hang, never reached."""


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    made: Store = (
        MemoryStore() if request.param == "memory" else SqlStore(f"sqlite:///{tmp_path / 'n.db'}")
    )
    yield made
    made.close()


def node(node_id: str, heartbeat_at: datetime, status: str = "running") -> NodeRecord:
    return NodeRecord(
        node_id=node_id,
        host="host-a",
        pid=42,
        started_at=T0,
        heartbeat_at=heartbeat_at,
        status=status,
        jobs_done=7,
        timers_fired=3,
        load=0.25,
    )


def seed_instance(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_definition(
            DefinitionRecord(1, "p", 1, "p.bpmn", "<definitions/>", "sha", T0, None)
        )
        tx.insert_instance(InstanceRecord(10, 1, "p", 1, "active", None, T0, None, {}))


def held_job(key: int, worker: str | None, state: str = "activated") -> JobRecord:
    return JobRecord(
        job_key=key,
        instance_key=10,
        element_instance_key=11,
        element_id="task",
        job_type="work",
        retries=3,
        state=state,
        due_at=T0,
        worker=worker,
        lease_until=T0 + timedelta(hours=1) if worker else None,
    )


def test_a_heartbeat_is_saved_and_replaced(store: Store) -> None:
    with store.transaction() as tx:
        tx.save_node(node("b", T0))
        tx.save_node(node("a", T0))
    with store.transaction() as tx:
        tx.save_node(node("a", T0 + timedelta(seconds=5)))
    with store.transaction() as tx:
        listed = tx.list_nodes()
    assert [n.node_id for n in listed] == ["a", "b"]
    assert listed[0] == node("a", T0 + timedelta(seconds=5))


def test_silent_nodes_are_marked_dead_and_their_jobs_become_due_at_once(store: Store) -> None:
    seed_instance(store)
    with store.transaction() as tx:
        tx.save_node(node("silent", T0))
        tx.save_node(node("alive", T0 + timedelta(seconds=50)))
        tx.save_node(node("gone", T0, status="stopped"))
        tx.insert_jobs(
            [held_job(1, "silent"), held_job(2, "alive"), held_job(3, None, "activatable")]
        )
    now = T0 + timedelta(seconds=60)
    with store.transaction() as tx:
        assert tx.release_dead_nodes(now, timedelta(seconds=30)) == ["silent"]
        # A second sweep finds nothing more to release.
        assert tx.release_dead_nodes(now, timedelta(seconds=30)) == []
    with store.transaction() as tx:
        statuses = {n.node_id: n.status for n in tx.list_nodes()}
        taken = tx.activate_jobs(None, "alive", 10, now, now + timedelta(minutes=5))
    assert statuses == {"alive": "running", "gone": "stopped", "silent": "dead"}
    # The dead node's job and the free one are handed out; the live node's lease holds.
    assert sorted(job.job_key for job in taken) == [1, 3]


def test_a_stale_instance_save_is_a_conflict(store: Store) -> None:
    seed_instance(store)
    record = InstanceRecord(10, 1, "p", 1, "active", None, T0, None, {}, revision=1)
    with store.transaction() as tx:
        tx.update_instances([record])
    with pytest.raises(ConflictError), store.transaction() as tx:
        tx.update_instances([record])


def test_named_locks_are_granted_and_the_database_clock_is_optional(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.try_lock("sweep")
        now = tx.database_now()
    if isinstance(store, SqlStore) and store.engine.dialect.name == "postgresql":
        assert now is not None
        assert abs((now - datetime.now(UTC)).total_seconds()) < 60
    else:
        assert now is None


@pytest.mark.postgres
def test_a_named_lock_is_held_by_one_postgres_transaction_at_a_time(postgres_url: str) -> None:
    first, second = SqlStore(postgres_url), SqlStore(postgres_url)
    try:
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with first.transaction() as tx:
                assert tx.try_lock("sweep")
                holding.set()
                # Until the test is done with it, however slow the machine (no timeout
                # that could end the transaction while the other one still checks).
                release.wait(LONG_ENOUGH)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert holding.wait(LONG_ENOUGH)
            with second.transaction() as tx:
                assert not tx.try_lock("sweep")
                assert tx.try_lock("another duty")
        finally:
            release.set()
            thread.join()
        with second.transaction() as tx:
            assert tx.try_lock("sweep")
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_named_locks_of_legato_databases_in_other_schemas_are_apart(
    postgres_url: str, fresh_postgres_url: str
) -> None:
    # Given a store holding the sweep lock in one schema
    first, other = SqlStore(postgres_url), SqlStore(fresh_postgres_url)
    try:
        with first.transaction() as tx:
            assert tx.try_lock("sweep")
            # Then a Legato database in another schema of the same PostgreSQL database
            # sweeps too (advisory locks are database-wide, the duty is per schema)
            with other.transaction() as elsewhere:
                assert elsewhere.try_lock("sweep")
    finally:
        first.close()
        other.close()


@pytest.mark.postgres
def test_reserving_keys_does_not_wait_for_another_nodes_open_transaction(
    postgres_url: str,
) -> None:
    first, second = SqlStore(postgres_url), SqlStore(postgres_url)
    try:
        reserved, release = threading.Event(), threading.Event()
        blocks: list[range] = []

        def hold() -> None:
            with first.transaction() as tx:
                blocks.append(tx.reserve_keys(100))
                reserved.set()
                release.wait(LONG_ENOUGH)  # until the test is done with it

        def reserve() -> None:
            with second.transaction() as tx:
                blocks.append(tx.reserve_keys(100))

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert reserved.wait(LONG_ENOUGH)
            other = threading.Thread(target=reserve)
            other.start()
            # A reservation that waited for the open transaction would wait until it ends,
            # which is after this bound.
            other.join(timeout=60)
            finished_while_held = not other.is_alive()
        finally:
            release.set()
            holder.join()
        other.join()
        assert finished_while_held
        assert set(blocks[0]).isdisjoint(blocks[1])
    finally:
        first.close()
        second.close()


def test_many_rows_inserted_at_once_read_back_in_order(store: Store) -> None:
    # More rows than one multi-row INSERT takes on PostgreSQL (100), with NULLs among them.
    seed_instance(store)
    records = [
        HistoryRecord(
            instance_key=10,
            position=i,
            event_type="VariableSet",
            at=T0 + timedelta(microseconds=i),
            payload={"name": f"v{i}", "value": i},
            element_id=None if i % 3 else f"task{i}",
        )
        for i in range(1, 251)
    ]
    with store.transaction() as tx:
        tx.append_history(records)
    with store.transaction() as tx:
        assert tx.history(10) == records
