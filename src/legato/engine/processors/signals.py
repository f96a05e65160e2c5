"""Messages and signals reaching the instance's waits: a correlated message, a received
signal, and a signal thrown inside the instance to its own catch events."""

from __future__ import annotations

from typing import Any

from legato.engine import events as ev
from legato.engine.processors.waits import trigger
from legato.engine.protocols import Processing
from legato.engine.state import SubscriptionState
from legato.model.queries import is_parallel_multiple


def deliver(
    p: Processing, sub: SubscriptionState, heard: ev.Event, variables: dict[str, Any]
) -> None:
    """A message or signal reached a subscription: record it, end a one-off wait, trigger."""
    owner = p.state.elements[sub.element_instance_key]
    p.emit(heard)
    catch = p.process.element(sub.element_id)
    if sub.interrupting or is_parallel_multiple(catch):
        p.emit(ev.SubscriptionClosed(at=p.ctx.now, subscription_key=sub.subscription_key))
    p.guarded(owner, "activate", lambda: trigger(p, owner, catch, variables))


def catch_signal(
    p: Processing, name: str, variables: dict[str, Any], skip: frozenset[int] | None = None
) -> None:
    """Deliver a signal thrown inside the instance to the instance's own catch events.

    It is delivered at once to those waiting, and once more when the step has run its course
    to those that began waiting meanwhile (a parallel branch whose catch event is entered
    after the throw of another branch, in the same instant).
    """
    for sub in list(p.state.subscriptions.values()):
        if sub.kind != "signal" or sub.name != name:
            continue
        if skip is not None and sub.subscription_key in skip:
            continue
        if sub.subscription_key not in p.state.subscriptions:
            continue
        if sub.element_instance_key not in p.state.elements:
            continue
        heard = ev.SignalReceived(
            at=p.ctx.now,
            subscription_key=sub.subscription_key,
            name=name,
            element_id=sub.element_id,
            variables=variables,
        )
        deliver(p, sub, heard, variables)
    if skip is None:
        p.pending_signals.append((name, variables, frozenset(p.state.subscriptions)))
