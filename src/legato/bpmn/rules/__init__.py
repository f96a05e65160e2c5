"""The static rules of the BPMN 2.0 specification, grouped by topic.

Each module exports ``RULES``: functions that take a
:class:`~legato.bpmn.rules.context.ModelContext` and return the issues they find. Rule ids
follow the numbering of the extended constraints catalogue of the specification (``EXTnnn``)
where one applies, and a short descriptive name otherwise.
"""

from __future__ import annotations

from legato.bpmn.rules import (
    activities,
    callables,
    collaboration,
    data,
    events,
    expressions,
    flows,
    gateways,
    levels,
    links,
    messages,
    references,
    services,
    structure,
    sub_processes,
    tasks,
    timers,
)
from legato.bpmn.rules.context import Rule

ALL_RULES: tuple[Rule, ...] = (
    *references.RULES,
    *flows.RULES,
    *structure.RULES,
    *levels.RULES,
    *gateways.RULES,
    *events.RULES,
    *sub_processes.RULES,
    *links.RULES,
    *messages.RULES,
    *timers.RULES,
    *expressions.RULES,
    *activities.RULES,
    *tasks.RULES,
    *callables.RULES,
    *services.RULES,
    *data.RULES,
    *collaboration.RULES,
)
"""Every rule, in the order they run."""
