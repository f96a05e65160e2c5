"""One contract for every store adapter: the in-memory fake, SQLite (memory and file) and
PostgreSQL (a schema of this module's own; skipped where no server is reachable)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from legato.errors import NotFoundError, StoreError
from legato.store import migrations
from legato.store.memory import MemoryStore
from legato.store.ports import Store, Transaction
from legato.store.records import (
    DefinitionRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceRecord,
    JobRecord,
    MessageRecord,
    SubscriptionRecord,
    TimerRecord,
    UserTaskRecord,
)
from legato.store.schema import SCHEMA_VERSION
from legato.store.sql import SqlStore

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Boom(Exception):
    pass


@pytest.fixture(
    params=[
        "memory",
        "sqlite-memory",
        "sqlite-file",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite-memory":
        made = SqlStore("sqlite://")
    elif request.param == "sqlite-file":
        made = SqlStore(f"sqlite:///{tmp_path / 'legato.db'}")
    else:
        # Closed by its own fixture.
        yield request.getfixturevalue("postgres_store")
        return
    yield made
    made.close()


# -- builders -------------------------------------------------------------------------------


def definition(key: int = 1, process_id: str = "order", version: int = 1) -> DefinitionRecord:
    return DefinitionRecord(
        definition_key=key,
        process_id=process_id,
        version=version,
        resource_name="order.bpmn",
        source="<definitions/>",
        checksum=f"sha-{process_id}-{version}",
        deployed_at=T0,
        name=f"{process_id} v{version}",
    )


def instance(key: int = 10, definition_key: int = 1, **changes: Any) -> InstanceRecord:
    record = InstanceRecord(
        instance_key=key,
        definition_key=definition_key,
        process_id="order",
        version=1,
        status="active",
        business_key=f"bk-{key}",
        started_at=at(key),
        ended_at=None,
        state={"tokens": [{"element_id": "start", "n": 1}], "vars": {"x": 1.5, "ok": True}},
    )
    return replace(record, **changes)


def event(instance_key: int, position: int, event_type: str = "ElementActivated") -> HistoryRecord:
    return HistoryRecord(
        instance_key=instance_key,
        position=position,
        event_type=event_type,
        at=at(position),
        payload={"position": position, "nested": {"list": [1, "two", None]}},
        element_id=f"task_{position}",
    )


def job(key: int, instance_key: int = 10, **changes: Any) -> JobRecord:
    record = JobRecord(
        job_key=key,
        instance_key=instance_key,
        element_instance_key=key + 1000,
        element_id="charge",
        job_type="payment",
        retries=3,
        due_at=at(0),
        headers={"idempotency": f"job-{key}"},
        created_at=at(0),
    )
    return replace(record, **changes)


def user_task(key: int, instance_key: int = 10, **changes: Any) -> UserTaskRecord:
    record = UserTaskRecord(
        user_task_key=key,
        instance_key=instance_key,
        element_instance_key=key + 1000,
        element_id="approve",
        name="Approve order",
        state="created",
        created_at=at(key),
        candidate_groups=("sales",),
        candidate_users=("ann",),
        due_at=at(3600),
    )
    return replace(record, **changes)


def incident(key: int, instance_key: int = 10, **changes: Any) -> IncidentRecord:
    record = IncidentRecord(
        incident_key=key,
        instance_key=instance_key,
        element_instance_key=key + 1000,
        element_id="charge",
        error_type="JOB_NO_RETRIES",
        message="card declined",
        created_at=at(key),
        job_key=7,
        details="Traceback ...",
    )
    return replace(record, **changes)


def timer(key: int, instance_key: int | None = 10, **changes: Any) -> TimerRecord:
    record = TimerRecord(
        timer_key=key,
        definition_key=1,
        element_id="wait",
        due_at=at(0),
        instance_key=instance_key,
        element_instance_key=None if instance_key is None else key + 1000,
    )
    return replace(record, **changes)


def subscription(
    key: int, correlation_key: str | None = "order-1", instance_key: int | None = 10, **changes: Any
) -> SubscriptionRecord:
    record = SubscriptionRecord(
        subscription_key=key,
        kind="message",
        name="paid",
        definition_key=1,
        element_id="wait_payment",
        correlation_key=correlation_key,
        instance_key=instance_key,
        element_instance_key=None if instance_key is None else key + 1000,
    )
    return replace(record, **changes)


def message(key: int, correlation_key: str | None = "order-1", **changes: Any) -> MessageRecord:
    record = MessageRecord(
        message_key=key,
        name="paid",
        published_at=at(0),
        expires_at=at(60),
        correlation_key=correlation_key,
        variables={"amount": 12.5, "items": [1, "two", None]},
    )
    return replace(record, **changes)


def seed(store: Store, *instance_keys: int) -> None:
    """A definition and active instances to hang jobs, tasks and incidents on."""
    with store.transaction() as tx:
        tx.insert_definition(definition())
        for key in instance_keys or (10,):
            tx.insert_instance(instance(key))


# -- keys -----------------------------------------------------------------------------------


def test_reserved_keys_never_repeat(store: Store) -> None:
    seen: list[int] = []
    for count in (1, 5, 100, 3):
        with store.transaction() as tx:
            keys = tx.reserve_keys(count)
        assert len(keys) == count
        seen.extend(keys)
    assert len(set(seen)) == len(seen)
    assert seen == sorted(seen)
    assert seen[0] >= 1


def test_reserving_no_keys_is_refused(store: Store) -> None:
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.reserve_keys(0)


def test_keys_never_repeat_after_reopening_a_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    first = SqlStore(url)
    with first.transaction() as tx:
        before = tx.reserve_keys(50)
    first.close()
    second = SqlStore(url)
    with second.transaction() as tx:
        after = tx.reserve_keys(50)
    second.close()
    assert set(before).isdisjoint(after)
    assert after.start >= before.stop


def test_concurrent_stores_on_one_file_hand_out_disjoint_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    stores = [SqlStore(url, synchronous="NORMAL") for _ in range(4)]
    results: list[list[int]] = [[] for _ in stores]

    def reserve(index: int) -> None:
        for _ in range(50):
            with stores[index].transaction() as tx:
                results[index].extend(tx.reserve_keys(7))

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for each in stores:
        each.close()
    every = [key for result in results for key in result]
    assert len(every) == 4 * 50 * 7
    assert len(set(every)) == len(every)


# -- definitions ----------------------------------------------------------------------------


def test_definitions_by_key_version_and_latest(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_definition(definition(1, "order", 1))
        tx.insert_definition(definition(3, "order", 3))
        tx.insert_definition(definition(2, "order", 2))
        tx.insert_definition(definition(4, "invoice", 1))

    with store.transaction() as tx:
        assert tx.get_definition(3) == definition(3, "order", 3)
        assert tx.get_definition(99) is None
        assert tx.find_definition("order") == definition(3, "order", 3)
        assert tx.find_definition("order", 2) == definition(2, "order", 2)
        assert tx.find_definition("order", 9) is None
        assert tx.find_definition("unknown") is None
        listed = [(d.process_id, d.version) for d in tx.list_definitions()]
    assert listed == [("invoice", 1), ("order", 1), ("order", 2), ("order", 3)]


def test_a_process_version_exists_once(store: Store) -> None:
    seed(store)
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_definition(definition(2, "order", 1))
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_definition(definition(1, "other", 1))


# -- instances ------------------------------------------------------------------------------


def test_instance_round_trip_and_update(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        stored = tx.get_instance(10)
    assert stored == instance(10)

    changed = replace(
        instance(10),
        revision=1,
        status="completed",
        ended_at=at(99),
        state={"tokens": [], "vars": {"x": 2}},
        incident_count=2,
    )
    with store.transaction() as tx:
        tx.update_instance(changed)
    with store.transaction() as tx:
        assert tx.get_instance(10) == changed
        assert tx.get_instance(11) is None


def test_stale_revision_is_a_conflict(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.update_instance(replace(instance(10), revision=1))

    with pytest.raises(StoreError, match="concurrently"), store.transaction() as tx:
        tx.update_instance(replace(instance(10), revision=1, status="terminated"))
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.update_instance(replace(instance(10), revision=5))
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.update_instance(replace(instance(77), revision=1))

    with store.transaction() as tx:
        current = tx.get_instance(10)
    assert current is not None
    assert (current.revision, current.status) == (1, "active")


def test_batch_saves_check_every_revision(store: Store) -> None:
    # The SQL adapters save a batch with one executemany and compare the driver's total row
    # count (sqlite3 and psycopg both add up the rows of every execution).
    seed(store)
    with store.transaction() as tx:
        tx.insert_instances([instance(11), instance(12)])
    with store.transaction() as tx:
        tx.update_instances([replace(instance(k), revision=1) for k in (10, 11, 12)])
    stale = [replace(instance(10), revision=2), replace(instance(11), revision=1)]
    with pytest.raises(StoreError, match="concurrently"), store.transaction() as tx:
        tx.update_instances(stale)
    with store.transaction() as tx:
        revisions = [tx.get_instance(k).revision for k in (10, 11, 12)]  # type: ignore[union-attr]
    assert revisions == [1, 1, 1]
    # A batch after a failed one is saved and checked as well (PostgreSQL stages a batch in
    # a temporary table of the connection; the failed transaction took nothing with it).
    with store.transaction() as tx:
        tx.update_instances(
            [replace(instance(k), revision=2, status="completed") for k in (10, 11)]
        )
    with pytest.raises(StoreError, match="concurrently"), store.transaction() as tx:
        tx.update_instances([replace(instance(k), revision=2) for k in (11, 12)])
    with store.transaction() as tx:
        assert [tx.get_instance(k) for k in (10, 11, 12)] == [
            replace(instance(10), revision=2, status="completed"),
            replace(instance(11), revision=2, status="completed"),
            replace(instance(12), revision=1),
        ]


def test_state_saves_write_state_and_revision_only(store: Store) -> None:
    # One row alone and several at once (PostgreSQL stages two rows or more), each with the
    # revision check; the summary columns stay as stored whatever the records carry.
    seed(store, 10, 11, 12)
    moved = {"tokens": [{"element_id": "task", "n": 1}], "vars": {"x": 2}}
    with store.transaction() as tx:
        tx.update_instance_states([replace(instance(10), revision=1, state=moved)])
    with store.transaction() as tx:
        tx.update_instance_states(
            [replace(instance(k), revision=1, status="completed", state=moved) for k in (11, 12)]
        )
    with pytest.raises(StoreError, match="concurrently"), store.transaction() as tx:
        tx.update_instance_states(
            [replace(instance(k), revision=r, state={}) for k, r in ((10, 2), (11, 1))]
        )
    with store.transaction() as tx:
        assert [tx.get_instance(k) for k in (10, 11, 12)] == [
            replace(instance(k), revision=1, state=moved) for k in (10, 11, 12)
        ]
        assert tx.count_instances(status="completed") == 0


def test_a_failed_first_batch_save_leaves_later_ones_working(store: Store) -> None:
    # The first batch of a connection fails (and with it whatever that transaction made).
    seed(store, 10, 11)
    with pytest.raises(StoreError, match="concurrently"), store.transaction() as tx:
        tx.update_instances([replace(instance(k), revision=5) for k in (10, 11)])
    with store.transaction() as tx:
        tx.update_instances([replace(instance(k), revision=1) for k in (10, 11)])
    with store.transaction() as tx:
        assert [tx.get_revision(k) for k in (10, 11)] == [1, 1]


def test_instance_needs_its_definition_and_a_fresh_key(store: Store) -> None:
    seed(store)
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_instance(instance(11, definition_key=999))
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_instance(instance(10))
    # Several at once (PostgreSQL streams them with COPY): the same rules, all or nothing.
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_instances([instance(11), instance(10)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_instances([instance(11), instance(12, definition_key=999)])
    with store.transaction() as tx:
        assert tx.get_instance(11) is None
        tx.insert_instances([instance(11), instance(12, business_key="b-12")])
    with store.transaction() as tx:
        assert tx.get_instance(11) == instance(11)
        assert tx.get_instance(12) == instance(12, business_key="b-12")


def test_list_and_count_instances(store: Store) -> None:
    seed(store, 10, 11, 12, 13)
    with store.transaction() as tx:
        tx.update_instance(replace(instance(11), revision=1, status="completed"))
        tx.insert_definition(definition(2, "invoice", 1))
        tx.insert_instance(instance(14, definition_key=2, process_id="invoice"))

    with store.transaction() as tx:
        newest_first = [i.instance_key for i in tx.list_instances()]
        active = [i.instance_key for i in tx.list_instances(status="active")]
        invoices = [i.instance_key for i in tx.list_instances(process_id="invoice")]
        by_business_key = [i.instance_key for i in tx.list_instances(business_key="bk-12")]
        page = [i.instance_key for i in tx.list_instances(limit=2, offset=1)]
        states = [i.state for i in tx.list_instances()]
        counts = (tx.count_instances(), tx.count_instances(status="completed"))

    assert newest_first == [14, 13, 12, 11, 10]
    assert active == [14, 13, 12, 10]
    assert invoices == [14]
    assert by_business_key == [12]
    assert page == [13, 12]
    assert all(state == {} for state in states)
    assert counts == (5, 1)


def test_changing_a_returned_state_does_not_change_the_store(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        loaded = tx.get_instance(10)
        assert loaded is not None
        loaded.state["vars"]["x"] = "mutated"
    with store.transaction() as tx:
        again = tx.get_instance(10)
    assert again is not None
    assert again.state["vars"]["x"] == 1.5


# -- transactions ---------------------------------------------------------------------------


def test_rollback_on_exception_leaves_nothing(store: Store) -> None:
    seed(store)
    with pytest.raises(Boom), store.transaction() as tx:
        tx.insert_instance(instance(11))
        tx.update_instance(replace(instance(10), revision=1, status="completed"))
        tx.append_history([event(11, 1), event(11, 2), event(10, 1)])
        tx.insert_jobs([job(20, instance_key=11)])
        tx.upsert_user_task(user_task(30, instance_key=11))
        tx.upsert_incident(incident(40, instance_key=11))
        tx.insert_start_request("req-1", 11, T0)
        raise Boom

    with store.transaction() as tx:
        assert tx.get_instance(11) is None
        unchanged = tx.get_instance(10)
        assert unchanged is not None
        assert (unchanged.revision, unchanged.status) == (0, "active")
        assert tx.history(11) == []
        assert tx.history(10) == []
        assert tx.get_job(20) is None
        assert tx.list_jobs() == []
        assert tx.get_user_task(30) is None
        assert tx.get_incident(40) is None
        assert tx.find_start_request("req-1") is None
        assert tx.count_instances() == 1


def test_a_store_error_inside_the_block_rolls_back_earlier_writes(store: Store) -> None:
    seed(store)
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_jobs([job(20)])
        tx.update_instance(replace(instance(10), revision=7))
    with store.transaction() as tx:
        assert tx.get_job(20) is None


def test_reads_inside_a_transaction_see_its_own_writes(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_jobs([job(20)])
        tx.append_history([event(10, 1)])
        assert tx.get_job(20) == job(20)
        assert tx.history(10) == [event(10, 1)]
        tx.delete_jobs([20])
        assert tx.get_job(20) is None


def test_transactions_do_not_nest_and_end_with_their_block(store: Store) -> None:
    with store.transaction() as tx:
        with pytest.raises(StoreError), store.transaction():
            pass
        kept: Transaction = tx
    with pytest.raises(StoreError):
        kept.reserve_keys(1)
    with store.transaction() as tx:
        assert tx.reserve_keys(1)


# -- history --------------------------------------------------------------------------------


def test_history_comes_back_in_position_order(store: Store) -> None:
    seed(store, 10, 11)
    with store.transaction() as tx:
        tx.append_history([event(10, 3), event(10, 1)])
        tx.append_history([event(11, 1)])
    with store.transaction() as tx:
        tx.append_history([event(10, 2), event(10, 4, "InstanceCompleted")])
    with store.transaction() as tx:
        expected = [event(10, 1), event(10, 2), event(10, 3), event(10, 4, "InstanceCompleted")]
        assert tx.history(10) == expected
        assert tx.history(11) == [event(11, 1)]
        assert tx.history(99) == []


def test_events_of_one_command_read_back_as_written(store: Store) -> None:
    # Two commands' events for two instances, interleaved the way a batch writes them: each
    # instance's events of one command share an instant (SQL stores keep them as one chunk).
    seed(store, 10, 11)
    t1, t2 = at(1), at(2)

    def step(key: int, first: int, when: datetime, kinds: list[str]) -> list[HistoryRecord]:
        return [
            HistoryRecord(key, first + i, kind, when, {"i": i, "v": [None, {"x": 1.5}]}, f"e{i}")
            for i, kind in enumerate(kinds)
        ]

    first_10 = step(10, 1, t1, ["InstanceCreated", "ElementActivated", "JobCreated"])
    first_11 = step(11, 1, t1, ["InstanceCreated", "ElementActivated"])
    second_10 = step(10, 4, t2, ["JobCompleted", "InstanceCompleted"])
    with store.transaction() as tx:
        tx.append_history([*first_10, *first_11])
    with store.transaction() as tx:
        tx.append_history(second_10)
        assert tx.history(10) == [*first_10, *second_10]
    with store.transaction() as tx:
        assert tx.history(10) == [*first_10, *second_10]
        assert tx.history(11) == first_11
    if isinstance(store, SqlStore):
        with store.engine.connect() as connection:
            chunks = connection.exec_driver_sql(
                "SELECT instance_key, position, event_count FROM history"
            )
            assert sorted(chunks.all()) == [(10, 1, 3), (10, 4, 2), (11, 1, 2)]


def test_history_chunks_are_rewritten_in_place(store: Store) -> None:
    # What a key rotation does: the same events, their payloads encrypted again.
    seed(store, 10)
    with store.transaction() as tx:
        tx.append_history([event(10, 1), event(10, 2)])
    with store.transaction() as tx:
        chunks = tx.history_chunks([10], after=None, limit=100)
        rewritten = [
            chunk._replace(events=[[t, e, {"again": p["position"]}] for t, e, p in chunk.events])
            for chunk in chunks
        ]
        tx.rewrite_history_chunks(rewritten)
    with store.transaction() as tx:
        assert [r.payload for r in tx.history(10)] == [{"again": 1}, {"again": 2}]
        assert [r.element_id for r in tx.history(10)] == ["task_1", "task_2"]
    with pytest.raises(StoreError, match="instance 10 has no"), store.transaction() as tx:
        tx.rewrite_history_chunks([chunks[0]._replace(position=7)])


def test_a_history_position_is_taken_once(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.append_history([event(10, 1)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.append_history([event(10, 2), event(10, 1)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.append_history([event(99, 1)])
    with store.transaction() as tx:
        assert tx.history(10) == [event(10, 1)]


# -- jobs -----------------------------------------------------------------------------------


def test_job_crud(store: Store) -> None:
    seed(store, 10, 11)
    with store.transaction() as tx:
        tx.insert_jobs([job(20), job(21), job(22, instance_key=11)])
    failed = replace(job(21), state="failed", retries=0, error_message="declined")
    with store.transaction() as tx:
        tx.update_job(failed)
        tx.delete_jobs([20, 999])
    with store.transaction() as tx:
        assert tx.get_job(20) is None
        assert tx.get_job(21) == failed
        assert [j.job_key for j in tx.list_jobs()] == [21, 22]
        assert [j.job_key for j in tx.list_jobs(instance_key=11)] == [22]
        assert [j.job_key for j in tx.list_jobs(state="failed")] == [21]
    with pytest.raises(NotFoundError), store.transaction() as tx:
        tx.update_job(job(999))
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_jobs([job(22)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_jobs([job(23, instance_key=999)])
    # Several rows at once (PostgreSQL streams them with COPY): the same rules.
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_jobs([job(24), job(22)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_jobs([job(24), job(25, instance_key=999)])
    with store.transaction() as tx:
        assert tx.get_job(24) is None
        tx.insert_jobs([job(24), job(25, instance_key=11)])
        tx.delete_jobs([22, 24, 998])
    with store.transaction() as tx:
        assert [j.job_key for j in tx.list_jobs()] == [21, 25]
        assert tx.get_job(25) == job(25, instance_key=11)


def test_activate_jobs_respects_due_at_types_and_max(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_jobs(
            [
                job(20, due_at=at(30)),
                job(21, due_at=at(10)),
                job(22, due_at=at(20), job_type="mail"),
                job(23, due_at=at(100)),
                job(24, due_at=at(5), state="failed"),
                job(25, due_at=at(15)),
            ]
        )
    lease = at(200)
    with store.transaction() as tx:
        assert tx.activate_jobs(["payment"], "w0", 0, at(50), lease) == []
        assert tx.activate_jobs([], "w0", 10, at(50), lease) == []
        first = tx.activate_jobs(["payment"], "w1", 2, at(50), lease)
    assert [j.job_key for j in first] == [21, 25]
    assert all(j.state == "activated" and j.worker == "w1" for j in first)
    assert all(j.lease_until == lease for j in first)

    with store.transaction() as tx:
        rest = tx.activate_jobs(None, "w2", 10, at(50), lease)
        assert tx.get_job(21) == first[0]
    assert [j.job_key for j in rest] == [22, 20]
    with store.transaction() as tx:
        assert tx.activate_jobs(None, "w3", 10, at(50), lease) == []


def test_expired_leases_are_handed_out_again(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_jobs([job(20, due_at=at(0)), job(21, due_at=at(1))])
        taken = tx.activate_jobs(None, "dead", 1, at(5), at(60))
    assert [j.job_key for j in taken] == [20]
    with store.transaction() as tx:
        assert [j.job_key for j in tx.activate_jobs(None, "w", 5, at(30), at(90))] == [21]
        assert tx.activate_jobs(None, "w", 5, at(59), at(90)) == []
        again = tx.activate_jobs(None, "alive", 5, at(61), at(120))
    assert [(j.job_key, j.worker, j.lease_until) for j in again] == [(20, "alive", at(120))]


def test_next_job_due_at_counts_due_dates_and_leases(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        assert tx.next_job_due_at(None) is None
        tx.insert_jobs(
            [
                job(20, due_at=at(40)),
                job(21, due_at=at(10), job_type="mail"),
                job(22, due_at=at(1), state="failed"),
            ]
        )
        assert tx.next_job_due_at(None) == at(10)
        assert tx.next_job_due_at(["payment"]) == at(40)
        assert tx.next_job_due_at(["unknown"]) is None
        assert tx.next_job_due_at([]) is None
        tx.activate_jobs(["mail"], "w", 1, at(10), at(70))
        assert tx.next_job_due_at(None) == at(40)
        assert tx.next_job_due_at(["mail"]) == at(70)
        # Jobs a worker holds do not count when only unheld ones are asked for.
        assert tx.next_job_due_at(["mail"], held=False) is None
        assert tx.next_job_due_at(None, held=False) == at(40)


def test_job_type_lists_of_any_length_pick_the_same_jobs(store: Store) -> None:
    # SQL stores pass the types as one prepared list (padded to a power of two on SQLite up
    # to a chunk, longer ones as they are; one array on PostgreSQL).
    seed(store)
    others = [f"other-{n}" for n in range(700)]
    with store.transaction() as tx:
        tx.insert_jobs(
            [
                job(20, due_at=at(30)),
                job(21, due_at=at(10), job_type="mail"),
                job(22, due_at=at(20), job_type="other-650"),
                job(23, due_at=at(25), job_type="sms"),
            ]
        )
    with store.transaction() as tx:
        assert tx.next_job_due_at(["payment", "mail", "sms"], held=False) == at(10)
        assert tx.next_job_due_at([*others, "payment"]) == at(20)
        assert tx.next_job_due_at(others[:600]) is None
        picked = tx.activate_jobs(["sms", "payment", "mail"], "w1", 2, at(50), at(90))
    assert [j.job_key for j in picked] == [21, 23]
    with store.transaction() as tx:
        long_list = tx.activate_jobs([*others, "payment"], "w2", 5, at(50), at(90))
    assert [(j.job_key, j.worker) for j in long_list] == [(22, "w2"), (20, "w2")]
    with store.transaction() as tx:
        assert tx.next_job_due_at(["sms", "mail"]) == at(90)
        assert tx.next_job_due_at(["sms", "mail"], held=False) is None


def test_next_job_due_at_after_a_time(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_jobs(
            [
                job(20, due_at=at(10)),
                job(21, due_at=at(20), job_type="mail"),
                job(22, due_at=at(30)),
            ]
        )
        tx.activate_jobs(["payment"], "w", 1, at(10), at(40))
    with store.transaction() as tx:
        assert tx.next_job_due_at(None, after=at(10)) == at(20)
        assert tx.next_job_due_at(["payment"], after=at(10)) == at(30)
        assert tx.next_job_due_at(["payment"], after=at(30)) == at(40)
        assert tx.next_job_due_at(["payment"], held=False, after=at(30)) is None
        assert tx.next_job_due_at(None, after=at(40)) is None


def test_leases_are_extended_only_for_the_worker_that_holds_them(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_jobs([job(20, due_at=at(0)), job(21, due_at=at(0)), job(22, due_at=at(0))])
        tx.activate_jobs(None, "w1", 2, at(5), at(10))
        tx.activate_jobs(None, "w2", 1, at(5), at(10))
    with store.transaction() as tx:
        # 22 is w2's, 99 does not exist: neither is extended for w1
        assert tx.extend_leases([20, 21, 22, 99], "w1", at(40)) == [20, 21]
    with store.transaction() as tx:
        assert [(j.job_key, j.lease_until) for j in tx.list_jobs()] == [
            (20, at(40)),
            (21, at(40)),
            (22, at(10)),
        ]
        # At 20 only w2's lease ran out.
        assert [j.job_key for j in tx.activate_jobs(None, "w3", 5, at(20), at(60))] == [22]
        assert tx.extend_leases([22], "w2", at(90)) == []


def test_released_jobs_are_due_again_and_keep_their_retries(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_jobs([job(20, due_at=at(3), retries=2), job(21, due_at=at(4))])
        tx.activate_jobs(None, "w1", 2, at(5), at(600))
    with store.transaction() as tx:
        assert tx.release_jobs([20, 21], "other") == 0
        assert tx.release_jobs([20, 99], "w1") == 1
    with store.transaction() as tx:
        released = tx.get_job(20)
        assert released == job(20, due_at=at(3), retries=2)
        assert tx.next_job_due_at(None, held=False) == at(3)
        again = tx.activate_jobs(None, "w2", 5, at(6), at(60))
    assert [(j.job_key, j.worker, j.retries) for j in again] == [(20, "w2", 2)]


# -- user tasks -----------------------------------------------------------------------------


def test_user_tasks_upsert_and_filters(store: Store) -> None:
    seed(store, 10, 11)
    with store.transaction() as tx:
        tx.upsert_user_task(user_task(30))
        tx.upsert_user_task(user_task(31, assignee="bob", candidate_groups=("presales",)))
        tx.upsert_user_task(user_task(32, instance_key=11, candidate_groups=("a_b", "100%")))
        tx.upsert_user_task(user_task(33, candidate_groups=('a","sales',)))
    done = replace(user_task(30), state="completed", completed_at=at(500), completed_by="ann")
    with store.transaction() as tx:
        tx.upsert_user_task(done)

    def keys(tasks: list[UserTaskRecord]) -> list[int]:
        return [t.user_task_key for t in tasks]

    with store.transaction() as tx:
        assert tx.get_user_task(30) == done
        assert tx.get_user_task(31) == user_task(31, assignee="bob", candidate_groups=("presales",))
        assert keys(tx.list_user_tasks()) == [31, 32, 33]
        assert keys(tx.list_user_tasks(state=None)) == [30, 31, 32, 33]
        assert keys(tx.list_user_tasks(state="completed")) == [30]
        assert keys(tx.list_user_tasks(assignee="bob")) == [31]
        assert keys(tx.list_user_tasks(state=None, candidate_group="sales")) == [30]
        assert keys(tx.list_user_tasks(candidate_group="a_b")) == [32]
        assert keys(tx.list_user_tasks(candidate_group="a%b")) == []
        assert keys(tx.list_user_tasks(candidate_group="100%")) == [32]
        assert keys(tx.list_user_tasks(instance_key=11)) == [32]
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.upsert_user_task(user_task(34, instance_key=999))


# -- incidents ------------------------------------------------------------------------------


def test_incidents_upsert_and_filters(store: Store) -> None:
    seed(store, 10, 11)
    with store.transaction() as tx:
        tx.upsert_incident(incident(40))
        tx.upsert_incident(incident(41, instance_key=11))
        tx.upsert_incident(incident(42))
    resolved = replace(incident(40), state="resolved", resolved_at=at(900))
    with store.transaction() as tx:
        tx.upsert_incident(resolved)

    with store.transaction() as tx:
        assert tx.get_incident(40) == resolved
        assert tx.get_incident(99) is None
        assert [i.incident_key for i in tx.list_incidents()] == [41, 42]
        assert [i.incident_key for i in tx.list_incidents(state=None)] == [40, 41, 42]
        assert [i.incident_key for i in tx.list_incidents(state="resolved")] == [40]
        assert [i.incident_key for i in tx.list_incidents(instance_key=10)] == [42]


# -- start requests -------------------------------------------------------------------------


def test_a_start_request_id_is_recorded_once(store: Store) -> None:
    seed(store, 10, 11)
    with store.transaction() as tx:
        assert tx.find_start_request("req-1") is None
        tx.insert_start_request("req-1", 10, T0)
    with store.transaction() as tx:
        assert tx.find_start_request("req-1") == 10
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_start_request("req-1", 11, T0)
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_start_request("req-2", 999, T0)
    with store.transaction() as tx:
        assert tx.find_start_request("req-1") == 10


# -- datetimes ------------------------------------------------------------------------------


def test_datetimes_come_back_aware_utc_and_equal(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 1, 14, 0, 0, 999999, tzinfo=plus_two)
    with store.transaction() as tx:
        tx.insert_definition(replace(definition(), deployed_at=local))
        tx.insert_instance(instance(10, started_at=local, ended_at=local))
        tx.append_history([replace(event(10, 1), at=local)])
        tx.insert_jobs([job(20, due_at=local, created_at=local)])
        tx.upsert_user_task(user_task(30, created_at=local, follow_up_at=local))
        tx.upsert_incident(incident(40, created_at=local, resolved_at=local))

    with store.transaction() as tx:
        loaded_definition = tx.get_definition(1)
        loaded_instance = tx.get_instance(10)
        loaded_job = tx.get_job(20)
        loaded_task = tx.get_user_task(30)
        loaded_incident = tx.get_incident(40)
        loaded_event = tx.history(10)[0]
    assert loaded_definition and loaded_instance and loaded_job and loaded_task
    assert loaded_incident
    values = [
        loaded_definition.deployed_at,
        loaded_instance.started_at,
        loaded_instance.ended_at,
        loaded_event.at,
        loaded_job.due_at,
        loaded_job.created_at,
        loaded_task.created_at,
        loaded_task.follow_up_at,
        loaded_incident.created_at,
        loaded_incident.resolved_at,
    ]
    for value in values:
        assert value == local
        assert value is not None and value.tzinfo is UTC
        assert value.microsecond == 999999


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.insert_definition(replace(definition(), deployed_at=datetime(2024, 1, 1)))
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.activate_jobs(None, "w", 1, datetime(2024, 1, 1), at(1))


# -- timers ---------------------------------------------------------------------------------


def timer_keys(timers: list[TimerRecord]) -> list[int]:
    return [t.timer_key for t in timers]


def test_timers_round_trip_list_and_delete(store: Store) -> None:
    seed(store, 10, 11)
    start = timer(53, instance_key=None, due_at=at(5), repetitions=-1)
    with store.transaction() as tx:
        tx.insert_definition(definition(2, "invoice", 1))
        tx.insert_timers(
            [
                timer(50, due_at=at(30)),
                timer(51, due_at=at(10), repetitions=3),
                timer(52, instance_key=11, due_at=at(20)),
                start,
                timer(54, instance_key=None, definition_key=2, due_at=at(1)),
            ]
        )
    with store.transaction() as tx:
        assert tx.list_timers(instance_key=10) == [
            timer(51, due_at=at(10), repetitions=3),
            timer(50, due_at=at(30)),
        ]
        assert timer_keys(tx.list_timers()) == [54, 53, 51, 52, 50]
        # Only the start events of a definition, not the timers of its instances.
        assert tx.list_timers(definition_key=1) == [start]
        assert timer_keys(tx.list_timers(definition_key=2)) == [54]
        assert timer_keys(tx.list_timers(instance_key=11, definition_key=1)) == [52]
        assert tx.list_timers(instance_key=11, definition_key=2) == []
        assert tx.list_timers(instance_key=99) == []
        tx.delete_timers([50, 53, 999])
        assert timer_keys(tx.list_timers()) == [54, 51, 52]
    with store.transaction() as tx:
        assert timer_keys(tx.list_timers()) == [54, 51, 52]
        tx.delete_timers([])


def test_timers_need_a_fresh_key_and_existing_owners(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_timers([timer(50)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_timers([timer(50)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_timers([timer(51), timer(51)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_timers([timer(52, instance_key=999)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_timers([timer(53, instance_key=None, definition_key=999)])
    with store.transaction() as tx:
        assert timer_keys(tx.list_timers()) == [50]


def test_claim_due_timers_earliest_first_up_to_max(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_timers(
            [
                timer(50, due_at=at(30)),
                timer(51, due_at=at(10)),
                timer(52, due_at=at(100)),
                timer(53, instance_key=None, due_at=at(20)),
                timer(49, due_at=at(30)),
            ]
        )
    lease = at(300)
    with store.transaction() as tx:
        assert tx.claim_due_timers(at(50), 0, lease) == []
        first = tx.claim_due_timers(at(50), 2, lease)
    assert timer_keys(first) == [51, 53]
    assert all(t.state == "claimed" and t.lease_until == lease for t in first)
    assert first[1] == replace(
        timer(53, instance_key=None, due_at=at(20)), state="claimed", lease_until=lease
    )
    with store.transaction() as tx:
        # Equal due times come out by key; the claimed ones and the future one stay out.
        assert timer_keys(tx.claim_due_timers(at(50), 10, lease)) == [49, 50]
        assert tx.claim_due_timers(at(50), 10, lease) == []
        listed = {t.timer_key: t for t in tx.list_timers()}
    assert listed[51].state == "claimed" and listed[51].lease_until == lease
    assert listed[52].state == "scheduled" and listed[52].lease_until is None
    with store.transaction() as tx:
        assert timer_keys(tx.claim_due_timers(at(100), 10, lease)) == [52]


def test_expired_timer_claims_are_claimed_again(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_timers([timer(50, due_at=at(0)), timer(51, due_at=at(1))])
        assert timer_keys(tx.claim_due_timers(at(5), 1, at(60))) == [50]
    with store.transaction() as tx:
        assert timer_keys(tx.claim_due_timers(at(30), 5, at(90))) == [51]
        assert tx.claim_due_timers(at(59), 5, at(90)) == []
        # The claim on 50 ran out at 60: its node is presumed dead.
        again = tx.claim_due_timers(at(61), 5, at(120))
    assert [(t.timer_key, t.state, t.lease_until) for t in again] == [(50, "claimed", at(120))]


def test_claims_over_many_timers_follow_due_order(store: Store) -> None:
    seed(store)
    # Due times in a scrambled but fixed order, with ties.
    dues = {key: (key * 7919) % 500 for key in range(1000, 1600)}
    with store.transaction() as tx:
        tx.insert_timers([timer(key, due_at=at(due)) for key, due in dues.items()])
    claimed: list[int] = []
    for step in range(0, 520, 20):
        with store.transaction() as tx:
            claimed.extend(timer_keys(tx.claim_due_timers(at(step), 13, at(10_000))))
        with store.transaction() as tx:
            claimed.extend(timer_keys(tx.claim_due_timers(at(step), 1000, at(10_000))))
    assert claimed == sorted(dues, key=lambda key: (dues[key], key))


def test_next_timer_due_at_counts_due_dates_and_claims(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        assert tx.next_timer_due_at() is None
        tx.insert_timers([timer(50, due_at=at(40)), timer(51, due_at=at(10))])
        assert tx.next_timer_due_at() == at(10)
        tx.claim_due_timers(at(10), 1, at(70))
        assert tx.next_timer_due_at() == at(40)
    with store.transaction() as tx:
        tx.delete_timers([50])
        assert tx.next_timer_due_at() == at(70)
        tx.delete_timers([51])
        assert tx.next_timer_due_at() is None


def test_rolled_back_timer_changes_leave_nothing(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_timers([timer(50, due_at=at(1)), timer(51, due_at=at(2))])
    with pytest.raises(Boom), store.transaction() as tx:
        tx.insert_timers([timer(52, due_at=at(0))])
        tx.delete_timers([51])
        assert timer_keys(tx.claim_due_timers(at(10), 10, at(60))) == [52, 50]
        assert tx.next_timer_due_at() == at(60)
        raise Boom
    with store.transaction() as tx:
        assert tx.next_timer_due_at() == at(1)
        assert [(t.timer_key, t.state) for t in tx.list_timers()] == [
            (50, "scheduled"),
            (51, "scheduled"),
        ]
        assert timer_keys(tx.claim_due_timers(at(10), 10, at(60))) == [50, 51]


# -- subscriptions --------------------------------------------------------------------------


def subscription_keys(subscriptions: list[SubscriptionRecord]) -> list[int]:
    return [s.subscription_key for s in subscriptions]


def test_message_subscriptions_match_on_name_and_correlation_key(store: Store) -> None:
    seed(store, 10, 11, 12)
    start = subscription(64, correlation_key=None, instance_key=None, interrupting=False)
    with store.transaction() as tx:
        tx.insert_subscriptions(
            [
                subscription(65, "order-1", instance_key=11),
                subscription(60, "order-1"),
                subscription(61, "order-2", instance_key=12),
                subscription(62, None, instance_key=12),
                subscription(63, "order-1", name="shipped"),
                start,
                subscription(66, "order-1", kind="signal"),
            ]
        )
    with store.transaction() as tx:
        found = tx.find_subscriptions("message", "paid", "order-1")
        assert subscription_keys(found) == [60, 64, 65]
        assert found[0] == subscription(60, "order-1")
        assert found[1] == start
        assert found[1].interrupting is False
        assert subscription_keys(tx.find_subscriptions("message", "paid", "order-2")) == [61, 64]
        # Start events match whatever the key; None equals None for instance subscriptions.
        assert subscription_keys(tx.find_subscriptions("message", "paid", "nobody")) == [64]
        assert subscription_keys(tx.find_subscriptions("message", "paid", None)) == [62, 64]
        assert subscription_keys(tx.find_subscriptions("message", "shipped", "order-1")) == [63]
        assert tx.find_subscriptions("message", "unknown", "order-1") == []


def test_signal_subscriptions_ignore_correlation_keys(store: Store) -> None:
    seed(store, 10, 11)
    with store.transaction() as tx:
        tx.insert_subscriptions(
            [
                subscription(72, None, kind="signal", name="alarm", instance_key=None),
                subscription(70, "a", kind="signal", name="alarm"),
                subscription(71, None, kind="signal", name="alarm", instance_key=11),
                subscription(73, "a", kind="signal", name="other"),
                subscription(74, "a", kind="message", name="alarm"),
            ]
        )
    with store.transaction() as tx:
        assert subscription_keys(tx.find_subscriptions("signal", "alarm")) == [70, 71, 72]
        assert subscription_keys(tx.find_subscriptions("signal", "alarm", "b")) == [70, 71, 72]
        assert subscription_keys(tx.find_subscriptions("signal", "other")) == [73]
        assert tx.find_subscriptions("signal", "unknown") == []


def test_subscriptions_list_delete_and_rules(store: Store) -> None:
    seed(store, 10, 11)
    with store.transaction() as tx:
        tx.insert_definition(definition(2, "invoice", 1))
        tx.insert_subscriptions(
            [
                subscription(61),
                subscription(60, instance_key=11),
                subscription(62, None, instance_key=None),
                subscription(63, None, instance_key=None, definition_key=2),
                subscription(64),
            ]
        )
    with store.transaction() as tx:
        assert subscription_keys(tx.list_subscriptions()) == [60, 61, 62, 63, 64]
        assert subscription_keys(tx.list_subscriptions(instance_key=10)) == [61, 64]
        assert subscription_keys(tx.list_subscriptions(definition_key=1)) == [62]
        assert subscription_keys(tx.list_subscriptions(definition_key=2)) == [63]
        assert tx.list_subscriptions(instance_key=10, definition_key=2) == []
        tx.delete_subscriptions([61, 62, 999])
        # Deleted in this transaction: gone from lookups at once (63 starts another process).
        found = tx.find_subscriptions("message", "paid", "order-1")
        assert subscription_keys(found) == [60, 63, 64]
    with store.transaction() as tx:
        assert subscription_keys(tx.list_subscriptions()) == [60, 63, 64]
        assert subscription_keys(tx.find_subscriptions("message", "paid", "x")) == [63]
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_subscriptions([subscription(60)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_subscriptions([subscription(65, instance_key=999)])
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_subscriptions([subscription(66, instance_key=None, definition_key=999)])
    with store.transaction() as tx:
        assert subscription_keys(tx.list_subscriptions()) == [60, 63, 64]


def test_rolled_back_subscriptions_leave_nothing(store: Store) -> None:
    seed(store)
    with store.transaction() as tx:
        tx.insert_subscriptions([subscription(60)])
    with pytest.raises(Boom), store.transaction() as tx:
        tx.insert_subscriptions([subscription(61), subscription(62, None, instance_key=None)])
        tx.delete_subscriptions([60])
        assert subscription_keys(tx.find_subscriptions("message", "paid", "order-1")) == [61, 62]
        raise Boom
    with store.transaction() as tx:
        assert subscription_keys(tx.find_subscriptions("message", "paid", "order-1")) == [60]
        assert subscription_keys(tx.list_subscriptions()) == [60]


# -- buffered messages ----------------------------------------------------------------------


def message_keys(messages: list[MessageRecord]) -> list[int]:
    return [m.message_key for m in messages]


def test_messages_are_found_by_name_key_and_expiry(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.insert_message(message(82, expires_at=at(30))) == message(82, expires_at=at(30))
        tx.insert_message(message(80))
        tx.insert_message(message(81, "order-2"))
        tx.insert_message(message(83, None))
        tx.insert_message(message(84, name="shipped"))
    with store.transaction() as tx:
        found = tx.find_messages("paid", "order-1", at(10))
        assert found == [message(80), message(82, expires_at=at(30))]
        # Expired is expires_at <= now.
        assert message_keys(tx.find_messages("paid", "order-1", at(30))) == [80]
        assert message_keys(tx.find_messages("paid", "order-1", at(60))) == []
        assert message_keys(tx.find_messages("paid", "order-2", at(10))) == [81]
        assert message_keys(tx.find_messages("paid", None, at(10))) == [83]
        assert message_keys(tx.find_messages("shipped", "order-1", at(10))) == [84]
        assert tx.find_messages("paid", "nobody", at(10)) == []
        tx.delete_messages([80, 999])
        assert message_keys(tx.find_messages("paid", "order-1", at(10))) == [82]
    with store.transaction() as tx:
        assert message_keys(tx.find_messages("paid", "order-1", at(10))) == [82]


def test_every_buffered_message_is_listed_by_key_in_pages(store: Store) -> None:
    with store.transaction() as tx:
        for key in (30, 10, 20):
            tx.insert_message(message(key, variables={"k": key}))
    with store.transaction() as tx:
        first = tx.list_messages(after=None, limit=2)
        rest = tx.list_messages(after=first[-1].message_key, limit=2)
    assert [m.message_key for m in first] == [10, 20]
    assert [(m.message_key, m.variables) for m in rest] == [(30, {"k": 30})]


def test_a_message_id_is_buffered_once(store: Store) -> None:
    first = message(80, message_id="m-1")
    with store.transaction() as tx:
        assert tx.insert_message(first) == first
        duplicate = message(81, "order-2", message_id="m-1", variables={"other": True})
        assert tx.insert_message(duplicate) == first
    with store.transaction() as tx:
        assert tx.insert_message(duplicate) == first
        # Messages without an id never clash.
        tx.insert_message(message(82))
        tx.insert_message(message(83))
        assert message_keys(tx.find_messages("paid", "order-1", at(1))) == [80, 82, 83]
        assert tx.find_messages("paid", "order-2", at(1)) == []
    with store.transaction() as tx:
        tx.delete_messages([80])
        # Correlated and removed: the id is free again.
        assert tx.insert_message(duplicate) == duplicate
        assert message_keys(tx.find_messages("paid", "order-2", at(1))) == [81]


def test_an_expired_message_does_not_block_its_id(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_message(message(80, message_id="m-1", expires_at=at(60)))
    later = message(81, message_id="m-1", published_at=at(60), expires_at=at(120))
    with store.transaction() as tx:
        assert tx.insert_message(later) == later
        assert tx.expire_messages(at(60)) == []
        assert message_keys(tx.find_messages("paid", "order-1", at(61))) == [81]


def test_expire_messages_removes_and_returns_the_expired(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.expire_messages(at(0)) == []
        tx.insert_message(message(82, expires_at=at(20)))
        tx.insert_message(message(80, expires_at=at(10)))
        tx.insert_message(message(81, "order-2", expires_at=at(30), message_id="m-1"))
        tx.insert_message(message(83, expires_at=at(40)))
        tx.delete_messages([83])
    with store.transaction() as tx:
        expired = tx.expire_messages(at(20))
        assert expired == [message(80, expires_at=at(10)), message(82, expires_at=at(20))]
        assert tx.expire_messages(at(20)) == []
    with store.transaction() as tx:
        assert tx.find_messages("paid", "order-1", at(0)) == []
        assert message_keys(tx.expire_messages(at(1000))) == [81]
        assert tx.find_messages("paid", "order-2", at(0)) == []
        # Its id went with it.
        fresh = message(84, message_id="m-1")
        assert tx.insert_message(fresh) == fresh


def test_rolled_back_messages_leave_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert_message(message(80, expires_at=at(10)))
    with pytest.raises(Boom), store.transaction() as tx:
        tx.insert_message(message(81, message_id="m-1"))
        assert message_keys(tx.expire_messages(at(10))) == [80]
        raise Boom
    with store.transaction() as tx:
        assert message_keys(tx.find_messages("paid", "order-1", at(0))) == [80]
        assert message_keys(tx.expire_messages(at(10))) == [80]
        fresh = message(82, message_id="m-1")
        assert tx.insert_message(fresh) == fresh


def test_changing_returned_message_variables_does_not_change_the_store(store: Store) -> None:
    with store.transaction() as tx:
        returned = tx.insert_message(message(80))
        returned.variables["amount"] = "mutated"
        tx.find_messages("paid", "order-1", at(0))[0].variables["items"].append(4)
    with store.transaction() as tx:
        assert tx.find_messages("paid", "order-1", at(0)) == [message(80)]


def test_unstorable_message_variables_are_refused(store: Store) -> None:
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.insert_message(message(80, variables={"big": 2**70}))
    with store.transaction() as tx:
        assert tx.find_messages("paid", "order-1", at(0)) == []


def test_timer_and_message_datetimes_come_back_aware_utc(store: Store) -> None:
    seed(store)
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 1, 14, 0, 0, 999999, tzinfo=plus_two)
    later = local + timedelta(hours=1)
    with store.transaction() as tx:
        tx.insert_timers([timer(50, due_at=local, state="claimed", lease_until=later)])
        tx.insert_timers([timer(51, due_at=later)])
        returned = tx.insert_message(message(80, published_at=local, expires_at=later))
        claimed = tx.claim_due_timers(later, 1, later + timedelta(hours=1))
    with store.transaction() as tx:
        loaded_timers = tx.list_timers()
        loaded_message = tx.find_messages("paid", "order-1", local)[0]
        next_due = tx.next_timer_due_at()
    values = [
        loaded_timers[0].due_at,
        loaded_timers[0].lease_until,
        loaded_timers[1].due_at,
        loaded_message.published_at,
        loaded_message.expires_at,
        returned.published_at,
        returned.expires_at,
        claimed[0].lease_until,
        next_due,
    ]
    assert values[0] == local
    for value in values:
        assert value is not None and value.tzinfo is UTC
        assert value.microsecond == 999999
    assert timer_keys(claimed) == [50]  # its claim ran out at ``later``, 51 is due then too


def test_naive_datetimes_are_refused_by_timers_and_messages(store: Store) -> None:
    naive = datetime(2024, 1, 1)
    seed(store)
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.insert_timers([timer(50, due_at=naive)])
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.claim_due_timers(naive, 1, at(1))
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.insert_message(message(80, expires_at=naive))
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.find_messages("paid", None, naive)
    with pytest.raises(StoreError, match="naive"), store.transaction() as tx:
        tx.expire_messages(naive)


# -- SQLite specifics -----------------------------------------------------------------------


def test_file_database_is_durable_by_default(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with store.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 5000
    finally:
        store.close()


def test_synchronous_is_configurable_and_checked(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'normal.db'}", synchronous="NORMAL")
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    finally:
        store.close()
    with pytest.raises(StoreError, match="synchronous"):
        SqlStore("sqlite://", synchronous="SOMETIMES")


def test_data_survives_reopening_a_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reopen.db'}"
    first = SqlStore(url)
    seed(first)
    first.close()
    second = SqlStore(url)
    with second.transaction() as tx:
        assert tx.get_instance(10) == instance(10)
    second.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqlStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO schema_versions (version, applied_at) VALUES (?, 0)",
            (SCHEMA_VERSION + 1,),
        )
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        SqlStore(f"sqlite:///{path}")


def test_other_databases_are_refused_for_now() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        SqlStore("mysql://localhost/legato")


def test_a_version_1_file_without_the_newer_tables_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    first = SqlStore(url)
    seed(first)
    # A file written before timers, subscriptions and messages existed (and migrations): the
    # baseline's shape, less those tables and the revision marker.
    with first.engine.begin() as connection:
        command.downgrade(migrations.alembic_config(connection), migrations.BASELINE)
    first.close()
    with sqlite3.connect(path) as raw:
        for table in ("timers", "subscriptions", "messages", "alembic_version"):
            raw.execute(f"DROP TABLE {table}")
    raw.close()

    second = SqlStore(url)
    try:
        with second.transaction() as tx:
            assert tx.get_instance(10) == instance(10)
            tx.insert_timers([timer(50)])
            tx.insert_subscriptions([subscription(60)])
            tx.insert_message(message(80, message_id="m-1"))
        with second.engine.connect() as connection:
            indexes = {
                row[0]
                for row in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index'"
                )
            }
            version = connection.exec_driver_sql("SELECT max(version) FROM schema_versions")
            assert version.scalar() == SCHEMA_VERSION == 2
        assert {
            "ix_timers_due",
            "ix_subscriptions_lookup",
            "ix_subscriptions_start",
            "ux_messages_message_id",
            "ix_messages_lookup",
            "ix_messages_expiry",
        } <= indexes
    finally:
        second.close()


def test_hot_timer_subscription_and_message_queries_use_their_indexes() -> None:
    # The private statements are what the transactions run; the plans are SQLite's own.
    from legato.store.dialects import SQLITE
    from legato.store.messages import sql as messages_sql
    from legato.store.timers import sql as timers_sql

    store = SqlStore("sqlite://")
    try:
        with store.engine.connect() as connection:
            dialect = connection.dialect
            expected = {
                timers_sql.due_timers_query(SQLITE): ["ix_timers_due"],
                messages_sql.subscriptions_query(True, False): [
                    "ix_subscriptions_lookup",
                    "ix_subscriptions_start",
                ],
                messages_sql.subscriptions_query(True, True): [
                    "ix_subscriptions_lookup",
                    "ix_subscriptions_start",
                ],
                messages_sql.subscriptions_query(False, False): ["ix_subscriptions_lookup"],
                messages_sql.messages_query(False): ["ix_messages_lookup"],
                messages_sql.messages_query(True): ["ix_messages_lookup"],
            }
            for prepared, indexes in expected.items():
                compiled = prepared.compiled(dialect)
                parameters = [1 if name == "max_timers" else None for name in compiled.names]
                plan = [
                    str(row[3])
                    for row in connection.exec_driver_sql(
                        f"EXPLAIN QUERY PLAN {compiled.sql}", tuple(parameters)
                    )
                ]
                searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
                assert len(searches) == len(indexes), plan
                for step, index in zip(searches, indexes, strict=True):
                    assert step.startswith("SEARCH") and f"INDEX {index} " in step, plan
            # Claiming walks the index in order: no sort before the LIMIT.
            claim = timers_sql.due_timers_query(SQLITE).compiled(dialect)
            claim_plan = connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {claim.sql}", tuple(None for _ in claim.names)
            ).fetchall()
            assert not any("TEMP B-TREE" in str(row[3]) for row in claim_plan)
    finally:
        store.close()


# -- PostgreSQL specifics (several nodes on one database) -----------------------------------


def test_postgres_urls_use_psycopg() -> None:
    from legato.store.postgres import postgres_url

    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert postgres_url(sa.make_url(url)).drivername == "postgresql+psycopg"
    with pytest.raises(StoreError, match="driver"):
        postgres_url(sa.make_url("postgresql+psycopg2://u@h/db"))


@pytest.mark.postgres
def test_postgres_nodes_starting_together_create_the_schema_once(fresh_postgres_url: str) -> None:
    barrier = threading.Barrier(4)
    opened: list[SqlStore] = []
    failures: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(SqlStore(fresh_postgres_url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        with opened[0].engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version FROM schema_versions")
            assert sorted(row[0] for row in versions) == [1, 2]
            assert connection.exec_driver_sql("SELECT count(*) FROM key_counters").scalar() == 1
        with opened[-1].transaction() as tx:
            assert tx.reserve_keys(1).start >= 1
    finally:
        for each in opened:
            each.close()


@pytest.mark.postgres
def test_postgres_timestamps_are_timestamptz(postgres_store: SqlStore) -> None:
    with postgres_store.engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'instances' "
            "AND column_name = 'started_at'"
        ).scalar()
    assert found == "timestamp with time zone"


@pytest.mark.postgres
def test_postgres_nodes_hand_out_disjoint_keys(postgres_url: str) -> None:
    stores = [SqlStore(postgres_url) for _ in range(3)]
    results: list[list[int]] = [[] for _ in stores]

    def reserve(index: int) -> None:
        for _ in range(20):
            with stores[index].transaction() as tx:
                results[index].extend(tx.reserve_keys(7))

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for each in stores:
        each.close()
    every = [key for result in results for key in result]
    assert len(every) == len(set(every)) == 3 * 20 * 7


@pytest.mark.postgres
def test_postgres_claims_skip_the_rows_another_node_holds(
    postgres_store: SqlStore, postgres_url: str
) -> None:
    seed(postgres_store)
    with postgres_store.transaction() as tx:
        tx.insert_jobs([job(20 + i, due_at=at(i)) for i in range(4)])
        tx.insert_timers([timer(50 + i, due_at=at(i)) for i in range(4)])
    other = SqlStore(postgres_url)
    try:
        with postgres_store.transaction() as first:
            mine = first.activate_jobs(None, "node-a", 2, at(10), at(100))
            my_timers = first.claim_due_timers(at(10), 2, at(100))
            # The first node has not committed: the second skips its locked rows at once.
            with other.transaction() as second:
                theirs = second.activate_jobs(None, "node-b", 10, at(10), at(100))
                their_timers = second.claim_due_timers(at(10), 10, at(100))
        assert [j.job_key for j in mine] == [20, 21]
        assert [j.job_key for j in theirs] == [22, 23]
        assert [t.timer_key for t in my_timers] == [50, 51]
        assert [t.timer_key for t in their_timers] == [52, 53]
        with other.transaction() as tx:
            assert {j.job_key: j.worker for j in tx.list_jobs()} == {
                20: "node-a",
                21: "node-a",
                22: "node-b",
                23: "node-b",
            }
            assert tx.claim_due_timers(at(10), 10, at(100)) == []
    finally:
        other.close()


@pytest.mark.postgres
def test_postgres_a_stale_save_from_another_node_is_refused(
    postgres_store: SqlStore, postgres_url: str
) -> None:
    seed(postgres_store)
    other = SqlStore(postgres_url)
    try:
        with postgres_store.transaction() as tx:
            read_here = tx.get_instance(10)
        with other.transaction() as tx:
            read_there = tx.get_instance(10)
        assert read_here is not None and read_there is not None
        with postgres_store.transaction() as tx:
            tx.update_instance(replace(read_here, revision=1, status="completed"))
        with pytest.raises(StoreError, match="concurrently"), other.transaction() as tx:
            tx.update_instance(replace(read_there, revision=1, status="terminated"))
        with other.transaction() as tx:
            saved = tx.get_instance(10)
        assert saved is not None and saved.status == "completed"
    finally:
        other.close()


@pytest.mark.postgres
def test_postgres_a_newer_schema_is_refused(postgres_store: SqlStore, postgres_url: str) -> None:
    with postgres_store.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO schema_versions (version, applied_at) VALUES (%(v)s, now())",
            {"v": SCHEMA_VERSION + 1},
        )
    try:
        with pytest.raises(StoreError, match="newer"):
            SqlStore(postgres_url)
    finally:
        with postgres_store.engine.begin() as connection:
            connection.exec_driver_sql(
                "DELETE FROM schema_versions WHERE version > %(v)s", {"v": SCHEMA_VERSION}
            )


@pytest.mark.postgres
def test_postgres_a_lost_connection_is_a_store_error_then_replaced(postgres_url: str) -> None:
    named = f"{postgres_url}&application_name=legato-lost-{uuid.uuid4().hex[:8]}"
    store = SqlStore(named)
    try:
        with store.transaction() as tx:
            tx.reserve_keys(1)
        admin = sa.create_engine(postgres_url)  # not named like the store's sessions

        def cut() -> None:
            with admin.begin() as connection:
                connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %(name)s",
                    {"name": sa.make_url(named).query["application_name"]},
                )

        # Through the hot path (the DBAPI cursor) and through SQLAlchemy's execute, which
        # also marks its connection invalid: either way a StoreError, then a new connection.
        uses: list[Callable[[Transaction], object]] = [
            lambda tx: tx.reserve_keys(1),
            lambda tx: tx.list_jobs() == [],
        ]
        for use in uses:
            cut()
            with pytest.raises(StoreError), store.transaction() as tx:
                use(tx)
            with store.transaction() as tx:
                assert use(tx)
        admin.dispose()
    finally:
        store.close()


# -- bulk reads for a batch of messages -----------------------------------------------------


def test_message_subscriptions_of_many_correlation_keys_in_one_lookup(store: Store) -> None:
    seed(store, 10, 11)
    start = subscription(85, None, instance_key=None)
    with store.transaction() as tx:
        tx.insert_subscriptions(
            [
                subscription(83, "k2", instance_key=11),
                subscription(80, "k1"),
                subscription(84, "k2", kind="signal", name="paid"),
                subscription(81, None, instance_key=11),
                subscription(82, "k1", name="other"),
                start,
            ]
        )
    with store.transaction() as tx:
        found = tx.find_message_subscriptions("paid", ["k2", "k1", "k1", "k9"])
        # Each once, oldest first, start events whatever the keys; never signals.
        assert subscription_keys(found) == [80, 83, 85]
        assert found[0] == subscription(80, "k1") and found[2] == start
        # None equals None; the same as find_subscriptions for each key, united.
        for keys in ([None, "k2"], ["k1"], [None], []):
            single = {
                s.subscription_key
                for k in keys
                for s in tx.find_subscriptions("message", "paid", k)
            }
            assert subscription_keys(tx.find_message_subscriptions("paid", keys)) == sorted(
                single | {85}
            )
        assert subscription_keys(tx.find_message_subscriptions("other", ["k1"])) == [82]
        assert tx.find_message_subscriptions("unknown", ["k1"]) == []


def test_message_subscriptions_of_more_keys_than_one_sql_list_holds(store: Store) -> None:
    seed(store)
    waiting = [subscription(100 + i, f"order-{i}") for i in range(1_203)]
    with store.transaction() as tx:
        tx.insert_subscriptions(waiting)
    asked = [f"order-{i}" for i in range(0, 1_203, 2)] + ["order-1202", "unknown"]
    with store.transaction() as tx:
        found = tx.find_message_subscriptions("paid", asked)
    assert subscription_keys(found) == [100 + i for i in range(0, 1_203, 2)]


def test_instances_and_revisions_read_in_bulk(store: Store) -> None:
    seed(store, 10, 11, 12)
    with store.transaction() as tx:
        tx.update_instance(replace(instance(11), revision=1, status="completed"))
    with store.transaction() as tx:
        found = tx.get_instances([12, 10, 99, 10])
        assert sorted(found, key=lambda record: record.instance_key) == [instance(10), instance(12)]
        assert tx.get_revisions([11, 10, 99]) == {10: 0, 11: 1}
        assert tx.get_instances([]) == []
        assert tx.get_revisions([]) == {}


def test_bulk_instance_reads_of_more_keys_than_one_sql_list_holds(store: Store) -> None:
    keys = list(range(10, 1_213))
    seed(store, *keys)
    asked = [*keys[::3], 5_000]
    with store.transaction() as tx:
        found = tx.get_instances(asked)
        revisions = tx.get_revisions(asked)
    assert sorted(record.instance_key for record in found) == keys[::3]
    assert found[0].state == instance(found[0].instance_key).state
    assert revisions == dict.fromkeys(keys[::3], 0)
