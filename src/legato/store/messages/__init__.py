"""Message and signal subscriptions, and buffered messages.

The port (:class:`Messages`, part of :class:`~legato.store.ports.Transaction`) and its two
adapters side by side: :mod:`.sql` and :mod:`.memory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from legato.store.records import MessageRecord, SubscriptionRecord


class Messages(Protocol):
    """Message and signal subscriptions, and buffered messages."""

    def insert_subscriptions(self, records: Sequence[SubscriptionRecord]) -> None:
        """Store new subscriptions."""

    def delete_subscriptions(self, subscription_keys: Sequence[int]) -> None:
        """Remove closed subscriptions (unknown keys are ignored)."""

    def find_subscriptions(
        self, kind: str, name: str, correlation_key: str | None = None
    ) -> list[SubscriptionRecord]:
        """Open subscriptions of ``kind`` for ``name``, oldest first.

        For messages, an instance subscription matches only when its correlation key equals
        ``correlation_key``; start-event subscriptions (``instance_key`` None) always match.
        """

    def find_message_subscriptions(
        self, name: str, correlation_keys: Sequence[str | None]
    ) -> list[SubscriptionRecord]:
        """Open message subscriptions of ``name`` for any of ``correlation_keys``, oldest first.

        What :meth:`find_subscriptions` returns for each key (``kind`` "message"), united and
        each subscription once: the instance subscriptions whose correlation key is one of
        the keys (None equals None) and the start-event subscriptions of the name. One lookup
        for a batch of messages instead of one query per message.
        """

    def list_subscriptions(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[SubscriptionRecord]:
        """Subscriptions of an instance, or the start-event ones of a process definition."""

    def insert_message(self, record: MessageRecord) -> MessageRecord:
        """Buffer a message; with a ``message_id`` already buffered, return that one instead."""

    def find_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[MessageRecord]:
        """Buffered, unexpired messages of this name and correlation key, oldest first."""

    def delete_messages(self, message_keys: Sequence[int]) -> None:
        """Remove correlated messages."""

    def expire_messages(self, now: datetime) -> list[MessageRecord]:
        """Remove and return the messages whose time to live ran out by ``now``."""

    def list_messages(self, *, after: int | None, limit: int) -> list[MessageRecord]:
        """Buffered messages (expired ones not swept yet too) by key, after ``after``: a
        page of every message, for the key rotation."""
