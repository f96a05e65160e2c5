"""Timers that fall due, and messages and signals from outside: delivered durably.

:class:`EventDelivery` is the part of the engine that fires due timers (instance timers and
timer start events), publishes messages (correlating, starting, or buffering them) and
broadcasts signals. The :class:`~legato.runtime.engine.Engine` delegates to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from legato.engine import commands as cmd
from legato.engine.incident import IncidentError
from legato.engine.processors.waits import correlation_value
from legato.engine.values import checked_variables
from legato.engine.values import encode as encode_values
from legato.errors import InstanceSuspendedError, InvalidCommandError
from legato.model import TimerEventDefinition
from legato.model.queries import definition_of
from legato.runtime.clock import Clock
from legato.runtime.correlation import (
    chosen_delivery,
    message_deliveries,
    message_delivery,
    signal_delivery,
)
from legato.runtime.definitions import DefinitionRegistry
from legato.runtime.executor import CommandExecutor, Outcome
from legato.runtime.keys import KeyAllocator
from legato.runtime.starts import next_start_timer
from legato.runtime.types import PublishResult
from legato.store.messages import Messages
from legato.store.ports import Store, Transaction
from legato.store.records import MessageRecord, SubscriptionRecord, TimerRecord
from legato.store.timers import Timers

logger = logging.getLogger("legato.engine")

TIMER_POLL_INTERVAL = timedelta(seconds=1)
"""How long a process goes at most without looking for timers others scheduled."""


class EventDelivery:
    """Fires timers and delivers messages and signals, each in one transaction."""

    def __init__(
        self,
        store: Store,
        executor: CommandExecutor,
        definitions: DefinitionRegistry,
        keys: KeyAllocator,
        clock: Clock,
        lease: Callable[[], timedelta],
        batch_size: int,
    ) -> None:
        self.store = store
        self.clock = clock
        self.batch_size = batch_size
        self._executor = executor
        self._definitions = definitions
        self._keys = keys
        self._lease = lease
        self._next_check: datetime | None = None
        """No timer is due before this (as far as this process knows)."""
        self.on_fired: Callable[[datetime, list[datetime]], None] | None = None
        """Told, once they committed, of when timers fired and when each was due."""

    def timers_changed(self) -> None:
        """Timers were scheduled outside the command path (a deployment): look again."""
        self._next_check = None

    def fire_due_timers(self, *, max_timers: int | None = None) -> int:
        """Fire the timers that are due now; returns how many fired.

        Each tick fires once: a timer is claimed, fired and its row removed (or the next tick
        of a cycle scheduled) in one transaction; a node that dies in between rolls all of it
        back, and another node fires the timer.
        """
        now = self.clock.now()
        scheduled = self._executor.take_earliest_new_timer()
        if scheduled is not None and (self._next_check is None or scheduled < self._next_check):
            self._next_check = scheduled
        if self._next_check is not None and now < self._next_check:
            return 0  # nothing of ours can be due yet; others' timers are polled for below
        limit = max_timers or self.batch_size
        claimed: list[TimerRecord] = []

        def claim(tx: Timers) -> list[cmd.Command]:
            # Claimed in the transaction that fires them: on PostgreSQL the claimed rows stay
            # locked until it commits (other nodes skip them), and if the node dies first the
            # transaction and its claim roll back together, so no lease has to run out before
            # another node fires them; a tick fires once.
            claimed[:] = tx.claim_due_timers(now, limit, now + self._lease())
            if len(claimed) < limit:
                # Look again when the next timer falls due, and at least every poll interval
                # (another process may have scheduled one meanwhile).
                due = tx.next_timer_due_at()
                poll = now + TIMER_POLL_INTERVAL
                self._next_check = poll if due is None else min(due, poll)
            else:
                self._next_check = None
            return [_firing(timer) for timer in claimed]

        def reschedule(tx: Timers, outcomes: list[Outcome]) -> None:
            start_timers = [t for t in claimed if t.instance_key is None]
            stale = [
                t.timer_key
                for t, o in zip(claimed, outcomes, strict=False)
                if t.instance_key is not None
                and o.error is not None
                and not isinstance(o.error, InstanceSuspendedError)
            ]
            tx.delete_timers(stale + [t.timer_key for t in start_timers])
            for timer in start_timers:
                definition = self._start_timer_definition(timer.definition_key, timer.element_id)
                following = (
                    next_start_timer(timer, definition, self.clock.now(), self._keys.new_key)
                    if definition is not None
                    else None
                )
                if following is not None:
                    tx.insert_timers([following])

        self._executor.execute_in(claim, reschedule)
        if claimed and self.on_fired is not None:
            self.on_fired(now, [timer.due_at for timer in claimed])
        return len(claimed)

    def _start_timer_definition(
        self, definition_key: int, element_id: str
    ) -> TimerEventDefinition | None:
        element = self._definitions.get(definition_key).process.elements.get(element_id)
        definition = definition_of(element) if element is not None else None
        return definition if isinstance(definition, TimerEventDefinition) else None

    def publish_message(
        self,
        name: str,
        correlation_key: str | int | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        time_to_live: timedelta = timedelta(0),
        message_id: str | None = None,
    ) -> PublishResult:
        """Publish a message: it reaches every instance waiting for ``name`` with an equal
        correlation key, and starts the processes with a message start event of that name.

        A message nobody waits for is kept for ``time_to_live`` and delivered to the first
        subscription that opens for it; with a ``message_id``, publishing the same message
        again while it is kept is a no-op.
        """
        key = _correlation_key(correlation_key)
        values = checked_variables(variables or {})
        result = PublishResult()

        def plan(tx: Transaction) -> list[cmd.Command]:
            delivery = message_delivery(tx, name, key, values)
            result.correlated, result.started = delivery.correlated, delivery.started
            if not delivery.commands and time_to_live > timedelta(0):
                now = self.clock.now()
                record = MessageRecord(
                    message_key=self._keys.new_key(),
                    name=name,
                    published_at=now,
                    expires_at=now + time_to_live,
                    correlation_key=key,
                    variables=encode_values(values),
                    message_id=message_id,
                )
                stored = tx.insert_message(record)
                result.buffered_message_key = stored.message_key
                result.duplicate = stored.message_key != record.message_key
            return delivery.commands

        self._executor.execute_in(plan)
        return result

    def publish_messages(
        self, messages: Sequence[tuple[str, str | int | None, Mapping[str, Any] | None]]
    ) -> list[PublishResult]:
        """Publish many ``(name, correlation_key, variables)`` messages in one transaction.

        Each is delivered as by :meth:`publish_message` (without buffering); one commit for
        all of them is what makes thousands of correlations per second possible.
        """
        results = [PublishResult() for _ in messages]
        checked = [
            (name, _correlation_key(key), checked_variables(variables or {}))
            for name, key, variables in messages
        ]

        def plan(tx: Transaction) -> list[cmd.Command]:
            # One subscription lookup per message name for the whole batch (the executor then
            # reads the states of the instances they reach in bulk, too): a query per message
            # and one per state were most of the cost of a batch.
            deliveries = message_deliveries(tx, checked)
            commands: list[cmd.Command] = []
            for delivery, result in zip(deliveries, results, strict=True):
                result.correlated, result.started = delivery.correlated, delivery.started
                commands += delivery.commands
            return commands

        self._executor.execute_in(plan)
        return results

    def correlate_message(
        self,
        name: str,
        correlation_keys: Sequence[str | None],
        variables: Mapping[str, Any] | None,
        choose: Callable[[Transaction, list[SubscriptionRecord]], Sequence[SubscriptionRecord]],
        business_key: str | None = None,
    ) -> PublishResult:
        """Deliver a message to the subscriptions ``choose`` picks among the open ones of
        ``name`` for ``correlation_keys``, in the transaction that reads them (see
        :meth:`legato.Engine.correlate_message`)."""
        values = checked_variables(variables or {})
        result = PublishResult()

        def plan(tx: Transaction) -> list[cmd.Command]:
            found = tx.find_message_subscriptions(name, list(correlation_keys))
            delivery = chosen_delivery(choose(tx, found), name, values, business_key)
            result.correlated, result.started = delivery.correlated, delivery.started
            return delivery.commands

        outcomes = self._executor.execute_in(plan)
        result.started_keys = [
            o.result.state.instance_key
            for o in outcomes
            if isinstance(o.command, cmd.StartInstance) and o.result is not None
        ]
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return result

    def broadcast_signal(
        self, name: str, variables: Mapping[str, Any] | None = None
    ) -> PublishResult:
        """Broadcast a signal to every element waiting for it (and start the processes with a
        signal start event of that name)."""
        values = checked_variables(variables or {})
        result = PublishResult()

        def plan(tx: Transaction) -> list[cmd.Command]:
            delivery = signal_delivery(tx, name, values)
            result.correlated, result.started = delivery.correlated, delivery.started
            return delivery.commands

        self._executor.execute_in(plan)
        return result

    def expire_messages(self) -> list[MessageRecord]:
        """Drop the buffered messages whose time to live ran out; each is logged."""
        with self.store.transaction() as tx:
            return self.expire_messages_in(tx)

    def expire_messages_in(self, tx: Messages) -> list[MessageRecord]:
        """:meth:`expire_messages` inside the caller's transaction (a node's sweep)."""
        expired = tx.expire_messages(self.clock.now())
        for message in expired:
            logger.warning(
                "message %r (correlation key %r) expired: no subscription within its time to live",
                message.name,
                message.correlation_key,
            )
        return expired


def _correlation_key(key: str | int | None) -> str | None:
    """A published message's correlation key as text.

    Raises:
        InvalidCommandError: it is neither a string nor a whole or decimal number in range.
    """
    if key is None:
        return None
    try:
        return correlation_value(key)
    except IncidentError as exc:
        raise InvalidCommandError(f"correlation_key: {exc.message}") from None


def _firing(timer: TimerRecord) -> cmd.Command:
    """The command that fires a claimed timer: a new instance for a timer start event."""
    if timer.instance_key is None:
        return cmd.StartInstance(
            instance_key=cmd.NEW_INSTANCE,
            definition_key=timer.definition_key,
            start_element_id=timer.element_id,
        )
    return cmd.TriggerTimer(instance_key=timer.instance_key, timer_key=timer.timer_key)
