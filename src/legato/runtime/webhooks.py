"""Webhook delivery: post the alerts of the outbox, signed, retried with backoff.

The SLA sweep writes one delivery per alert event and webhook into ``webhook_deliveries``
in its own transaction (see :mod:`legato.runtime.sla`). :class:`WebhookDelivery` reads that
outbox **outside any engine transaction**: it claims a few due deliveries in a short
transaction (each counts an attempt and is not due again until the claim runs out, so a
worker that dies mid-post leaves it to another), commits, posts them with a timeout, and
records each outcome in another short transaction. A slow or broken endpoint therefore
holds no lock and no engine thread: at worst it delays the other deliveries of its worker.

**The request.** ``POST`` of the payload as JSON with the headers
``X-Legato-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the webhook's
secret>``, ``X-Legato-Timestamp`` (the engine's time, ISO 8601) and
``X-Legato-Delivery`` (the delivery key, the same on every attempt, for deduplication: a
delivery is at-least-once). A 2xx answer delivers it.

**Retries.** Any other answer, a timeout or a connection error is retried after
``initial_backoff × 2^(attempt-1)`` (at most ``max_backoff``), jittered by ±``jitter``,
until ``max_attempts``; then the delivery is ``failed`` with its last error. Times come from
the engine's clock, so the test kit's virtual clock drives the backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx
import orjson

from legato.errors import StoreError
from legato.runtime.clock import Clock
from legato.store.ports import Store
from legato.store.records import DeliveryRecord, WebhookRecord

logger = logging.getLogger("legato.webhooks")

SIGNATURE_HEADER = "X-Legato-Signature"
TIMESTAMP_HEADER = "X-Legato-Timestamp"
DELIVERY_HEADER = "X-Legato-Delivery"


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook to register (``Engine(webhooks=[Webhook(url, secret)])``)."""

    url: str
    secret: str
    """The HMAC-SHA256 key of the signature header."""
    kinds: tuple[str, ...] | None = None
    """The alert kinds posted there; None for all."""


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are posted and retried."""

    timeout: timedelta = timedelta(seconds=5)
    max_attempts: int = 8
    initial_backoff: timedelta = timedelta(seconds=10)
    max_backoff: timedelta = timedelta(hours=1)
    jitter: float = 0.2
    batch: int = 20
    """Deliveries claimed at once."""
    poll_interval: float = 1.0
    """Seconds the background worker waits between looks at the outbox."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookDelivery:
    """Posts due deliveries (:meth:`deliver_due`), or keeps doing so on a thread
    (:meth:`start`, :meth:`stop`).

    Args:
        store: the database holding the outbox.
        clock: the engine's clock.
        policy: timeouts and retries.
        random_source: jitter (a constant in the test kit).
        transport: an httpx transport (tests; the network by default).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        random_source: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.policy = policy or DeliveryPolicy()
        self._random = random_source
        self._transport = transport
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver_due(self) -> int:
        """Post every delivery due now (batch by batch); returns how many were posted."""
        posted = 0
        while True:
            now = self._clock.now()
            claim_until = now + self.policy.timeout * 2
            with self._store.transaction() as tx:
                claimed = tx.claim_deliveries(now, claim_until, self.policy.batch)
                hooks = {hook.webhook_key: hook for hook in tx.list_webhooks()} if claimed else {}
            if not claimed:
                return posted
            with httpx.Client(transport=self._transport, timeout=self._timeout()) as client:
                outcomes = [self._post(client, hooks.get(d.webhook_key), d) for d in claimed]
            with self._store.transaction() as tx:
                for outcome in outcomes:
                    tx.update_delivery(outcome)
            posted += len(claimed)

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.policy.timeout.total_seconds())

    def _post(
        self, client: httpx.Client, hook: WebhookRecord | None, delivery: DeliveryRecord
    ) -> DeliveryRecord:
        if hook is None or not hook.enabled:
            return replace(delivery, status="failed", next_attempt_at=None, last_error="disabled")
        body = orjson.dumps(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(hook.secret, body),
            TIMESTAMP_HEADER: self._clock.now().isoformat(),
            DELIVERY_HEADER: str(delivery.delivery_key),
        }
        try:
            response = client.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return self._failed(delivery, f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return replace(
                delivery,
                status="delivered",
                next_attempt_at=None,
                delivered_at=self._clock.now(),
                last_error=None,
            )
        return self._failed(delivery, f"HTTP {response.status_code}")

    def _failed(self, delivery: DeliveryRecord, error: str) -> DeliveryRecord:
        policy = self.policy
        if delivery.attempts >= policy.max_attempts:
            logger.warning(
                "webhook delivery %s gave up after %d attempts: %s",
                delivery.delivery_key,
                delivery.attempts,
                error,
            )
            return replace(delivery, status="failed", next_attempt_at=None, last_error=error)
        return replace(delivery, next_attempt_at=self.next_attempt(delivery), last_error=error)

    def next_attempt(self, delivery: DeliveryRecord) -> datetime:
        """When a delivery that failed its ``attempts``-th try is tried again."""
        policy = self.policy
        doubling: int = 2 ** max(delivery.attempts - 1, 0)
        backoff = min(policy.initial_backoff * doubling, policy.max_backoff)
        spread = 1 + policy.jitter * (self._random() * 2 - 1)
        return self._clock.now() + backoff * spread

    def notify(self) -> None:
        """Look at the outbox now (the sweep enqueued something)."""
        self._wake.set()

    def start(self) -> None:
        """Deliver on a thread of its own until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="legato-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (a post under way ends within its timeout)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.policy.timeout.total_seconds() * 2 + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except StoreError as exc:
                logger.warning("webhook delivery: %s", exc)
            self._wake.wait(self.policy.poll_interval)
            self._wake.clear()
