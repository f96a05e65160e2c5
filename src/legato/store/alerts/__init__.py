"""Alerts, the expected durations set through the API, webhooks and their delivery outbox.

The port (:class:`Alerts`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from legato.store.records import AlertRecord, DeliveryRecord, ServiceLevelRecord, WebhookRecord


class Alerts(Protocol):
    """Alerts, API-set service levels, webhooks and the delivery outbox."""

    def insert_alert(self, record: AlertRecord) -> bool:
        """Store a new alert unless one with its ``dedupe_key`` exists (then nothing changes
        and the answer is False). Race-free: of two transactions raising one alert, exactly
        one inserts it."""

    def resolve_alerts(self, alert_keys: Sequence[int], at: datetime) -> list[int]:
        """Mark open alerts resolved at ``at``; returns the keys that were open."""

    def get_alert(self, alert_key: int) -> AlertRecord | None:
        """One alert by key."""

    def list_alerts(
        self,
        *,
        open_only: bool = True,
        kind: str | None = None,
        process_id: str | None = None,
        instance_key: int | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        """Alerts (the open ones only, by default), newest first."""

    def save_service_level(self, record: ServiceLevelRecord) -> None:
        """Set (insert or replace) the expected duration of a process or element."""

    def delete_service_level(self, process_id: str, version: int, element_id: str) -> bool:
        """Remove an API-set expected duration; False if there was none."""

    def list_service_levels(self) -> list[ServiceLevelRecord]:
        """Every API-set expected duration, by process, version and element."""

    def insert_webhook(self, record: WebhookRecord) -> None:
        """Store a new webhook."""

    def delete_webhook(self, webhook_key: int) -> bool:
        """Remove a webhook and its deliveries; False if there was none."""

    def list_webhooks(self) -> list[WebhookRecord]:
        """Every webhook, oldest first."""

    def enqueue_deliveries(self, records: Sequence[DeliveryRecord]) -> None:
        """Add deliveries to the outbox; one that exists (same webhook, alert and event) is
        left as it is."""

    def claim_deliveries(
        self, now: datetime, claim_until: datetime, limit: int
    ) -> list[DeliveryRecord]:
        """Take up to ``limit`` pending deliveries due by ``now``, oldest due first: each
        counts one more attempt and is not due again before ``claim_until`` (so a worker
        that dies mid-post leaves it to be tried again). PostgreSQL skips rows that another
        worker is claiming."""

    def update_delivery(self, record: DeliveryRecord) -> None:
        """Save a delivery's outcome (status, next attempt, error)."""

    def list_deliveries(
        self, *, alert_key: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """Deliveries (of one alert), newest first."""
