"""The in-memory adapter of :class:`~legato.store.alerts.Alerts`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from legato.errors import ConflictError
from legato.store._memory_base import MemoryTransactionBase, _json_copy, _ordered
from legato.store._rules import dump_json, utc, utc_or_none
from legato.store.alerts import OVERDUE_KINDS, OverdueRun, overdue_dedupe_key
from legato.store.records import AlertRecord, DeliveryRecord, ServiceLevelRecord, WebhookRecord


def _round_trip(value: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = _json_copy(dump_json(value))
    return copied


def _normal_delivery(record: DeliveryRecord) -> DeliveryRecord:
    return replace(
        record,
        payload=_round_trip(record.payload),
        created_at=utc(record.created_at),
        next_attempt_at=utc_or_none(record.next_attempt_at),
        delivered_at=utc_or_none(record.delivered_at),
    )


class MemoryAlerts(MemoryTransactionBase):
    """The alerts part of an in-memory transaction."""

    def insert_alert(self, record: AlertRecord) -> bool:
        """Store a new alert unless its dedupe key is taken (False then)."""
        self._check_open()
        if self._alert_dedupe_keys.get(record.dedupe_key) is not None:
            return False
        if self._alerts.get(record.alert_key) is not None:
            raise ConflictError(f"concurrent change: alert {record.alert_key} exists")
        stored = replace(
            record,
            raised_at=utc(record.raised_at),
            resolved_at=utc_or_none(record.resolved_at),
            details=_round_trip(record.details),
        )
        self._alerts.put(record.alert_key, stored)
        self._alert_dedupe_keys.put(record.dedupe_key, record.alert_key)
        return True

    def insert_alerts(self, records: Sequence[AlertRecord]) -> list[AlertRecord]:
        """Store new alerts, leaving out those whose dedupe key is taken."""
        return [record for record in records if self.insert_alert(record)]

    def overdue_runs(
        self,
        process_id: str,
        version: int,
        element_id: str | None,
        started_before: datetime,
        limit: int,
    ) -> list[OverdueRun]:
        """Running (element) instances started before a time without an overdue alert."""
        self._check_open()
        before = utc(started_before)
        runs: list[OverdueRun]
        if element_id is None:
            runs = [
                OverdueRun(f.instance_key, f.started_at, f.instance_key, None)
                for f in self._instance_facts.values()
                if f.process_id == process_id
                and f.version == version
                and f.ended_at is None
                and f.started_at < before
            ]
        else:
            runs = [
                OverdueRun(
                    f.element_instance_key, f.started_at, f.instance_key, f.element_instance_key
                )
                for f in self._element_facts.values()
                if f.process_id == process_id
                and f.version == version
                and f.element_id == element_id
                and f.ended_at is None
                and f.started_at < before
            ]
        fresh = [
            run
            for run in runs
            if self._alert_dedupe_keys.get(overdue_dedupe_key(element_id, run.key)) is None
        ]
        fresh.sort(key=lambda run: (run.started_at, run.key))
        return fresh[:limit]

    def ended_overdue_alerts(self) -> list[int]:
        """The open overdue alerts whose run no longer runs."""
        self._check_open()
        ended = []
        for alert in self._alerts.values():
            if alert.resolved_at is not None or alert.kind not in OVERDUE_KINDS:
                continue
            if alert.element_instance_key is not None:
                element = self._element_facts.get(alert.element_instance_key)
                running = element is not None and element.ended_at is None
            else:
                instance = self._instance_facts.get(alert.instance_key or 0)
                running = instance is not None and instance.ended_at is None
            if not running:
                ended.append(alert.alert_key)
        return sorted(ended)

    def resolve_alerts(self, alert_keys: Sequence[int], at: datetime) -> list[int]:
        """Mark open alerts resolved; returns the keys that were open."""
        self._check_open()
        resolved = []
        for key in alert_keys:
            alert = self._alerts.get(key)
            if alert is not None and alert.resolved_at is None:
                self._alerts.put(key, replace(alert, resolved_at=utc(at)))
                resolved.append(key)
        return resolved

    def get_alert(self, alert_key: int) -> AlertRecord | None:
        """One alert by key."""
        self._check_open()
        return self._alerts.get(alert_key)

    def list_alerts(
        self,
        *,
        open_only: bool = True,
        kind: str | None = None,
        process_id: str | None = None,
        instance_key: int | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        """Alerts, newest first."""
        self._check_open()
        found = [
            alert
            for alert in self._alerts.values()
            if (not open_only or alert.resolved_at is None)
            and (kind is None or alert.kind == kind)
            and (process_id is None or alert.process_id == process_id)
            and (instance_key is None or alert.instance_key == instance_key)
        ]
        found.sort(key=lambda a: (a.raised_at, a.alert_key), reverse=True)
        return found[:limit]

    def save_service_level(self, record: ServiceLevelRecord) -> None:
        """Insert or replace an expected duration."""
        self._check_open()
        key = (record.process_id, record.version, record.element_id)
        self._service_levels.put(key, replace(record, updated_at=utc(record.updated_at)))

    def delete_service_level(self, process_id: str, version: int, element_id: str) -> bool:
        """Remove an API-set expected duration; False if there was none."""
        self._check_open()
        key = (process_id, version, element_id)
        if self._service_levels.get(key) is None:
            return False
        self._service_levels.delete(key)
        return True

    def list_service_levels(self) -> list[ServiceLevelRecord]:
        """Every API-set expected duration."""
        self._check_open()
        return _ordered(
            self._service_levels.values(), lambda s: (s.process_id, s.version, s.element_id)
        )

    def insert_webhook(self, record: WebhookRecord) -> None:
        """Store a new webhook (a taken key is a :class:`ConflictError`, as in SQL)."""
        self._check_open()
        if self._webhooks.get(record.webhook_key) is not None:
            raise ConflictError(f"concurrent change: webhook {record.webhook_key} exists")
        self._webhooks.put(record.webhook_key, replace(record, created_at=utc(record.created_at)))

    def delete_webhook(self, webhook_key: int) -> bool:
        """Remove a webhook and its deliveries."""
        self._check_open()
        if self._webhooks.get(webhook_key) is None:
            return False
        self._webhooks.delete(webhook_key)
        for delivery in list(self._deliveries.values()):
            if delivery.webhook_key == webhook_key:
                self._deliveries.delete(delivery.delivery_key)
                self._delivery_events.delete(_event_of(delivery))
        return True

    def list_webhooks(self) -> list[WebhookRecord]:
        """Every webhook, oldest first."""
        self._check_open()
        return _ordered(self._webhooks.values(), lambda w: (w.created_at, w.webhook_key))

    def enqueue_deliveries(self, records: Sequence[DeliveryRecord]) -> None:
        """Add deliveries; existing ones (same webhook, alert, event) stay as they are."""
        self._check_open()
        for record in records:
            if self._delivery_events.get(_event_of(record)) is not None:
                continue
            self._deliveries.put(record.delivery_key, _normal_delivery(record))
            self._delivery_events.put(_event_of(record), record.delivery_key)

    def claim_deliveries(
        self, now: datetime, claim_until: datetime, limit: int
    ) -> list[DeliveryRecord]:
        """Take the due pending deliveries, oldest due first."""
        self._check_open()
        now = utc(now)
        due = [
            d
            for d in self._deliveries.values()
            if d.status == "pending" and d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        due.sort(key=lambda d: (d.next_attempt_at, d.delivery_key))
        claimed = []
        for delivery in due[:limit]:
            taken = replace(
                delivery, attempts=delivery.attempts + 1, next_attempt_at=utc(claim_until)
            )
            self._deliveries.put(delivery.delivery_key, taken)
            claimed.append(taken)
        return claimed

    def update_delivery(self, record: DeliveryRecord) -> None:
        """Save a delivery's outcome."""
        self._check_open()
        if self._deliveries.get(record.delivery_key) is not None:
            self._deliveries.put(record.delivery_key, _normal_delivery(record))

    def list_deliveries(
        self, *, alert_key: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """Deliveries, newest first."""
        self._check_open()
        found = [
            d for d in self._deliveries.values() if alert_key is None or d.alert_key == alert_key
        ]
        found.sort(key=lambda d: (d.created_at, d.delivery_key), reverse=True)
        return found[:limit]


def _event_of(record: DeliveryRecord) -> tuple[int, int, str]:
    return (record.webhook_key, record.alert_key, record.event)
