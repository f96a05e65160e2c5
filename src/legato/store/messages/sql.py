"""The SQL (SQLite and PostgreSQL) adapter of :class:`~legato.store.messages.Messages`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from legato.store import _sqlrows as rows
from legato.store._prepared import Prepared
from legato.store._rules import message_is_stale, utc
from legato.store._sql_base import (
    SqlTransactionBase,
    _bp,
    _columns,
    _in_list,
    _insert,
    listing_query,
)
from legato.store.records import MessageRecord, SubscriptionRecord

if TYPE_CHECKING:
    from legato.store._sql_base import SqlDialect
from legato.store.schema import messages, subscriptions

_INSERT_SUBSCRIPTION = _insert(subscriptions)

_DELETE_SUBSCRIPTION = Prepared(
    sa.delete(subscriptions).where(subscriptions.c.subscription_key == _bp("key"))
)

_DELETE_MESSAGE = Prepared(sa.delete(messages).where(messages.c.message_key == _bp("key")))

_MESSAGE_BY_ID = Prepared(sa.select(messages).where(messages.c.message_id == _bp("message_id")))


def _null_safe_equal(column: sa.ColumnElement[Any], name: str, is_null: bool) -> Any:
    # ``column = NULL`` is never true in SQL, while the port compares correlation keys like
    # Python (None equals None). ``IS NULL`` is used instead of ``IS NOT DISTINCT FROM``
    # because both SQLite and PostgreSQL answer it from an index.
    return column.is_(None) if is_null else column == _bp(name)


@functools.cache
def subscriptions_query(correlated: bool, key_is_null: bool) -> Prepared:
    """Open subscriptions of a kind and name, oldest (by key) first.

    ``correlated`` (messages): the instance subscriptions with the given correlation key
    (one ``ix_subscriptions_lookup`` probe) plus the start-event subscriptions of the name
    (``ix_subscriptions_start``), as a UNION ALL so that each half is its own index probe; an
    OR in one WHERE would make the database scan every subscription of the name.
    Otherwise (signals) every subscription of the name, from the lookup index's prefix.
    """
    c = subscriptions.c
    same_name = sa.and_(c.kind == _bp("kind"), c.name == _bp("name"))
    if not correlated:
        return Prepared(sa.select(subscriptions).where(same_name).order_by(c.subscription_key))
    waiting = sa.select(subscriptions).where(
        same_name,
        _null_safe_equal(c.correlation_key, "correlation_key", key_is_null),
        c.instance_key.is_not(None),
    )
    starts = sa.select(subscriptions).where(same_name, c.instance_key.is_(None))
    return Prepared(sa.union_all(waiting, starts).order_by(sa.literal_column("subscription_key")))


@functools.cache
def message_subscriptions_in_query(size: int) -> Prepared:
    """Instance subscriptions of the message ``name`` by an IN list of ``size`` correlation
    keys: one ``ix_subscriptions_lookup`` probe per key."""
    c = subscriptions.c
    return Prepared(
        sa.select(subscriptions).where(
            c.kind == "message",
            c.name == _bp("name"),
            _in_list(c.correlation_key, size),
            c.instance_key.is_not(None),
        )
    )


_MESSAGE_STARTS = Prepared(
    sa.select(subscriptions).where(
        subscriptions.c.kind == "message",
        subscriptions.c.name == _bp("name"),
        subscriptions.c.instance_key.is_(None),
    )
)


@functools.cache
def messages_query(key_is_null: bool) -> Prepared:
    """Unexpired messages of a name and correlation key, oldest (by key) first.

    ``ix_messages_lookup`` gives the rows of the name and key already in key order; the
    expiry is checked on those few rows.
    """
    c = messages.c
    return Prepared(
        sa.select(messages)
        .where(
            c.name == _bp("name"),
            _null_safe_equal(c.correlation_key, "correlation_key", key_is_null),
            c.expires_at > _bp("now"),
        )
        .order_by(c.message_key)
    )


@functools.cache
def insert_message_statement(dialect: SqlDialect) -> Prepared:
    """INSERT … ON CONFLICT (message_id) DO NOTHING: a duplicate id is detected by the
    unique index in the same statement, race-free on PostgreSQL too; the caller reads the
    buffered message when no row was inserted. A clash on the primary key still fails."""
    statement = dialect.insert(messages).on_conflict_do_nothing(
        index_elements=[messages.c.message_id],
        index_where=messages.c.message_id.is_not(None),
    )
    return Prepared(statement, _columns(messages))


class SqlMessages(SqlTransactionBase):
    """The messages part of a SQL transaction."""

    def insert_subscriptions(self, records: Sequence[SubscriptionRecord]) -> None:
        """Store new subscriptions (one ``executemany``)."""
        if records:
            parameters = [rows.subscription_params(r) for r in records]
            self._run_many(_INSERT_SUBSCRIPTION, parameters)

    def delete_subscriptions(self, subscription_keys: Sequence[int]) -> None:
        """Remove closed subscriptions (unknown keys are ignored)."""
        if subscription_keys:
            self._run_many(_DELETE_SUBSCRIPTION, [{"key": key} for key in subscription_keys])

    def find_subscriptions(
        self, kind: str, name: str, correlation_key: str | None = None
    ) -> list[SubscriptionRecord]:
        """Open subscriptions of ``kind`` for ``name``, oldest (by key) first.

        For messages an instance subscription matches when its correlation key equals
        ``correlation_key`` (None equals None); start events always match. Signals ignore
        correlation keys.
        """
        correlated = kind == "message"
        query = subscriptions_query(correlated, correlated and correlation_key is None)
        parameters = {"kind": kind, "name": name, "correlation_key": correlation_key}
        return [rows.subscription_record(row) for row in self._fetch(query, parameters)]

    def find_message_subscriptions(
        self, name: str, correlation_keys: Sequence[str | None]
    ) -> list[SubscriptionRecord]:
        """Open message subscriptions of ``name`` for any of ``correlation_keys`` and the
        start-event ones of the name, each once, oldest (by key) first."""
        keys = [key for key in dict.fromkeys(correlation_keys) if key is not None]
        found = []
        for size, values in self._sql.key_lists(keys):
            found += self._fetch(message_subscriptions_in_query(size), {"name": name, **values})
        if len(keys) < len(set(correlation_keys)):  # None is among them: IN cannot match it
            found += self._fetch(subscriptions_query(True, True), {"kind": "message", "name": name})
        else:
            found += self._fetch(_MESSAGE_STARTS, {"name": name})
        records = [rows.subscription_record(row) for row in found]
        return sorted(records, key=lambda record: record.subscription_key)

    def list_subscriptions(
        self, *, instance_key: int | None = None, definition_key: int | None = None
    ) -> list[SubscriptionRecord]:
        """Subscriptions by key.

        With ``instance_key``, that instance's (of ``definition_key`` if also given); with
        only ``definition_key``, the start-event ones of that definition; with neither, all.
        """
        query = listing_query(subscriptions, instance_key is not None, definition_key is not None)
        parameters = {"instance_key": instance_key, "definition_key": definition_key}
        return [rows.subscription_record(row) for row in self._fetch(query, parameters)]

    def insert_message(self, record: MessageRecord) -> MessageRecord:
        """Buffer a message; with a ``message_id`` already buffered, return that one instead.

        A buffered message with the id that had expired by ``record.published_at`` (its row
        not swept yet) is replaced.
        """
        record = replace(
            record, published_at=utc(record.published_at), expires_at=utc(record.expires_at)
        )
        statement = insert_message_statement(self._sql)
        parameters = rows.message_params(record)
        if self._run(statement, parameters).rowcount == 1:
            return record
        # Nothing inserted: only a buffered message with the same id does that (other
        # constraint violations raise).
        found = self._fetch(_MESSAGE_BY_ID, {"message_id": record.message_id})
        stored = rows.message_record(found[0])
        if not message_is_stale(stored, record):
            return stored
        self._run(_DELETE_MESSAGE, {"key": stored.message_key})
        self._run(statement, parameters)
        return record

    def find_messages(
        self, name: str, correlation_key: str | None, now: datetime
    ) -> list[MessageRecord]:
        """Buffered messages of this name and correlation key (None equals None) that expire
        after ``now``, oldest (by key) first."""
        query = messages_query(correlation_key is None)
        parameters = {"name": name, "correlation_key": correlation_key, "now": utc(now)}
        return [rows.message_record(row) for row in self._fetch(query, parameters)]

    def delete_messages(self, message_keys: Sequence[int]) -> None:
        """Remove correlated messages (unknown keys are ignored)."""
        if message_keys:
            self._run_many(_DELETE_MESSAGE, [{"key": key} for key in message_keys])

    def list_messages(self, *, after: int | None, limit: int) -> list[MessageRecord]:
        """Buffered messages by key, after ``after``, at most ``limit``."""
        query = sa.select(messages).order_by(messages.c.message_key).limit(limit)
        if after is not None:
            query = query.where(messages.c.message_key > after)
        return [rows.message_record(row) for row in self._execute(query)]

    def expire_messages(self, now: datetime) -> list[MessageRecord]:
        """Remove and return the messages with ``expires_at <= now``, oldest (by key) first."""
        # DELETE … RETURNING: one ix_messages_expiry range, and exactly the rows removed are
        # returned even where another writer could insert in between (PostgreSQL).
        statement = (
            sa.delete(messages).where(messages.c.expires_at <= utc(now)).returning(*messages.c)
        )
        expired = [rows.message_record(row) for row in self._execute(statement)]
        expired.sort(key=lambda message: message.message_key)
        return expired
