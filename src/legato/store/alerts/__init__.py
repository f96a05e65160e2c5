"""Alerts, the expected durations set through the API, webhooks and their delivery outbox.

The port (:class:`Alerts`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from legato.store.records import AlertRecord, DeliveryRecord, ServiceLevelRecord, WebhookRecord

OVERDUE_KINDS = ("instance_overdue", "element_overdue")
"""The alert kinds about one run, resolved when it ends."""


class OverdueRun(NamedTuple):
    """A run past its expected duration: an instance, or an element instance."""

    key: int
    """The instance key, or the element instance key."""
    started_at: datetime
    instance_key: int
    element_instance_key: int | None


def overdue_dedupe_key(element_id: str | None, key: int) -> str:
    """The dedupe key of the overdue alert of a run (see :class:`OverdueRun`)."""
    kind = OVERDUE_KINDS[0] if element_id is None else OVERDUE_KINDS[1]
    return f"{kind}:{key}"


class Alerts(Protocol):
    """Alerts, API-set service levels, webhooks and the delivery outbox."""

    def insert_alert(self, record: AlertRecord) -> bool:
        """Store a new alert unless one with its ``dedupe_key`` exists (then nothing changes
        and the answer is False). Race-free: of two transactions raising one alert, exactly
        one inserts it."""

    def insert_alerts(self, records: Sequence[AlertRecord]) -> list[AlertRecord]:
        """Store new alerts at once; those whose ``dedupe_key`` exists are left out (as
        :meth:`insert_alert` does). Returns the ones stored."""

    def overdue_runs(
        self,
        process_id: str,
        version: int,
        element_id: str | None,
        started_before: datetime,
        limit: int,
    ) -> list[OverdueRun]:
        """Up to ``limit`` running instances of a version (with ``element_id``: running
        instances of that element) started before ``started_before`` that have no overdue
        alert yet, oldest first. Reads the analytics facts' partial indexes of open rows and
        probes the alerts' dedupe keys (``instance_overdue:<key>``,
        ``element_overdue:<element instance key>``)."""

    def ended_overdue_alerts(self) -> list[int]:
        """The open overdue alerts whose instance (element instance) no longer runs."""

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
