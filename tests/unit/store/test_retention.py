"""History retention: the store's find/delete of expired instances, and the batched sweep
(memory, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from legato.runtime.retention import parse_age, sweep_ended_instances
from legato.store.memory import MemoryStore
from legato.store.ports import Store, Transaction
from legato.store.records import (
    DefinitionRecord,
    HistoryRecord,
    IncidentRecord,
    InstanceRecord,
    JobRecord,
    SubscriptionRecord,
    TimerRecord,
    UserTaskRecord,
)
from legato.store.retention import sql
from legato.store.schema import metadata
from legato.store.sql import SqlStore

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)
OLD = NOW - timedelta(days=40)

# instance key -> (status, ended days ago or None, parent key)
INSTANCES: dict[int, tuple[str, int | None, int | None]] = {
    10: ("completed", 40, None),  # expired
    11: ("terminated", 35, None),  # expired
    12: ("completed", 5, None),  # too recent
    13: ("active", None, None),  # running
    14: ("active", None, None),  # a running parent
    15: ("completed", 40, 14),  # kept: its parent still runs
    16: ("completed", 40, 10),  # expired: its parent ended
    17: ("completed", 40, 999),  # expired: its parent is gone already
    18: ("terminated", 45, 12),  # expired: its parent ended (recently)
}
EXPIRED = [10, 11, 16, 17, 18]
KEPT = [12, 13, 14, 15]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")  # closed by its own fixture
        return
    made: Store = (
        MemoryStore()
        if request.param == "memory"
        else SqlStore(f"sqlite:///{tmp_path / 'retention.db'}")
    )
    yield made
    made.close()


def populate(store: Store) -> None:
    """Every instance of INSTANCES with two events and one row in every instance table."""
    with store.transaction() as tx:
        tx.insert_definition(
            DefinitionRecord(1, "order", 1, "order.bpmn", "<definitions/>", "sha", OLD)
        )
        for key, (status, days, parent) in INSTANCES.items():
            ended = None if days is None else NOW - timedelta(days=days)
            tx.insert_instance(
                InstanceRecord(
                    instance_key=key,
                    definition_key=1,
                    process_id="order",
                    version=1,
                    status=status,
                    business_key=f"bk-{key}",
                    started_at=OLD - timedelta(days=10),
                    ended_at=ended,
                    state={"variables": {"n": key}},
                    parent_instance_key=parent,
                )
            )
            add_rows(tx, key)


def add_rows(tx: Transaction, key: int) -> None:
    tx.append_history(
        [
            HistoryRecord(key, 1, "InstanceStarted", OLD, {"n": key}),
            HistoryRecord(key, 2, "InstanceCompleted", OLD, {"n": key}, element_id="end"),
        ]
    )
    tx.insert_jobs([JobRecord(key * 10, key, key * 100, "task", "work", 3, OLD)])
    tx.upsert_user_task(
        UserTaskRecord(key * 10, key, key * 100, "approve", "Approve", "created", OLD)
    )
    tx.upsert_incident(IncidentRecord(key * 10, key, key * 100, "task", "ERROR", "x", OLD))
    tx.insert_timers([TimerRecord(key * 10, 1, "wait", OLD, instance_key=key)])
    tx.insert_subscriptions(
        [SubscriptionRecord(key * 10, "message", "paid", 1, "wait", instance_key=key)]
    )
    tx.insert_start_request(f"request-{key}", key, OLD)


def rows_of(tx: Transaction, key: int) -> dict[str, int]:
    """How many rows of each kind the store still holds for an instance."""
    return {
        "instance": int(tx.get_instance(key) is not None),
        "history": len(tx.history(key)),
        "jobs": len(tx.list_jobs(instance_key=key)),
        "user_tasks": len(tx.list_user_tasks(state=None, instance_key=key)),
        "incidents": len(tx.list_incidents(state=None, instance_key=key)),
        "timers": len(tx.list_timers(instance_key=key)),
        "subscriptions": len(tx.list_subscriptions(instance_key=key)),
        "start_requests": int(tx.find_start_request(f"request-{key}") == key),
    }


ALL_ROWS = {
    "instance": 1,
    "history": 2,
    "jobs": 1,
    "user_tasks": 1,
    "incidents": 1,
    "timers": 1,
    "subscriptions": 1,
    "start_requests": 1,
}
NO_ROWS = dict.fromkeys(ALL_ROWS, 0)


# -- the store port -----------------------------------------------------------------------------


def test_expired_instances_are_the_old_ended_ones_without_a_running_parent(store: Store) -> None:
    populate(store)
    with store.transaction() as tx:
        assert tx.find_expired_instances(CUTOFF, 100) == EXPIRED
        limited = tx.find_expired_instances(CUTOFF, 2)
        assert len(limited) == 2 and set(limited) <= set(EXPIRED)
        assert tx.find_expired_instances(NOW - timedelta(days=100), 100) == []


def test_deleting_instances_removes_all_their_rows_and_nothing_else(store: Store) -> None:
    populate(store)
    with store.transaction() as tx:
        # Running (13) and unknown (404) keys are skipped.
        assert tx.delete_instances([*EXPIRED, 13, 404]) == len(EXPIRED)
    with store.transaction() as tx:
        for key in EXPIRED:
            assert rows_of(tx, key) == NO_ROWS, key
        for key in KEPT:
            assert rows_of(tx, key) == ALL_ROWS, key
        assert tx.find_expired_instances(CUTOFF, 100) == []


def test_a_rolled_back_delete_keeps_everything(store: Store) -> None:
    populate(store)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.delete_instances(EXPIRED)
        raise RuntimeError("crash before the commit")
    with store.transaction() as tx:
        for key in EXPIRED:
            assert rows_of(tx, key) == ALL_ROWS, key


def test_every_table_with_an_instance_key_is_swept() -> None:
    # A new table that belongs to instances must join the delete (or the foreign key fails).
    owned = {t.name for t in metadata.tables.values() if "instance_key" in t.c}
    assert owned - {"instances"} == {table.name for table in sql._INSTANCE_ROWS}


def test_no_row_of_a_deleted_instance_is_left_in_any_table(
    store: Store,
) -> None:
    if not isinstance(store, SqlStore):
        pytest.skip("counts rows in the SQL tables")
    populate(store)
    with store.transaction() as tx:
        tx.delete_instances(EXPIRED)
    with store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if "instance_key" in table.c:
                left = connection.execute(
                    sa.select(sa.func.count()).where(table.c.instance_key.in_(EXPIRED))
                ).scalar()
                assert left == 0, table.name


def test_sqlite_finds_expired_instances_through_the_retention_index(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'plan.db'}")
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, *args: Any) -> tuple[str, Any]:
        return "EXPLAIN QUERY PLAN " + statement, args[0]

    try:
        with store.engine.connect() as connection:
            sa.event.listen(connection, "before_cursor_execute", explain, retval=True)
            result = connection.execute(sql._EXPIRED_INSTANCES, {"ended_before": NOW, "limit": 5})
            plans = [str(row[3]) for row in result]
    finally:
        store.close()
    assert any("INDEX ix_instances_status_ended" in step for step in plans), plans
    assert not any("TEMP B-TREE" in step for step in plans), plans


# -- the sweep ----------------------------------------------------------------------------------


class Recording:
    """A store whose transactions record how many instances each batch found."""

    def __init__(self, store: Store, fail_delete: bool = False) -> None:
        self.store = store
        self.batches: list[int] = []
        self.fail_delete = fail_delete

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        with self.store.transaction() as tx:
            yield _RecordingTransaction(tx, self)

    def transaction(self) -> AbstractContextManager[Transaction]:
        return self._transaction()

    def close(self) -> None:
        self.store.close()

    def listen(self, wake: Any) -> None:
        return None


class _RecordingTransaction:
    def __init__(self, tx: Transaction, owner: Recording) -> None:
        self._tx = tx
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def find_expired_instances(self, ended_before: datetime, limit: int) -> list[int]:
        found = self._tx.find_expired_instances(ended_before, limit)
        self._owner.batches.append(len(found))
        return found

    def delete_instances(self, instance_keys: Sequence[int]) -> int:
        if self._owner.fail_delete:
            raise RuntimeError("the node died between archive and delete")
        return self._tx.delete_instances(instance_keys)


def test_the_sweep_deletes_in_bounded_batches_and_archives_first(
    store: Store, tmp_path: Path
) -> None:
    populate(store)
    archive = tmp_path / "archive.jsonl"
    recording = Recording(store)

    report = sweep_ended_instances(
        recording,  # type: ignore[arg-type]
        timedelta(days=30),
        archive=archive,
        batch_size=2,
        now=NOW,
    )

    assert (report.deleted, report.archived, report.batches, report.busy) == (5, 5, 3, False)
    assert recording.batches == [2, 2, 1]
    with store.transaction() as tx:
        for key in EXPIRED:
            assert rows_of(tx, key) == NO_ROWS, key
        for key in KEPT:
            assert rows_of(tx, key) == ALL_ROWS, key
    lines = [json.loads(line) for line in archive.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["instance"]["instance_key"] for line in lines) == EXPIRED
    first = next(line for line in lines if line["instance"]["instance_key"] == 18)
    assert first["instance"]["status"] == "terminated"
    assert first["instance"]["parent_instance_key"] == 12
    assert first["instance"]["state"] == {"variables": {"n": 18}}
    assert datetime.fromisoformat(first["instance"]["ended_at"]) == NOW - timedelta(days=45)
    assert [(e["position"], e["event_type"], e["payload"]) for e in first["history"]] == [
        (1, "InstanceStarted", {"n": 18}),
        (2, "InstanceCompleted", {"n": 18}),
    ]


def test_a_second_sweep_finds_nothing(store: Store) -> None:
    populate(store)
    first = sweep_ended_instances(store, timedelta(days=30), now=NOW)
    second = sweep_ended_instances(store, timedelta(days=30), now=NOW)
    assert (first.deleted, first.archived, first.batches) == (5, 0, 1)
    assert (second.deleted, second.batches) == (0, 0)


def test_a_crash_between_archive_and_delete_archives_that_batch_again(
    store: Store, tmp_path: Path
) -> None:
    populate(store)
    archive = tmp_path / "archive.jsonl"
    with pytest.raises(RuntimeError):
        sweep_ended_instances(
            Recording(store, fail_delete=True),  # type: ignore[arg-type]
            timedelta(days=30),
            archive=archive,
            batch_size=2,
            now=NOW,
        )
    with store.transaction() as tx:
        assert tx.find_expired_instances(CUTOFF, 100) == EXPIRED  # nothing deleted

    report = sweep_ended_instances(store, timedelta(days=30), archive=archive, now=NOW)

    keys = [json.loads(line)["instance"]["instance_key"] for line in archive.open()]
    assert report.deleted == 5
    assert len(keys) == 5 + 2  # the crashed batch of two is in the archive twice
    assert sorted(set(keys)) == EXPIRED


@pytest.mark.postgres
def test_postgres_only_one_node_sweeps_at_a_time(
    postgres_store: SqlStore, postgres_url: str
) -> None:
    populate(postgres_store)
    other = SqlStore(postgres_url)
    try:
        with other.transaction() as tx:
            assert tx.try_lock("retention")
            report = sweep_ended_instances(postgres_store, timedelta(days=30), now=NOW)
        assert (report.deleted, report.busy) == (0, True)
        report = sweep_ended_instances(postgres_store, timedelta(days=30), now=NOW)
        assert (report.deleted, report.busy) == (5, False)
    finally:
        other.close()


def test_sweep_arguments_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        sweep_ended_instances(store, timedelta(days=1), batch_size=0)
    with pytest.raises(ValueError, match="negative"):
        sweep_ended_instances(store, timedelta(days=-1))


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        (" 2w ", timedelta(weeks=2)),
        ("0s", timedelta(0)),
    ],
)
def test_ages_are_parsed(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["30", "d", "1.5d", "-3d", "3 days", "3y"])
def test_other_ages_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an age"):
        parse_age(text)
