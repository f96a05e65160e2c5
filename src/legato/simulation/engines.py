"""The two ways the driver runs the engine.

* ``runtime``: the testing kit's engine as it is (its command executor, a memory store or a
  database, history, timers fired by the engine itself on its virtual clock). Everything the
  engine does works here, messages and signals thrown by an instance included.
* ``core`` (the default, several times faster): the same deployment, but each command goes
  straight to the engine's pure core, ``step(state, command, ctx)``, with the active
  instances' states in a dictionary: no store, no transactions, no history beyond what the
  report reads from the events. Timers are triggered by the driver at their due time.
  Instances that throw messages or signals need the runtime to deliver them: such a model is
  refused here with a message naming the element (use ``mode = "runtime"``).

Both report the steps they ran as (instance state, events) pairs, in order, and give the same
figures for a model both can run.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.context import (
    DefinitionLookup,
    DeployedDecision,
    DeployedProcess,
    EngineContext,
)
from legato.engine.state import InstanceState
from legato.engine.step import step
from legato.errors import InvalidCommandError, LegatoError, NotFoundError
from legato.runtime.clock import VirtualClock
from legato.testing import TestEngine

Steps = list[tuple[InstanceState, list[ev.Event]]]
"""What a batch did: each step's instance state and events, in order."""


class SimulationUnsupportedError(LegatoError):
    """The model does something the chosen way of running cannot simulate."""


class DrivenEngine(Protocol):
    """What the driver needs of an engine."""

    def definition_key(self, process_id: str) -> int:
        """The key of the latest deployed version of ``process_id``."""

    def run(self, commands: Sequence[cmd.Command], now: datetime, timers: bool) -> Steps:
        """Run ``commands`` at ``now`` (and the timers due then, if ``timers``); the steps."""

    def forget(self, instance_keys: list[int]) -> None:
        """Ended instances the report needs nothing more of."""


class _Steps:
    """Collects the steps of every committed batch (the executor's batch observer)."""

    def __init__(self) -> None:
        self.steps: Steps = []

    def committed(self, steps: Steps, _: float) -> None:
        self.steps.extend(steps)

    def loaded(self, state: InstanceState) -> None:
        return None


class SimulationEngine(TestEngine):
    """The testing kit's engine for the driver: no metrics, the steps of its batches
    collected, commands run as one batch each call, and a clock moved without running
    anything on its way (the driver decides what runs when). On the database at ``url``
    (rather than in memory) it keeps every instance, and their analytics facts: they are
    what the run leaves there. In memory it keeps no facts (the report does not read them,
    and the instances are deleted as they end)."""

    __test__ = False

    def __init__(self, start: datetime, url: str | None = None) -> None:
        super().__init__(url, start=start, analytics=url is not None)
        self.keeps = url is not None
        self.observed = _Steps()
        self._executor.observer = self.observed
        self.metrics = None

    def definition_key(self, process_id: str) -> int:
        deployed = self._definitions.latest(process_id)
        if deployed is None:
            raise NotFoundError(f"no process with id '{process_id}' is deployed")
        return deployed.definition_key

    def run(self, commands: Sequence[cmd.Command], now: datetime, timers: bool) -> Steps:
        delta = now - self.clock.now()
        if delta > timedelta(0):
            VirtualClock.advance(self.clock, delta)
        if commands:
            self._executor.execute(commands)
        if timers:
            self.fire_due_timers()
        steps = self.observed.steps
        self.observed.steps = []
        return steps

    def forget(self, instance_keys: list[int]) -> None:
        if self.keeps:
            return
        with self.store.transaction() as tx:
            tx.delete_instances(instance_keys)

    def definitions(self) -> DefinitionLookup:
        """This engine's deployments, read once (nothing is deployed while it simulates)."""
        return _Remembered(self._definitions)


class _Remembered:
    """The deployments of an engine, with each version and each form lookup remembered: a
    user task's form is looked up in the store once, not once per task created."""

    def __init__(self, definitions: DefinitionLookup) -> None:
        self._definitions = definitions
        self._forms: dict[tuple[str, str | None, int | None], int | None] = {}
        # Looked up once per step: a dictionary's own lookup, without a Python call once the
        # version was asked for (a version unknown to the registry is a KeyError, as there).
        self.get: Callable[[int], DeployedProcess] = _Versions(definitions).__getitem__

    def latest(self, process_id: str) -> DeployedProcess | None:
        return self._definitions.latest(process_id)

    def decision(self, decision_id: str) -> DeployedDecision | None:
        return self._definitions.decision(decision_id)

    def latest_form_key(
        self, form_id: str, version_tag: str | None = None, version: int | None = None
    ) -> int | None:
        asked = (form_id, version_tag, version)
        if asked not in self._forms:
            self._forms[asked] = self._definitions.latest_form_key(form_id, version_tag, version)
        return self._forms[asked]


class _Versions(dict[int, DeployedProcess]):
    """The deployed versions asked for so far, by key; the others asked of the registry."""

    def __init__(self, definitions: DefinitionLookup) -> None:
        super().__init__()
        self._definitions = definitions

    def __missing__(self, definition_key: int) -> DeployedProcess:
        deployed = self[definition_key] = self._definitions.get(definition_key)
        return deployed


class CoreEngine:
    """Commands straight to ``step()`` on states held in a dictionary (see the module)."""

    def __init__(self, engine: SimulationEngine) -> None:
        self.engine = engine
        self.states: dict[int, InstanceState] = {}
        self.keys = itertools.count(1)
        self.context = EngineContext(
            now=engine.clock.now(),
            new_key=self.keys.__next__,
            definitions=engine.definitions(),
            default_retry_policy=engine.retry_policy,
        )

    def definition_key(self, process_id: str) -> int:
        return self.engine.definition_key(process_id)

    def run(self, commands: Sequence[cmd.Command], now: datetime, timers: bool) -> Steps:
        ctx = self.context
        ctx.now = now
        states = self.states
        steps: Steps = []
        queue = deque(commands)
        while queue:
            command = queue.popleft()
            if command.instance_key == 0 and isinstance(command, cmd.StartInstance):
                command = cmd.StartInstance(
                    instance_key=next(self.keys),
                    definition_key=command.definition_key,
                    variables=command.variables,
                    business_key=command.business_key,
                    start_element_id=command.start_element_id,
                    parent_instance_key=command.parent_instance_key,
                    parent_element_instance_key=command.parent_element_instance_key,
                )
            key = command.instance_key
            try:
                result = step(states.get(key), command, ctx)
            except (InvalidCommandError, NotFoundError):
                continue  # a timer cancelled meanwhile, work of an instance that ended
            if result.messages or result.signals:
                thrown = "messages" if result.messages else "signals"
                raise SimulationUnsupportedError(
                    f"instance {key} of the model throws {thrown}: simulate it with "
                    'mode = "runtime" in the scenario, which delivers them'
                )
            state = result.state
            if state.status == "active":  # state.is_active, without a call
                states[key] = state
            else:
                states.pop(key, None)
            steps.append((state, result.events))
            queue.extend(result.follow_ups)
        return steps

    def forget(self, instance_keys: list[int]) -> None:
        return None
