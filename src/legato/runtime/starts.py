"""Start events with a trigger: timers, messages and signals that create instances.

A receive task with ``instantiate="true"`` at the top of a process is subscribed like a
message start event: its message starts an instance at the receive task, which completes at
once with the message's variables.

They belong to the latest version of a process: deploying a new version moves them there.
While that version is suspended they are out of their tables, so they start nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from legato.engine import timers
from legato.engine.context import DeployedProcess
from legato.model import (
    MessageEventDefinition,
    ReceiveTask,
    SignalEventDefinition,
    StartEvent,
    TimerEventDefinition,
)
from legato.model.queries import definition_of
from legato.store.ports import Transaction
from legato.store.records import SubscriptionRecord, TimerRecord


def replace_start_waits(
    tx: Transaction,
    previous_key: int | None,
    deployed: DeployedProcess,
    new_key: Callable[[], int],
    now: datetime,
) -> None:
    """Move the process's triggered start events from ``previous_key`` to the new version."""
    if previous_key is not None and previous_key != deployed.definition_key:
        remove_start_waits(tx, previous_key)
    process = deployed.process
    new_timers: list[TimerRecord] = []
    new_subscriptions: list[SubscriptionRecord] = []
    for element_id in process.children.get(process.process_id, ()):
        start = process.element(element_id)
        instantiating = isinstance(start, ReceiveTask) and start.instantiate
        if not (isinstance(start, StartEvent) or instantiating):
            continue
        definition = definition_of(start)
        if isinstance(definition, TimerEventDefinition):
            schedule = start_schedule(definition, now)
            new_timers.append(
                TimerRecord(
                    timer_key=new_key(),
                    definition_key=deployed.definition_key,
                    element_id=element_id,
                    due_at=schedule.due_at,
                    repetitions=schedule.repetitions,
                )
            )
        elif isinstance(definition, (MessageEventDefinition, SignalEventDefinition)):
            is_message = isinstance(definition, MessageEventDefinition)
            name = (
                definition.message_name
                if isinstance(definition, MessageEventDefinition)
                else definition.signal_name
            )
            new_subscriptions.append(
                SubscriptionRecord(
                    subscription_key=new_key(),
                    kind="message" if is_message else "signal",
                    name=name or "",
                    definition_key=deployed.definition_key,
                    element_id=element_id,
                )
            )
    tx.insert_timers(new_timers)
    tx.insert_subscriptions(new_subscriptions)


def remove_start_waits(tx: Transaction, definition_key: int) -> None:
    """Take a version's triggered start events (timers, subscriptions) out of their tables."""
    tx.delete_timers(
        [
            t.timer_key
            for t in tx.list_timers(definition_key=definition_key)
            if t.instance_key is None
        ]
    )
    tx.delete_subscriptions(
        [
            s.subscription_key
            for s in tx.list_subscriptions(definition_key=definition_key)
            if s.instance_key is None
        ]
    )


def start_schedule(definition: TimerEventDefinition, now: datetime) -> timers.Schedule:
    """When a timer start event fires (its expressions see no variables: there is no instance).

    Raises:
        TimerError: the timer cannot be read.
    """
    if definition.time_date is not None:
        return timers.at_date(definition.time_date.evaluate({}, now))
    if definition.time_duration is not None:
        return timers.after_duration(definition.time_duration.evaluate({}, now), now)
    if definition.time_cycle is not None:
        return timers.cycle(definition.time_cycle.evaluate({}, now), now)
    raise timers.TimerError("the timer has no date, duration or cycle")


def next_start_timer(
    record: TimerRecord, definition: TimerEventDefinition, now: datetime, new_key: Callable[[], int]
) -> TimerRecord | None:
    """The next firing of a cycling timer start event, or None when it is done."""
    if record.repetitions in (None, 0) or definition.time_cycle is None:
        return None
    cycle = definition.time_cycle.evaluate({}, now)
    remaining = record.repetitions
    assert remaining is not None
    return TimerRecord(
        timer_key=new_key(),
        definition_key=record.definition_key,
        element_id=record.element_id,
        due_at=timers.next_firing(str(cycle), record.due_at, now),
        repetitions=remaining if remaining == timers.UNBOUNDED else remaining - 1,
    )
