"""Commands that deliver events to a waiting instance: a timer fires, a message or a signal
arrives, an error or an escalation comes up from a called child."""

from __future__ import annotations

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine import timers
from legato.engine.processing import Processing
from legato.engine.processors.errors import throw_error, throw_escalation
from legato.engine.processors.signals import deliver
from legato.engine.processors.waits import trigger
from legato.engine.state import ElementInstance, SubscriptionState
from legato.engine.values import checked_variables
from legato.errors import InvalidCommandError
from legato.model import FlowNode
from legato.model.queries import is_interrupting, is_parallel_multiple


def _owner_and_catch(
    p: Processing, element_instance_key: int, element_id: str
) -> tuple[ElementInstance, FlowNode]:
    owner = p.state.elements.get(element_instance_key)
    if owner is None:
        raise InvalidCommandError(
            f"element instance {element_instance_key} is not waiting any more"
        )
    return owner, p.process.element(element_id)


def trigger_timer(p: Processing, command: cmd.TriggerTimer) -> None:
    timer = p.state.timers.get(command.timer_key)
    if timer is None:
        raise InvalidCommandError(
            f"timer {command.timer_key} is not scheduled (fired or cancelled)"
        )
    owner, catch = _owner_and_catch(p, timer.element_instance_key, timer.element_id)
    p.emit(ev.TimerTriggered(at=p.ctx.now, timer_key=timer.timer_key, element_id=timer.element_id))
    repeats = timer.cycle is not None and timer.repetitions not in (None, 0)
    if repeats and not is_interrupting(catch) and not is_parallel_multiple(catch):
        assert timer.cycle is not None and timer.repetitions is not None
        remaining = (
            timer.repetitions if timer.repetitions == timers.UNBOUNDED else timer.repetitions - 1
        )
        p.emit(
            ev.TimerScheduled(
                at=p.ctx.now,
                timer_key=p.ctx.new_key(),
                element_instance_key=owner.key,
                element_id=timer.element_id,
                due_at=timers.next_firing(timer.cycle, timer.due_at, p.ctx.now),
                repetitions=remaining,
                cycle=timer.cycle,
            )
        )
    p.guarded(owner, "activate", lambda: trigger(p, owner, catch, {}))


def _open_subscription(p: Processing, key: int, kind: str) -> SubscriptionState:
    subscription = p.state.subscriptions.get(key)
    if subscription is None or subscription.kind != kind:
        raise InvalidCommandError(f"{kind} subscription {key} is not open")
    if subscription.element_instance_key not in p.state.elements:
        raise InvalidCommandError(f"{kind} subscription {key} waits no more")
    return subscription


def correlate_message(p: Processing, command: cmd.CorrelateMessage) -> None:
    subscription = _open_subscription(p, command.subscription_key, "message")
    variables = checked_variables(command.variables)
    heard = ev.MessageCorrelated(
        at=p.ctx.now,
        subscription_key=subscription.subscription_key,
        name=command.name,
        element_id=subscription.element_id,
        correlation_key=command.correlation_key,
        message_key=command.message_key,
        variables=variables,
    )
    deliver(p, subscription, heard, variables)


def receive_signal(p: Processing, command: cmd.ReceiveSignal) -> None:
    subscription = _open_subscription(p, command.subscription_key, "signal")
    variables = checked_variables(command.variables)
    heard = ev.SignalReceived(
        at=p.ctx.now,
        subscription_key=subscription.subscription_key,
        name=command.name,
        element_id=subscription.element_id,
        variables=variables,
    )
    deliver(p, subscription, heard, variables)


def error_from_child(p: Processing, command: cmd.ThrowErrorFromChild) -> None:
    instance = p.state.elements.get(command.element_instance_key)
    if instance is None or instance.child_instance_key != command.child_instance_key:
        raise InvalidCommandError(
            f"element instance {command.element_instance_key} called no such child"
        )
    variables = checked_variables(command.variables)
    if throw_error(p, instance, command.error_code, command.error_message, variables):
        return
    p.raise_incident(
        instance,
        "unhandled_error",
        f"error '{command.error_code}' thrown in called instance {command.child_instance_key} "
        "is caught by no event",
        "activate",
    )


def escalation_from_child(p: Processing, command: cmd.EscalateFromChild) -> None:
    instance = p.state.elements.get(command.element_instance_key)
    if instance is None or instance.child_instance_key != command.child_instance_key:
        raise InvalidCommandError(
            f"element instance {command.element_instance_key} called no such child"
        )
    throw_escalation(p, instance, command.escalation_code)
