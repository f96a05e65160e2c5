"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.alerts.Alerts`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from legato.store._sql_base import SqlTransactionBase
from legato.store.alerts import OVERDUE_KINDS, OverdueRun
from legato.store.records import AlertRecord, DeliveryRecord, ServiceLevelRecord, WebhookRecord
from legato.store.schema import (
    alerts,
    element_facts,
    instance_facts,
    service_levels,
    webhook_deliveries,
    webhooks,
)

_CHUNK = 500
"""Keys per IN list."""
_ANALYZE_AFTER = 500
"""Alerts inserted at once after which PostgreSQL's statistics of the table are renewed."""
_ALERT_FIELDS = (
    "alert_key",
    "dedupe_key",
    "kind",
    "process_id",
    "version",
    "instance_key",
    "element_id",
    "element_instance_key",
    "raised_at",
    "resolved_at",
    "details",
)
_DELIVERY_FIELDS = (
    "delivery_key",
    "webhook_key",
    "alert_key",
    "event",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "delivered_at",
    "last_error",
)


def _alert_record(row: sa.RowMapping) -> AlertRecord:
    return AlertRecord(**{name: row[name] for name in _ALERT_FIELDS})


def _delivery_params(record: DeliveryRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _DELIVERY_FIELDS}


def _delivery_record(row: sa.RowMapping) -> DeliveryRecord:
    return DeliveryRecord(**{name: row[name] for name in _DELIVERY_FIELDS})


def _service_level_record(row: sa.RowMapping) -> ServiceLevelRecord:
    return ServiceLevelRecord(
        process_id=row["process_id"],
        version=row["version"],
        element_id=row["element_id"],
        expected_duration=timedelta(microseconds=row["expected_us"]),
        threshold=row["threshold"],
        updated_at=row["updated_at"],
    )


def _webhook_record(row: sa.RowMapping) -> WebhookRecord:
    kinds = row["kinds"]
    return WebhookRecord(
        webhook_key=row["webhook_key"],
        url=row["url"],
        secret=row["secret"],
        kinds=None if kinds is None else tuple(kinds),
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
    )


class SqlAlerts(SqlTransactionBase):
    """The alerts part of a SQL transaction.

    Not on the command path: the SLA sweep and the delivery worker run these a few times a
    minute, so plain Core statements."""

    def insert_alert(self, record: AlertRecord) -> bool:
        """INSERT … ON CONFLICT DO NOTHING: on PostgreSQL a concurrent insert of the same
        dedupe key waits for the other transaction and then does nothing, so exactly one
        sweep raises the alert and neither is aborted by a unique violation."""
        values = {name: getattr(record, name) for name in _ALERT_FIELDS}
        statement = self._sql.insert(alerts).values(**values).on_conflict_do_nothing()
        return self._execute(statement.returning(alerts.c.alert_key)).first() is not None

    def insert_alerts(self, records: Sequence[AlertRecord]) -> list[AlertRecord]:
        """INSERT … ON CONFLICT DO NOTHING for each (a taken dedupe key is skipped, as in
        :meth:`insert_alert`), then a read of which keys went in."""
        if not records:
            return []
        values = [{name: getattr(r, name) for name in _ALERT_FIELDS} for r in records]
        # executemany of one compiled statement (a multi-row VALUES is compiled per call).
        self._execute(self._sql.insert(alerts).on_conflict_do_nothing(), values)
        stored: set[int] = set()
        keys = [r.alert_key for r in records]
        for start in range(0, len(keys), _CHUNK):
            query = sa.select(alerts.c.alert_key).where(
                alerts.c.alert_key.in_(keys[start : start + _CHUNK])
            )
            stored.update(int(row[0]) for row in self._execute(query))
        if len(stored) >= _ANALYZE_AFTER and self._sql.name == "postgresql":
            # The sweep's anti-joins probe this table once per overdue run; planned with the
            # statistics of a much smaller table, PostgreSQL would scan it once per run.
            self._execute(sa.text("ANALYZE alerts"))
        return [r for r in records if r.alert_key in stored]

    def overdue_runs(
        self,
        process_id: str,
        version: int,
        element_id: str | None,
        started_before: datetime,
        limit: int,
    ) -> list[OverdueRun]:
        """Walks ``ix_instance_facts_open`` (``ix_element_facts_open``) from the oldest
        start and probes ``ix_alerts_instance`` for each (an integer probe: an overdue alert
        of the run, open or resolved, exists exactly when its dedupe key does): one
        statement, no row of an alerted run comes back to Python, so a sweep over many
        overdue runs that are all alerted already costs an index range scan."""
        a = alerts
        if element_id is None:
            f = instance_facts
            key = f.c.instance_key
            columns = [key, f.c.started_at, f.c.instance_key, sa.null()]
            where = [f.c.process_id == process_id, f.c.version == version]
            alerted = sa.exists().where(a.c.instance_key == key, a.c.kind == OVERDUE_KINDS[0])
        else:
            f = element_facts
            key = f.c.element_instance_key
            columns = [key, f.c.started_at, f.c.instance_key, key]
            where = [
                f.c.process_id == process_id,
                f.c.version == version,
                f.c.element_id == element_id,
            ]
            alerted = sa.exists().where(
                a.c.instance_key == f.c.instance_key,
                a.c.element_instance_key == key,
                a.c.kind == OVERDUE_KINDS[1],
            )
        query = (
            sa.select(*columns)
            .where(*where, f.c.ended_at.is_(None), f.c.started_at < started_before, ~alerted)
            .order_by(f.c.started_at, key)
            .limit(limit)
        )
        rows: list[Any] = [tuple(row) for row in self._execute(query)]
        return [OverdueRun(*row) for row in rows]

    def ended_overdue_alerts(self) -> list[int]:
        """The open overdue alerts (``ix_alerts_open``) without a running fact: one
        anti-join per kind (one statement with an OR of both made PostgreSQL's estimate so
        high that it compiled the query with JIT, which took longer than running it)."""
        a = alerts
        ended: list[int] = []
        for kind, facts, column, key in (
            (OVERDUE_KINDS[0], instance_facts, instance_facts.c.instance_key, a.c.instance_key),
            (
                OVERDUE_KINDS[1],
                element_facts,
                element_facts.c.element_instance_key,
                a.c.element_instance_key,
            ),
        ):
            running = sa.exists().where(column == key, facts.c.ended_at.is_(None))
            query = sa.select(a.c.alert_key).where(
                a.c.resolved_at.is_(None), a.c.kind == kind, ~running
            )
            ended += (int(row[0]) for row in self._execute(query))
        return sorted(ended)

    def resolve_alerts(self, alert_keys: Sequence[int], at: datetime) -> list[int]:
        """Mark open alerts resolved; returns the keys that were open."""
        if not alert_keys:
            return []
        statement = (
            sa.update(alerts)
            .where(alerts.c.alert_key.in_(list(alert_keys)), alerts.c.resolved_at.is_(None))
            .values(resolved_at=at)
            .returning(alerts.c.alert_key)
        )
        return [int(row[0]) for row in self._execute(statement)]

    def get_alert(self, alert_key: int) -> AlertRecord | None:
        """One alert by key."""
        row = self._execute(sa.select(alerts).where(alerts.c.alert_key == alert_key)).first()
        return None if row is None else _alert_record(row._mapping)

    def list_alerts(
        self,
        *,
        open_only: bool = True,
        kind: str | None = None,
        process_id: str | None = None,
        instance_key: int | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        """Alerts, newest first (the open ones through ``ix_alerts_open``)."""
        query = sa.select(alerts)
        if open_only:
            query = query.where(alerts.c.resolved_at.is_(None))
        if kind is not None:
            query = query.where(alerts.c.kind == kind)
        if process_id is not None:
            query = query.where(alerts.c.process_id == process_id)
        if instance_key is not None:
            query = query.where(alerts.c.instance_key == instance_key)
        query = query.order_by(alerts.c.raised_at.desc(), alerts.c.alert_key.desc()).limit(limit)
        return [_alert_record(row._mapping) for row in self._execute(query)]

    def save_service_level(self, record: ServiceLevelRecord) -> None:
        """Insert or replace an expected duration (an upsert on the primary key)."""
        values = {
            "process_id": record.process_id,
            "version": record.version,
            "element_id": record.element_id,
            "expected_us": record.expected_duration // timedelta(microseconds=1),
            "threshold": record.threshold,
            "updated_at": record.updated_at,
        }
        statement = self._sql.insert(service_levels).values(**values)
        self._execute(
            statement.on_conflict_do_update(
                index_elements=["process_id", "version", "element_id"],
                set_={
                    "expected_us": statement.excluded.expected_us,
                    "threshold": statement.excluded.threshold,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    def delete_service_level(self, process_id: str, version: int, element_id: str) -> bool:
        """Remove an API-set expected duration; False if there was none."""
        c = service_levels.c
        statement = (
            sa.delete(service_levels)
            .where(c.process_id == process_id, c.version == version, c.element_id == element_id)
            .returning(c.process_id)
        )
        return self._execute(statement).first() is not None

    def list_service_levels(self) -> list[ServiceLevelRecord]:
        """Every API-set expected duration."""
        c = service_levels.c
        query = sa.select(service_levels).order_by(c.process_id, c.version, c.element_id)
        return [_service_level_record(row._mapping) for row in self._execute(query)]

    def insert_webhook(self, record: WebhookRecord) -> None:
        """Store a new webhook."""
        values = {
            "webhook_key": record.webhook_key,
            "url": record.url,
            "secret": record.secret,
            "kinds": None if record.kinds is None else list(record.kinds),
            "enabled": record.enabled,
            "created_at": record.created_at,
        }
        self._execute(sa.insert(webhooks).values(**values))

    def delete_webhook(self, webhook_key: int) -> bool:
        """Remove a webhook and its deliveries."""
        self._execute(
            sa.delete(webhook_deliveries).where(webhook_deliveries.c.webhook_key == webhook_key)
        )
        statement = (
            sa.delete(webhooks)
            .where(webhooks.c.webhook_key == webhook_key)
            .returning(webhooks.c.webhook_key)
        )
        return self._execute(statement).first() is not None

    def list_webhooks(self) -> list[WebhookRecord]:
        """Every webhook, oldest first."""
        query = sa.select(webhooks).order_by(webhooks.c.created_at, webhooks.c.webhook_key)
        return [_webhook_record(row._mapping) for row in self._execute(query)]

    def enqueue_deliveries(self, records: Sequence[DeliveryRecord]) -> None:
        """Add deliveries; ``ux_webhook_deliveries_event`` turns a repeat into nothing."""
        for record in records:
            statement = self._sql.insert(webhook_deliveries).values(**_delivery_params(record))
            self._execute(statement.on_conflict_do_nothing())

    def claim_deliveries(
        self, now: datetime, claim_until: datetime, limit: int
    ) -> list[DeliveryRecord]:
        """Select the due pending rows (``ix_webhook_deliveries_due``; PostgreSQL skips rows
        another worker has locked), then push their next attempt to ``claim_until``."""
        c = webhook_deliveries.c
        query = (
            sa.select(webhook_deliveries)
            .where(c.status == "pending", c.next_attempt_at <= now)
            .order_by(c.next_attempt_at, c.delivery_key)
            .limit(limit)
        )
        found = self._execute(self._sql.skip_locked(query))
        rows = [_delivery_record(row._mapping) for row in found]
        claimed = []
        for row in rows:
            attempts = row.attempts + 1
            self._execute(
                sa.update(webhook_deliveries)
                .where(c.delivery_key == row.delivery_key)
                .values(attempts=attempts, next_attempt_at=claim_until)
            )
            claimed.append(replace(row, attempts=attempts, next_attempt_at=claim_until))
        return claimed

    def update_delivery(self, record: DeliveryRecord) -> None:
        """Save a delivery's outcome."""
        params = _delivery_params(record)
        del params["delivery_key"]
        self._execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.delivery_key == record.delivery_key)
            .values(**params)
        )

    def list_deliveries(
        self, *, alert_key: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """Deliveries, newest first."""
        c = webhook_deliveries.c
        query = sa.select(webhook_deliveries)
        if alert_key is not None:
            query = query.where(c.alert_key == alert_key)
        query = query.order_by(c.created_at.desc(), c.delivery_key.desc()).limit(limit)
        return [_delivery_record(row._mapping) for row in self._execute(query)]
