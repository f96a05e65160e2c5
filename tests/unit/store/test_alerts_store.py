"""The alerts part of the store: alerts raised once, service levels, webhooks and the outbox,
on every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from legato.store.memory import MemoryStore
from legato.store.ports import Store
from legato.store.records import AlertRecord, DeliveryRecord, ServiceLevelRecord, WebhookRecord
from legato.store.sql import SqlStore

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(
    params=["memory", "sqlite-file", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_store")
        return
    made: Store = (
        MemoryStore() if request.param == "memory" else SqlStore(f"sqlite:///{tmp_path}/a.db")
    )
    yield made
    made.close()


def alert(key: int, dedupe: str, *, at: datetime = T0, instance_key: int = 7) -> AlertRecord:
    return AlertRecord(
        alert_key=key,
        dedupe_key=dedupe,
        kind="instance_overdue",
        raised_at=at,
        process_id="order",
        version=1,
        instance_key=instance_key,
        details={"expectedSeconds": 3600},
    )


def test_an_alert_is_raised_once_per_dedupe_key_and_resolved_once(store: Store) -> None:
    with store.transaction() as tx:
        first, second = tx.reserve_keys(2)
        assert tx.insert_alert(alert(first, "instance_overdue:7"))
        assert not tx.insert_alert(alert(second, "instance_overdue:7"))
    with store.transaction() as tx:
        assert [a.alert_key for a in tx.list_alerts()] == [first]
        assert tx.resolve_alerts([first], T0 + timedelta(hours=1)) == [first]
        assert tx.resolve_alerts([first], T0 + timedelta(hours=2)) == []
    with store.transaction() as tx:
        assert tx.list_alerts() == []
        (stored,) = tx.list_alerts(open_only=False)
    expected = replace(alert(first, "instance_overdue:7"), resolved_at=T0 + timedelta(hours=1))
    assert stored == expected


def test_alerts_are_listed_newest_first_with_filters(store: Store) -> None:
    with store.transaction() as tx:
        keys = tx.reserve_keys(3)
        for n, key in enumerate(keys):
            tx.insert_alert(alert(key, f"a{n}", at=T0 + timedelta(minutes=n), instance_key=n))
    with store.transaction() as tx:
        assert [a.alert_key for a in tx.list_alerts()] == list(reversed(keys))
        assert [a.alert_key for a in tx.list_alerts(instance_key=1)] == [keys[1]]
        assert tx.list_alerts(kind="error_rate") == []
        assert [a.alert_key for a in tx.list_alerts(limit=1)] == [keys[2]]


def test_service_levels_are_upserted_and_deleted(store: Store) -> None:
    level = ServiceLevelRecord("order", 0, "", timedelta(hours=1), None, T0)
    with store.transaction() as tx:
        tx.save_service_level(level)
        tx.save_service_level(ServiceLevelRecord("order", 0, "", timedelta(minutes=5), 3.0, T0))
    with store.transaction() as tx:
        assert tx.list_service_levels() == [
            ServiceLevelRecord("order", 0, "", timedelta(minutes=5), 3.0, T0)
        ]
        assert tx.delete_service_level("order", 0, "")
        assert not tx.delete_service_level("order", 0, "")


def test_the_outbox_is_claimed_with_an_attempt_and_a_claim_time(store: Store) -> None:
    with store.transaction() as tx:
        hook, alert_key, delivery_key = tx.reserve_keys(3)
        tx.insert_webhook(WebhookRecord(hook, "http://127.0.0.1:1/x", "s3cret", None, True, T0))
        delivery = DeliveryRecord(
            delivery_key=delivery_key,
            webhook_key=hook,
            alert_key=alert_key,
            event="raised",
            payload={"kind": "instance_overdue"},
            created_at=T0,
            next_attempt_at=T0,
        )
        tx.enqueue_deliveries([delivery])
        tx.enqueue_deliveries([delivery])  # a repeat is nothing
    with store.transaction() as tx:
        assert tx.claim_deliveries(T0 - timedelta(seconds=1), T0, 10) == []
        (claimed,) = tx.claim_deliveries(T0, T0 + timedelta(seconds=30), 10)
        assert (claimed.attempts, claimed.next_attempt_at) == (1, T0 + timedelta(seconds=30))
        assert tx.claim_deliveries(T0 + timedelta(seconds=29), T0, 10) == []
        tx.update_delivery(replace_status(claimed, "delivered"))
    with store.transaction() as tx:
        (listed,) = tx.list_deliveries(alert_key=alert_key)
        assert (listed.status, listed.payload) == ("delivered", {"kind": "instance_overdue"})
        assert tx.claim_deliveries(T0 + timedelta(days=1), T0, 10) == []
        assert tx.delete_webhook(hook)
        assert tx.list_deliveries() == [] and tx.list_webhooks() == []


def replace_status(record: DeliveryRecord, status: str) -> DeliveryRecord:
    return replace(record, status=status, next_attempt_at=None, delivered_at=T0)


@pytest.mark.postgres
def test_two_nodes_raising_one_alert_at_once_insert_it_once_on_postgres(
    postgres_store: Store, postgres_url: str
) -> None:
    # Two stores are two nodes (a store runs one transaction at a time).
    other = SqlStore(postgres_url)
    nodes = iter([postgres_store, other])
    barrier = threading.Barrier(2)
    results: list[bool] = []

    with postgres_store.transaction() as tx:
        keys = iter(tx.reserve_keys(2))  # the key counter's row lock would serialise them

    def raise_it() -> None:
        key, node = next(keys), next(nodes)
        with node.transaction() as tx:
            tx.list_alerts()  # the transaction has begun
            barrier.wait(timeout=30)
            results.append(tx.insert_alert(alert(key, "instance_overdue:concurrent")))

    threads = [threading.Thread(target=raise_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    other.close()
    assert sorted(results) == [False, True]
    with postgres_store.transaction() as tx:
        assert len(tx.list_alerts(process_id="order", instance_key=7)) >= 1
        assert [a.dedupe_key for a in tx.list_alerts()].count("instance_overdue:concurrent") == 1
