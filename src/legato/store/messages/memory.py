"""The in-memory adapter of :class:`~legato.store.messages.Messages`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import chain

from legato.errors import StoreError
from legato.store._memory_base import MemoryTransactionBase, _json_copy, _ordered
from legato.store._rules import dump_json, message_is_stale, utc
from legato.store.records import MessageRecord, SubscriptionRecord


class MemoryMessages(MemoryTransactionBase):
    """The messages part of an in-memory transaction."""

    def insert_subscriptions(self, records: Sequence[SubscriptionRecord]) -> None:
        """Store new subscriptions."""
        self._check_open()
        staged: dict[int, SubscriptionRecord] = {}
        for record in records:
            key = record.subscription_key
            if key in staged or self._subscriptions.get(key) is not None:
                raise StoreError(f"subscription {key} already exists")
            self._require_owner(record.definition_key, record.instance_key)
            staged[key] = record
        for key, subscription in staged.items():
            self._subscriptions.put(key, subscription)

    def delete_subscriptions(self, subscription_keys: Sequence[int]) -> None:
        """Remove closed subscriptions (unknown keys are ignored)."""
        self._check_open()
        for key in subscription_keys:
            if self._subscriptions.get(key) is not None:
                self._subscriptions.delete(key)

    def find_subscriptions(
        self, kind: str, name: str, correlation_key: str | None = None
    ) -> list[SubscriptionRecord]:
        """Open subscriptions of ``kind`` for ``name``, oldest (by key) first.

        For messages an instance subscription matches when its correlation key equals
        ``correlation_key`` (None equals None); start events always match. Signals ignore
        correlation keys.
        """
        self._check_open()
        lookup = self._subscriptions.lookup
        if kind == "message":
            found = [
                *lookup(("correlation", kind, name, correlation_key)),
                *lookup(("start", kind, name)),
            ]
        else:
            found = lookup(("name", kind, name))
        return _ordered(found, lambda s: s.subscription_key)

    def find_message_subscriptions(
        self, name: str, correlation_keys: Sequence[str | None]
    ) -> list[SubscriptionRecord]:
        """Open message subscriptions of ``name`` for any of ``correlation_keys`` and the
        start-event ones of the name, each once, oldest (by key) first."""
        self._check_open()
        lookup = self._subscriptions.lookup
        found = [lookup(("correlation", "message", name, key)) for key in set(correlation_keys)]
        found.append(lookup(("start", "message", name)))
        return _ordered(chain.from_iterable(found), lambda s: s.subscription_key)

    def list_subscriptions(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[SubscriptionRecord]:
        """Subscriptions by key.

        With ``instance_key``, that instance's (of ``definition_key`` if also given); with
        only ``definition_key``, the start-event ones of that definition; with neither, all.
        """
        self._check_open()
        found: Iterable[SubscriptionRecord]
        if instance_key is not None:
            found = [
                subscription
                for subscription in self._subscriptions.lookup(("instance", instance_key))
                if definition_key is None or subscription.definition_key == definition_key
            ]
        elif definition_key is not None:
            found = self._subscriptions.lookup(("definition", definition_key))
        else:
            found = self._subscriptions.values()
        return _ordered(found, lambda s: s.subscription_key)

    def insert_message(self, record: MessageRecord) -> MessageRecord:
        """Buffer a message; with a ``message_id`` already buffered, return that one instead.

        A buffered message with the id that had expired by ``record.published_at`` (its row
        not swept yet) is replaced.
        """
        self._check_open()
        message = replace(
            record,
            published_at=utc(record.published_at),
            expires_at=utc(record.expires_at),
            variables={},
        )
        # Encoded first: a message the database could not store fails before any check.
        text = dump_json(record.variables)
        if message.message_id is not None:
            for stored, stored_text in self._messages.lookup(("id", message.message_id)):
                if not message_is_stale(stored, message):
                    return replace(stored, variables=_json_copy(stored_text))
                self._messages.delete(stored.message_key)
        if self._messages.get(message.message_key) is not None:
            raise StoreError(f"message {message.message_key} already exists")
        self._messages.put(message.message_key, (message, text))
        self._message_agenda.push(message.expires_at, message.message_key)
        return replace(message, variables=_json_copy(text))

    def find_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[MessageRecord]:
        """Buffered messages of this name and correlation key (None equals None) that expire
        after ``now``, oldest (by key) first."""
        self._check_open()
        now = utc(now)
        found = [
            replace(message, variables=_json_copy(text))
            for message, text in self._messages.lookup(("lookup", name, correlation_key))
            if message.expires_at > now
        ]
        return _ordered(found, lambda m: m.message_key)

    def delete_messages(self, message_keys: Sequence[int]) -> None:
        """Remove correlated messages (unknown keys are ignored)."""
        self._check_open()
        for key in message_keys:
            if self._messages.get(key) is not None:
                self._messages.delete(key)

    def list_messages(self, *, after: int | None, limit: int) -> list[MessageRecord]:
        """Buffered messages by key, after ``after``, at most ``limit``."""
        self._check_open()
        found = [
            replace(message, variables=_json_copy(text))
            for message, text in self._messages.values()
            if after is None or message.message_key > after
        ]
        return _ordered(found, lambda m: m.message_key)[:limit]

    def expire_messages(self, now: datetime) -> list[MessageRecord]:
        """Remove and return the messages with ``expires_at <= now``, oldest (by key) first."""
        self._check_open()
        now = utc(now)
        expired = []
        agenda = self._message_agenda
        for key in agenda.pop_due(now, len(agenda.heap), self._message_is_current):
            stored = self._messages.get(key)
            assert stored is not None  # the agenda only yields current messages
            self._messages.delete(key)
            expired.append(replace(stored[0], variables=_json_copy(stored[1])))
        return _ordered(expired, lambda m: m.message_key)

    def _message_is_current(self, entry: tuple[datetime, int]) -> bool:
        stored = self._messages.get(entry[1])
        return stored is not None and stored[0].expires_at == entry[0]
