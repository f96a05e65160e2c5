"""The audit trail: records chained by hash on every store; ``verify_trail`` names the first
record broken when rows are edited, deleted, inserted or reordered with raw SQL (SQLite and
PostgreSQL); prunes keep it verifiable; writers on two PostgreSQL stores keep it gap-free."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from legato.security.audit import (
    GENESIS,
    Actor,
    AuditTrail,
    Resource,
    Source,
    mask_for_audit,
    record_hash,
    variable_changes,
)
from legato.security.audit_chain import verify_trail
from legato.security.sensitive import MASK, SensitiveData
from legato.store.audit import AuditQuery
from legato.store.ports import Store
from legato.store.schema import audit_checkpoints, audit_log
from legato.store.sql import SqlStore

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OPERATOR = Actor("olga", "user")


class Ticking:
    """A virtual clock that :func:`fill` moves one minute before each record."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def fill(trail: AuditTrail, count: int, clock: Ticking | None = None) -> None:
    for n in range(count):
        if clock is not None:
            clock.at += timedelta(minutes=1)
        trail.record(
            OPERATOR,
            "instance.cancel",
            Resource("instance", str(100 + n)),
            details={"status": 204, "n": n, "ratio": 0.1},
            source=Source("10.0.0.7", "curl/8"),
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    made = SqlStore(f"sqlite:///{tmp_path / 'audit.db'}")
    yield made
    made.close()


def raw(store: SqlStore, *statements: str) -> None:
    with store.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


# -- recording ---------------------------------------------------------------------------------


def test_records_are_numbered_and_chained_on_every_store(store: Store) -> None:
    trail = AuditTrail(store, now=Ticking(), checkpoint_every=4)
    fill(trail, 5)

    records = trail.records(AuditQuery(limit=10))
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    assert all(record_hash(r) == r.hash for r in records)
    assert records[0].source_address == "10.0.0.7"
    assert records[0].details == {"status": 204, "n": 0, "ratio": 0.1}
    with store.transaction() as tx:
        assert [c.seq for c in tx.list_audit_checkpoints()] == [4]
    assert verify_trail(trail).message == "intact: 5 records, last #5"


def test_an_empty_trail_is_intact(store: Store) -> None:
    assert verify_trail(AuditTrail(store)).message == "intact: 0 records"


def test_records_are_found_by_actor_action_resource_and_time(store: Store) -> None:
    clock = Ticking()
    trail = AuditTrail(store, now=clock)
    fill(trail, 3, clock)
    trail.record(Actor("key:lk_x", "key"), "definition.deploy", Resource("deployment"))

    def seqs(**filters: object) -> list[int]:
        return [r.seq for r in trail.records(AuditQuery(**filters, newest_first=True))]  # type: ignore[arg-type]

    assert seqs(actor="key:lk_x") == [4]
    assert seqs(action="instance.") == [3, 2, 1]
    assert seqs(resource_type="instance", resource_id="101") == [2]
    assert seqs(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=3)) == [2]
    assert seqs(before_seq=3) == [2, 1]


def test_variable_changes_keep_names_and_values_through_mask_for_audit() -> None:
    selector = SensitiveData(model_paths=lambda process_id: [("iban",)])
    assert mask_for_audit(None, "p", {"iban": "DE00"}) == {"iban": "DE00"}
    assert mask_for_audit(selector, "p", {"iban": "DE00", "n": 1}) == {"iban": MASK, "n": 1}
    assert variable_changes({"amount": 3}, {"note": "x", "amount": 5}) == {
        "names": ["amount", "note"],
        "changes": {"amount": {"old": 3, "new": 5}, "note": {"old": None, "new": "x"}},
    }
    assert variable_changes({"iban": "DE00"}, {"iban": "DE01"}, selector=selector) == {
        "names": ["iban"],
        "changes": {"iban": {"old": MASK, "new": MASK}},
    }


# -- tampering -----------------------------------------------------------------------------------


def _edit(store: SqlStore) -> None:
    raw(store, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")


def _edit_details(store: SqlStore) -> None:
    raw(
        store, """UPDATE audit_log SET details = '{"status":204,"n":9,"ratio":0.1}' WHERE seq = 3"""
    )


def _delete(store: SqlStore) -> None:
    raw(store, "DELETE FROM audit_log WHERE seq = 3")


def _delete_and_renumber(store: SqlStore) -> None:
    raw(
        store,
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 3",
        "UPDATE audit_log SET seq = seq - 1001 WHERE seq > 1000",
    )


def _insert(store: SqlStore) -> None:
    """A forged record at #3 that links correctly to #2; the later ones moved up by one."""
    [second] = AuditTrail(store).records(AuditQuery(after_seq=1, limit=1))
    forged = replace(second, seq=3, actor="mallory", prev_hash=second.hash)
    forged = replace(forged, hash=record_hash(forged))
    seq = audit_log.c.seq
    with store.engine.begin() as connection:
        connection.execute(sa.update(audit_log).where(seq > 2).values(seq=seq + 1000))
        connection.execute(sa.update(audit_log).where(seq > 1000).values(seq=seq - 999))
        values = {c.name: getattr(forged, c.name) for c in audit_log.c}
        connection.execute(sa.insert(audit_log).values(**values))


def _reorder(store: SqlStore) -> None:
    raw(
        store,
        "UPDATE audit_log SET seq = 1003 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 1003",
    )


def _rehash_from_3(store: SqlStore) -> None:
    """Edit #3 and compute every hash after it again (no secret needed for that)."""
    raw(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    prev = GENESIS
    records = AuditTrail(store).records(AuditQuery(limit=100))
    with store.engine.begin() as connection:
        for record in records:
            fixed = replace(record, prev_hash=prev)
            prev = record_hash(fixed)
            statement = sa.update(audit_log).where(audit_log.c.seq == record.seq)
            connection.execute(statement.values(prev_hash=fixed.prev_hash, hash=prev))


def _forge_checkpoint(store: SqlStore) -> None:
    raw(store, f"UPDATE audit_checkpoints SET signature = '{'0' * 64}' WHERE seq = 4")


def _truncate_the_end(store: SqlStore) -> None:
    raw(store, "DELETE FROM audit_log WHERE seq >= 4")


TAMPERING: dict[str, tuple[Callable[[SqlStore], None], str]] = {
    "edited": (_edit, "record #3: edited: its content does not match its hash"),
    "edited details": (_edit_details, "record #3: edited: its content does not match its hash"),
    "deleted": (_delete, "record #3: missing (deleted): the trail goes on at #4"),
    "deleted, renumbered": (_delete_and_renumber, "record #3: does not link to #2"),
    "inserted": (_insert, "record #3: inserted: the record after it links to #2"),
    "reordered": (_reorder, "record #3: reordered: it links to the record after it (#4)"),
    "rehashed": (_rehash_from_3, "record #4: edited: it does not match its signed checkpoint"),
    "checkpoint forged": (_forge_checkpoint, "record #4: its signed checkpoint has a wrong"),
    "end removed": (
        _truncate_the_end,
        "record #4: missing (deleted): a signed checkpoint names #4",
    ),
}


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
def test_tampering_with_raw_sql_is_found_at_the_first_record_broken(
    sql_store: SqlStore, tampering: str
) -> None:
    trail = AuditTrail(sql_store, now=Ticking(), checkpoint_every=4)
    fill(trail, 6)
    assert verify_trail(trail).intact
    change, expected = TAMPERING[tampering]

    change(sql_store)

    found = verify_trail(trail, page_size=2)  # pages of two: the lookahead crosses pages
    assert not found.intact
    assert found.message.startswith(expected), found.message


def test_a_checkpoint_signed_with_another_secret_does_not_verify(sql_store: SqlStore) -> None:
    fill(AuditTrail(sql_store, now=Ticking(), checkpoint_every=2), 2)
    other = AuditTrail(sql_store, secret=b"not the server's secret")
    assert verify_trail(other).message.startswith("record #2: its signed checkpoint has a wrong")


# -- retention ----------------------------------------------------------------------------------


def test_a_prune_keeps_the_rest_verifiable_and_the_numbers_go_on(sql_store: SqlStore) -> None:
    clock = Ticking()
    trail = AuditTrail(sql_store, now=clock, checkpoint_every=3)
    fill(trail, 6, clock)

    assert trail.prune(T0 + timedelta(minutes=5)) == 4  # records 1-4 (at 1, 2, 3, 4 min)

    assert verify_trail(trail).message == "intact: 2 records, last #6"
    fill(trail, 1, clock)
    assert verify_trail(trail).message == "intact: 3 records, last #7"
    with sql_store.transaction() as tx:
        assert [c.seq for c in tx.list_audit_checkpoints()] == [4, 6]


def test_everything_pruned_the_chain_goes_on_from_the_cut(sql_store: SqlStore) -> None:
    trail = AuditTrail(sql_store, now=Ticking())
    fill(trail, 2)
    assert trail.prune(T0 + timedelta(days=1)) == 2
    assert verify_trail(trail).message == "intact: 0 records"
    fill(trail, 1)
    [record] = trail.records(AuditQuery())
    assert record.seq == 3
    assert verify_trail(trail).message == "intact: 1 records, last #3"


def test_records_deleted_from_the_start_without_a_prune_are_found(sql_store: SqlStore) -> None:
    trail = AuditTrail(sql_store, now=Ticking())
    fill(trail, 4)
    raw(sql_store, "DELETE FROM audit_log WHERE seq <= 2")
    assert verify_trail(trail).message == (
        "record #3: the records before it are missing (deleted): no signed checkpoint at #2"
    )


def test_a_prune_with_its_cut_checkpoint_removed_is_found(sql_store: SqlStore) -> None:
    clock = Ticking()
    trail = AuditTrail(sql_store, now=clock)
    fill(trail, 4, clock)
    trail.prune(T0 + timedelta(minutes=3))
    with sql_store.engine.begin() as connection:
        connection.execute(sa.delete(audit_checkpoints))
    assert verify_trail(trail).broken_seq == 3


# -- concurrency ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_stores_recording_at_once_on_postgresql_keep_a_gap_free_chain(
    postgres_store: SqlStore, postgres_url: str
) -> None:
    others = [SqlStore(postgres_url) for _ in range(2)]
    per_thread = 40
    start = threading.Barrier(len(others))
    failures: list[BaseException] = []

    def record_many(store: SqlStore, name: str) -> None:
        trail = AuditTrail(store, checkpoint_every=25)
        try:
            start.wait()
            for n in range(per_thread):
                trail.record(Actor(name, "user"), "task.claim", Resource("user_task", str(n)))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [
        threading.Thread(target=record_many, args=(store, f"node{i}"))
        for i, store in enumerate(others)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for store in others:
        store.close()

    assert failures == []
    trail = AuditTrail(postgres_store)
    records = trail.records(AuditQuery(limit=1000))
    assert [r.seq for r in records] == list(range(1, 2 * per_thread + 1))
    assert {r.actor for r in records} == {"node0", "node1"}
    assert (
        verify_trail(trail).message == f"intact: {2 * per_thread} records, last #{2 * per_thread}"
    )
