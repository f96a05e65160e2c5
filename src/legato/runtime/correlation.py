"""Which instances a message or a signal reaches, read from the subscriptions in the database.

A message goes to every instance waiting for its name with an equal correlation key (once per
instance) and starts one instance of each process with a message start event of that name. A
signal goes to every element waiting for it and starts the processes with a signal start
event. A message nobody waits for is buffered for its time to live, and delivered to the
first subscription that opens for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from legato.engine import commands as cmd
from legato.engine import values
from legato.runtime.projection import BatchWrites
from legato.store.messages import Messages
from legato.store.ports import Transaction
from legato.store.records import SubscriptionRecord


@dataclass(slots=True)
class Delivery:
    """What publishing a message or broadcasting a signal reached."""

    commands: list[cmd.Command] = field(default_factory=list)
    correlated: list[int] = field(default_factory=list)
    """Keys of the waiting instances it reached."""
    started: int = 0
    """How many instances it starts (by start events)."""


def message_delivery(
    tx: Messages, name: str, correlation_key: str | None, variables: Mapping[str, Any]
) -> Delivery:
    """The commands that deliver a message to its subscriptions."""
    found = tx.find_subscriptions("message", name, correlation_key)
    return _message_delivery(found, name, correlation_key, variables)


def message_deliveries(
    tx: Messages, messages: Sequence[tuple[str, str | None, Mapping[str, Any]]]
) -> list[Delivery]:
    """The deliveries of many ``(name, correlation_key, variables)`` messages, each as by
    :func:`message_delivery`, from one subscription lookup per message name.

    Every message sees the subscriptions as they are before any of them is delivered (as
    :func:`message_delivery` called for each in turn would).
    """
    keys_by_name: dict[str, list[str | None]] = {}
    for name, key, _ in messages:
        keys_by_name.setdefault(name, []).append(key)
    waiting: dict[tuple[str, str | None], list[SubscriptionRecord]] = {}
    starts: dict[str, list[SubscriptionRecord]] = {}
    for name, keys in keys_by_name.items():
        starts[name] = []
        for sub in tx.find_message_subscriptions(name, keys):
            if sub.instance_key is None:
                starts[name].append(sub)
            else:
                waiting.setdefault((name, sub.correlation_key), []).append(sub)
    deliveries = []
    for name, key, variables in messages:
        found = waiting.get((name, key), [])
        if starts[name]:  # rare: keep the subscriptions in key order, as one lookup has them
            found = sorted([*found, *starts[name]], key=lambda sub: sub.subscription_key)
        deliveries.append(_message_delivery(found, name, key, variables))
    return deliveries


def _message_delivery(
    found: Iterable[SubscriptionRecord],
    name: str,
    correlation_key: str | None,
    variables: Mapping[str, Any],
) -> Delivery:
    delivery = Delivery()
    seen_instances: set[int] = set()
    seen_definitions: set[int] = set()
    for sub in found:
        if sub.instance_key is None:
            if sub.definition_key in seen_definitions:
                continue
            seen_definitions.add(sub.definition_key)
            delivery.commands.append(_start(sub.definition_key, sub.element_id, variables))
            delivery.started += 1
        elif sub.instance_key not in seen_instances:
            seen_instances.add(sub.instance_key)
            delivery.correlated.append(sub.instance_key)
            delivery.commands.append(
                cmd.CorrelateMessage(
                    instance_key=sub.instance_key,
                    subscription_key=sub.subscription_key,
                    name=name,
                    correlation_key=correlation_key,
                    variables=dict(variables),
                )
            )
    return delivery


def chosen_delivery(
    chosen: Iterable[SubscriptionRecord],
    name: str,
    variables: Mapping[str, Any],
    business_key: str | None = None,
) -> Delivery:
    """The commands that deliver a message to exactly the ``chosen`` subscriptions (each
    with its own correlation key): for callers that pick the receivers themselves, as
    Camunda 7's correlation by business key and variables does. An instance a start event
    starts gets ``business_key``."""
    delivery = Delivery()
    for sub in chosen:
        if sub.instance_key is None:
            delivery.commands.append(
                cmd.StartInstance(
                    instance_key=cmd.NEW_INSTANCE,
                    definition_key=sub.definition_key,
                    variables=dict(variables),
                    start_element_id=sub.element_id,
                    business_key=business_key,
                )
            )
            delivery.started += 1
        else:
            delivery.correlated.append(sub.instance_key)
            delivery.commands.append(
                cmd.CorrelateMessage(
                    instance_key=sub.instance_key,
                    subscription_key=sub.subscription_key,
                    name=name,
                    correlation_key=sub.correlation_key,
                    variables=dict(variables),
                )
            )
    return delivery


def signal_delivery(
    tx: Messages, name: str, variables: Mapping[str, Any], source_instance_key: int | None = None
) -> Delivery:
    """The commands that deliver a signal to every element waiting for it (but those of the
    instance that threw it, which heard it already)."""
    delivery = Delivery()
    for sub in tx.find_subscriptions("signal", name):
        if sub.instance_key is not None and sub.instance_key == source_instance_key:
            continue
        if sub.instance_key is None:
            delivery.commands.append(_start(sub.definition_key, sub.element_id, variables))
            delivery.started += 1
        else:
            delivery.correlated.append(sub.instance_key)
            delivery.commands.append(
                cmd.ReceiveSignal(
                    instance_key=sub.instance_key,
                    subscription_key=sub.subscription_key,
                    name=name,
                    variables=dict(variables),
                )
            )
    return delivery


def _start(definition_key: int, element_id: str, variables: Mapping[str, Any]) -> cmd.Command:
    return cmd.StartInstance(
        instance_key=cmd.NEW_INSTANCE,
        definition_key=definition_key,
        variables=dict(variables),
        start_element_id=element_id,
    )


def correlation_commands(tx: Transaction, writes: BatchWrites, now: datetime) -> list[cmd.Command]:
    """Deliver what a written batch threw, and buffered messages to its new subscriptions."""
    commands: list[cmd.Command] = []
    for sub in writes.opened_message_subscriptions:
        assert sub.instance_key is not None
        for message in tx.find_messages(sub.name, sub.correlation_key, now)[:1]:
            tx.delete_messages([message.message_key])
            commands.append(
                cmd.CorrelateMessage(
                    instance_key=sub.instance_key,
                    subscription_key=sub.subscription_key,
                    name=message.name,
                    correlation_key=message.correlation_key,
                    variables=values.decode(message.variables),
                    message_key=message.message_key,
                )
            )
    writes.opened_message_subscriptions = []
    for thrown in writes.messages:
        delivery = message_delivery(tx, thrown.name, thrown.correlation_key, thrown.variables)
        commands += delivery.commands
    for signal in writes.signals:
        delivery = signal_delivery(tx, signal.name, signal.variables, signal.source_instance_key)
        commands += delivery.commands
    writes.messages, writes.signals = [], []
    return commands
