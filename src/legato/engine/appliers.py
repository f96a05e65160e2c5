"""Appliers: the only code that changes an :class:`InstanceState`, one per event type.

Replaying an instance's history through :func:`apply` from an empty state gives its current
state; a test holds the engine to that. Each applier also tells the state's encoded parts
(:mod:`legato.engine.encoded`) what it changed, so that the next snapshot encodes only that.
The appliers are written by topic in :mod:`~legato.engine.instance_appliers`,
:mod:`~legato.engine.work_appliers` and :mod:`~legato.engine.wait_appliers`; this module
gathers them.
"""

from __future__ import annotations

from collections.abc import Iterable

from legato.engine import events as ev
from legato.engine import instance_appliers, wait_appliers, work_appliers
from legato.engine.applier_base import Applier
from legato.engine.state import InstanceState


def _history_only(state: InstanceState, event: ev.Event) -> None:
    """Recorded for the history; the state changes through the events that follow."""


_HISTORY_ONLY = (
    ev.DecisionEvaluated,
    ev.MessageCorrelated,
    ev.SignalReceived,
    ev.ConditionMet,
    ev.ErrorThrown,
    ev.EscalationThrown,
    ev.VariablesEdited,
    ev.InstanceModified,
)

APPLIERS: dict[type[ev.Event], Applier] = {
    **instance_appliers.APPLIERS,
    **work_appliers.APPLIERS,
    **wait_appliers.APPLIERS,
    **dict.fromkeys(_HISTORY_ONLY, _history_only),
}
"""The applier of each event class (what :func:`apply` looks up)."""


def apply(state: InstanceState, event: ev.Event) -> None:
    """Change ``state`` as ``event`` says."""
    APPLIERS[type(event)](state, event)


def replay(instance_key: int, history: Iterable[ev.Event]) -> InstanceState:
    """Rebuild an instance's state from its history."""
    state = InstanceState(instance_key=instance_key)
    for event in history:
        apply(state, event)
    return state
