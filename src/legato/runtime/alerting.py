"""Service levels and alerts on :class:`~legato.runtime.engine.Engine` (mixed in).

Expected durations come from the model (``legato:sla``) or :meth:`AlertMethods.set_sla`; the
sweep (:mod:`legato.runtime.sla`) raises alerts on runs past them and resolves those that
moved on; webhooks get each raised and resolved alert (:mod:`legato.runtime.webhooks`).
A serving node sweeps every :attr:`AlertConfig.interval <legato.runtime.sla.AlertConfig>`
under the ``sweep`` lock and posts deliveries on a thread of its own; the test kit sweeps on
every advance of its clock. An embedded engine calls :meth:`~AlertMethods.sweep_alerts` and
:meth:`~AlertMethods.deliver_webhooks` when it wants.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from legato.errors import InvalidCommandError, NotFoundError
from legato.runtime.arguments import check_one_of, checked_arguments
from legato.runtime.sla import AlertConfig, SweepReport, enqueue_event, expectations, sweep
from legato.runtime.webhooks import Webhook, WebhookDelivery
from legato.store.records import (
    ALERT_KINDS,
    AlertRecord,
    DeliveryRecord,
    ServiceLevelRecord,
    WebhookRecord,
)

if TYPE_CHECKING:
    from legato.runtime.clock import Clock
    from legato.runtime.definitions import DefinitionRegistry
    from legato.store.ports import Store, Transaction


@checked_arguments
class AlertMethods:
    """Alerts, service levels and webhooks (mixed into the engine)."""

    store: Store
    clock: Clock
    _definitions: DefinitionRegistry
    alert_config: AlertConfig
    """When alerts are raised (``Engine(alerts=...)``)."""
    webhook_delivery: WebhookDelivery
    """Posts the outbox (a thread of its own while the engine serves)."""
    _last_sweep: datetime | None

    def _setup_alerts(self, webhooks: Sequence[Webhook]) -> None:
        """Register the webhooks the engine was made with (once per URL)."""
        if not webhooks:
            return
        known = {hook.url for hook in self.webhooks()}
        for hook in webhooks:
            if hook.url not in known:
                self.add_webhook(hook.url, secret=hook.secret, kinds=hook.kinds)

    # -- alerts --------------------------------------------------------------------------------

    def alerts(
        self,
        *,
        include_resolved: bool = False,
        kind: str | None = None,
        process_id: str | None = None,
        instance_key: int | None = None,
        limit: int = 100,
    ) -> list[AlertRecord]:
        """The open alerts (with ``include_resolved``, the resolved ones too), newest first.

        Each has ``alert_key``, ``kind`` (``instance_overdue``, ``element_overdue``,
        ``error_rate`` or ``job_queue_age``), ``instance_key``, ``element_id`` (None for a
        whole instance), ``raised_at``, ``resolved_at`` and the measured ``details``.
        """
        check_one_of("kind", kind, ALERT_KINDS)
        with self.store.transaction() as tx:
            return tx.list_alerts(
                open_only=not include_resolved,
                kind=kind,
                process_id=process_id,
                instance_key=instance_key,
                limit=limit,
            )

    def alert(self, alert_key: int) -> AlertRecord:
        """One alert by key.

        Raises:
            NotFoundError: there is no such alert.
        """
        with self.store.transaction() as tx:
            found = tx.get_alert(alert_key)
        if found is None:
            raise NotFoundError(f"no alert {alert_key}")
        return found

    def resolve_alert(self, alert_key: int) -> AlertRecord:
        """Resolve an open alert by hand (webhooks are told). An overdue run that still runs
        is not raised again.

        Raises:
            NotFoundError: there is no such alert.
        """
        now = self.clock.now()
        with self.store.transaction() as tx:
            if tx.get_alert(alert_key) is None:
                raise NotFoundError(f"no alert {alert_key}")
            if tx.resolve_alerts([alert_key], now):
                resolved = tx.get_alert(alert_key)
                if resolved is not None:
                    enqueue_event(tx, now, [resolved], "resolved")
            found = tx.get_alert(alert_key)
        assert found is not None
        return found

    def sweep_alerts(self) -> SweepReport:
        """Sweep now: raise the alerts that are due, resolve those that moved on."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            report = self._sweep_in(tx, now)
        if report.raised or report.resolved:
            self.webhook_delivery.notify()
        return report

    def _sweep_in(self, tx: Transaction, now: datetime) -> SweepReport:
        config = self.alert_config
        expected = expectations(tx, self._definitions, config.threshold)
        self._last_sweep = now
        return sweep(tx, now, config, expected)

    def _sweep_if_due(self, tx: Transaction) -> None:
        """The serving node's duty: sweep once every configured interval."""
        now = self.clock.now()
        last = self._last_sweep
        if last is None or now - last >= self.alert_config.interval:
            report = self._sweep_in(tx, now)
            if report.raised or report.resolved:
                self.webhook_delivery.notify()

    # -- service levels ------------------------------------------------------------------------

    def set_sla(
        self,
        process_id: str,
        element_id: str | None = None,
        *,
        expected: timedelta,
        version: int | None = None,
        threshold: float | None = None,
    ) -> ServiceLevelRecord:
        """Set the expected duration of a process's instances (or of one element's), for
        one version or (``version`` None) every version; it overrides the model's.

        Raises:
            InvalidCommandError: ``expected`` is not positive or ``threshold`` is below 1.
        """
        if expected <= timedelta(0):
            raise InvalidCommandError(f"expected must be a positive duration, got {expected}")
        if threshold is not None and not threshold >= 1:
            raise InvalidCommandError(f"threshold must be at least 1, got {threshold}")
        record = ServiceLevelRecord(
            process_id, version or 0, element_id or "", expected, threshold, self.clock.now()
        )
        with self.store.transaction() as tx:
            tx.save_service_level(record)
        return record

    def remove_sla(
        self, process_id: str, element_id: str | None = None, *, version: int | None = None
    ) -> bool:
        """Remove an expected duration set with :meth:`set_sla` (the model's applies again);
        False if there was none."""
        with self.store.transaction() as tx:
            return tx.delete_service_level(process_id, version or 0, element_id or "")

    def slas(self) -> list[ServiceLevelRecord]:
        """The expected durations set with :meth:`set_sla`."""
        with self.store.transaction() as tx:
            return tx.list_service_levels()

    # -- webhooks ------------------------------------------------------------------------------

    def add_webhook(
        self, url: str, *, secret: str | None = None, kinds: Sequence[str] | None = None
    ) -> WebhookRecord:
        """Post alerts to ``url`` from now on (signed with ``secret``, a new random one when
        omitted: read it from the returned record).

        Raises:
            InvalidCommandError: the URL is not http(s) or a kind is unknown.
        """
        if not url.startswith(("http://", "https://")):
            raise InvalidCommandError(f"url must be an http:// or https:// URL, got {url!r}")
        for kind in kinds or ():
            check_one_of("kinds", kind, ALERT_KINDS)
        with self.store.transaction() as tx:
            (key,) = tx.reserve_keys(1)
            record = WebhookRecord(
                key,
                url,
                secret or secrets.token_urlsafe(24),
                None if kinds is None else tuple(kinds),
                True,
                self.clock.now(),
            )
            tx.insert_webhook(record)
        return record

    def webhooks(self) -> list[WebhookRecord]:
        """The registered webhooks, oldest first."""
        with self.store.transaction() as tx:
            return tx.list_webhooks()

    def remove_webhook(self, webhook_key: int) -> bool:
        """Stop posting to a webhook (its pending deliveries are dropped)."""
        with self.store.transaction() as tx:
            return tx.delete_webhook(webhook_key)

    def deliver_webhooks(self) -> int:
        """Post the deliveries due now, here and now (outside any engine transaction);
        returns how many were posted."""
        return self.webhook_delivery.deliver_due()

    def webhook_deliveries(
        self, *, alert_key: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """The outbox: deliveries (of one alert), newest first, with their attempts."""
        with self.store.transaction() as tx:
            return tx.list_deliveries(alert_key=alert_key, limit=limit)
