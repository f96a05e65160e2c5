"""Appliers of the events of waits: timers, subscriptions and compensation."""

from __future__ import annotations

from legato.engine import events as ev
from legato.engine.applier_base import Applier, registrar
from legato.engine.state import InstanceState, SubscriptionState, TimerState

APPLIERS: dict[type[ev.Event], Applier] = {}
"""This module's appliers by event class (gathered by :mod:`~legato.engine.appliers`)."""
_applies = registrar(APPLIERS)


@_applies(ev.TimerScheduled)
def _timer_scheduled(state: InstanceState, event: ev.TimerScheduled) -> None:
    state.timers[event.timer_key] = TimerState(
        event.timer_key,
        event.element_instance_key,
        event.element_id,
        event.due_at,
        event.repetitions,
        event.cycle,
    )


@_applies(ev.TimerTriggered)
def _timer_triggered(state: InstanceState, event: ev.TimerTriggered) -> None:
    state.timers.pop(event.timer_key, None)


@_applies(ev.TimerCanceled)
def _timer_canceled(state: InstanceState, event: ev.TimerCanceled) -> None:
    state.timers.pop(event.timer_key, None)


@_applies(ev.SubscriptionOpened)
def _subscription_opened(state: InstanceState, event: ev.SubscriptionOpened) -> None:
    state.subscriptions[event.subscription_key] = SubscriptionState(
        event.subscription_key,
        event.kind,
        event.name,
        event.element_instance_key,
        event.element_id,
        event.correlation_key,
        event.interrupting,
    )


@_applies(ev.SubscriptionClosed)
def _subscription_closed(state: InstanceState, event: ev.SubscriptionClosed) -> None:
    state.subscriptions.pop(event.subscription_key, None)


@_applies(ev.CompensationRecorded)
def _compensation_recorded(state: InstanceState, event: ev.CompensationRecorded) -> None:
    entry = (event.element_id, event.handler_id, event.stash_key)
    state.compensable.setdefault(event.scope_key, []).append(entry)


@_applies(ev.CompensationStashed)
def _compensation_stashed(state: InstanceState, event: ev.CompensationStashed) -> None:
    state.compensation_stash[event.scope_key] = state.compensable.pop(event.scope_key, [])


@_applies(ev.CompensationMoved)
def _compensation_moved(state: InstanceState, event: ev.CompensationMoved) -> None:
    moved = state.compensable.pop(event.from_scope_key, [])
    state.compensable.setdefault(event.to_scope_key, []).extend(moved)


@_applies(ev.CompensationStarted)
def _compensation_started(state: InstanceState, event: ev.CompensationStarted) -> None:
    stash_keys = event.stash_keys or [0] * len(event.handlers)
    state.elements[event.element_instance_key].compensation_queue = list(
        zip(event.handlers, stash_keys, strict=True)
    )
    state.encoded.element_changed(event.element_instance_key)
    done = set(zip(event.element_ids, event.handlers, stash_keys, strict=True))
    remaining = [e for e in state.compensable.get(event.scope_key, []) if e not in done]
    if remaining:
        state.compensable[event.scope_key] = remaining
    else:
        state.compensable.pop(event.scope_key, None)


@_applies(ev.CompensationHandlerStarted)
def _compensation_handler_started(
    state: InstanceState, event: ev.CompensationHandlerStarted
) -> None:
    throw = state.elements.get(event.throw_instance_key)
    if throw is not None and throw.compensation_queue:
        throw.compensation_queue.pop(0)
        state.encoded.element_changed(throw.key)
    state.elements[event.handler_instance_key].compensating_for = event.throw_instance_key
    state.encoded.element_changed(event.handler_instance_key)
    if event.stash_key:
        state.compensable[event.handler_instance_key] = state.compensation_stash.pop(
            event.stash_key, []
        )
