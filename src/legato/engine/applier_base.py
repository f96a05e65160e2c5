"""What the applier modules share: the applier type and the decorator that files each one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from legato.engine import events as ev
from legato.engine.state import InstanceState

Applier = Callable[[InstanceState, Any], None]
"""Changes a state as one event says."""


def registrar(
    table: dict[type[ev.Event], Applier],
) -> Callable[[type[ev.Event]], Callable[[Applier], Applier]]:
    """A decorator that files an applier in ``table`` under the event class it applies."""

    def applies(event_class: type[ev.Event]) -> Callable[[Applier], Applier]:
        def register(function: Applier) -> Applier:
            table[event_class] = function
            return function

        return register

    return applies
