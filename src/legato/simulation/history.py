"""Scenario figures taken from a deployed version's stored history (``from_history``).

Each element's observed durations (start to completion of its element instances) become an
empirical distribution, and each branching gateway's observed choices become probabilities:
a flow counts as taken when its target element started, for targets that only that flow leads
to. What the scenario gives itself (a ``[tasks.X]`` or ``[branches.G]``) is kept.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

from legato.analytics import event_log, selection
from legato.analytics.eventlog import LogEvent
from legato.errors import LegatoError
from legato.model import ProcessDefinition
from legato.simulation.distributions import Empirical
from legato.simulation.model import BRANCHING, takes_duration
from legato.simulation.scenario import Scenario, TaskSpec
from legato.store.sql import SqlStore


def apply_history(scenario: Scenario, process: ProcessDefinition) -> Scenario:
    """``scenario`` with the durations and branch frequencies of its ``from_history``.

    Raises:
        ScenarioError: the database cannot be read, or holds no such process (version).
    """
    source = scenario.from_history
    if source is None:
        return scenario
    durations: dict[str, list[float]] = defaultdict(list)
    starts: Counter[str] = Counter()
    begun: dict[int, LogEvent] = {}
    try:
        store = SqlStore(source.database)
    except LegatoError as exc:
        raise scenario.error(
            f"from_history: cannot open the database: {exc}", "from_history"
        ) from exc
    try:
        chosen = selection(
            process_id=source.process,
            versions=None if source.version is None else [source.version],
            activity="id",
        )
        for item in event_log(store, chosen):
            if not isinstance(item, LogEvent):
                continue
            if item.transition == "start":
                starts[item.element_id] += 1
                begun[item.element_instance_key] = item
            elif item.transition == "complete":
                first = begun.pop(item.element_instance_key, None)
                if first is not None:
                    durations[item.element_id].append((item.at - first.at).total_seconds())
    except LegatoError as exc:
        raise scenario.error(f"from_history: {exc}", "from_history") from exc
    finally:
        store.close()
    tasks = dict(scenario.tasks)
    for element_id, observed in durations.items():
        if element_id in process.elements and takes_duration(process, element_id) and observed:
            known = tasks.get(element_id)
            if known is None:
                tasks[element_id] = TaskSpec(Empirical(tuple(observed)))
    branches = dict(scenario.branches)
    for element in process.elements.values():
        if element.kind not in BRANCHING or element.element_id in branches:
            continue
        counts = {}
        for flow_id in element.outgoing:
            target = process.elements.get(process.flow(flow_id).target_id)
            if target is not None and target.incoming == (flow_id,):
                counts[flow_id] = starts[target.element_id]
        total = sum(counts.values())
        if len(counts) == len(element.outgoing) and len(counts) > 1 and total:
            branches[element.element_id] = {f: n / total for f, n in counts.items()}
    return dataclasses.replace(scenario, tasks=tasks, branches=branches)
