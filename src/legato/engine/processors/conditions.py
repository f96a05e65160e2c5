"""Conditional events: a wait whose condition holds is triggered."""

from __future__ import annotations

from legato.engine import events as ev
from legato.engine.processors.waits import trigger
from legato.engine.protocols import Processing
from legato.model import ConditionalEventDefinition
from legato.model.queries import definition_of, is_parallel_multiple


def evaluate_conditions(p: Processing) -> None:
    """Trigger every conditional wait whose condition holds now."""
    for sub in list(p.state.subscriptions.values()):
        if sub.kind != "conditional" or sub.subscription_key not in p.state.subscriptions:
            continue
        owner = p.state.elements.get(sub.element_instance_key)
        if owner is None:
            continue
        catch = p.process.element(sub.element_id)
        definition = definition_of(catch)
        assert isinstance(definition, ConditionalEventDefinition)
        if definition.condition is None:
            continue
        try:
            holds = definition.condition.evaluate(p.variables_of(owner.key), p.ctx.now) is True
        except Exception:
            holds = False
        if holds:
            p.emit(
                ev.ConditionMet(
                    at=p.ctx.now, subscription_key=sub.subscription_key, element_id=sub.element_id
                )
            )
            if sub.interrupting or is_parallel_multiple(catch):
                p.emit(ev.SubscriptionClosed(at=p.ctx.now, subscription_key=sub.subscription_key))
            trigger(p, owner, catch, {})
