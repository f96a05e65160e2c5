"""Checking a migration against an instance and working out its moves (``MigrateInstance``).

The plan maps each active element of the instance to an element of the target version: the
one the command's ``mappings`` names for it, else the one with the same id. The migration is
checked against the instance's real state before anything moves, and refused with a reason a
user understands (:class:`~legato.errors.MigrationError`) when:

* an active element has no target, or one of another kind, or one outside the target of its
  enclosing scope (a token cannot leave its sub-process), or a multi-instance activity in
  progress would become a single one (or change between sequential and parallel);
* tokens wait at a join whose target does not exist or is not reached by the flows they came
  by (the join would wait for ever);
* a message wait that stays would wait for another message, or compute its correlation key
  differently (a published message would no longer find the instance);
* an active event-based gateway has an event with no counterpart after its target;
* a completed activity that can still be compensated has no counterpart;
* a job type or a variable expression of the plan cannot be evaluated; or the instance is
  suspended.

The :class:`Moves` it works out are carried out by :mod:`legato.engine.migration`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from legato.engine import commands as cmd
from legato.engine.context import DeployedProcess
from legato.engine.processing import Processing
from legato.engine.state import ElementInstance, InstanceState, SubscriptionState, TimerState
from legato.errors import ExpressionError, MigrationError
from legato.model import (
    Activity,
    BoundaryEvent,
    EventBasedGateway,
    Expression,
    FlowNode,
    MessageEventDefinition,
    StartEvent,
    SubProcess,
    TimerEventDefinition,
)
from legato.model.queries import definition_of, waits_for_something


@dataclass(slots=True)
class Wait:
    """The waits of one owner for one event: its timers and subscriptions."""

    owner: ElementInstance
    event_id: str
    timers: list[TimerState] = field(default_factory=list)
    subscriptions: list[SubscriptionState] = field(default_factory=list)


@dataclass(slots=True)
class Moves:
    """What the checked plan does to one instance."""

    targets: dict[int, str] = field(default_factory=dict)
    """Target element id of every active element instance (the process itself included)."""
    renamed: dict[str, str] = field(default_factory=dict)
    job_types: dict[int, str] = field(default_factory=dict)
    kept: list[tuple[Wait, str]] = field(default_factory=list)
    """Waits that stay, with their target event id."""
    renewed: list[tuple[Wait, FlowNode]] = field(default_factory=list)
    """Waits closed and opened again from the target's definition."""
    closed: list[Wait] = field(default_factory=list)
    covered: set[tuple[int, str]] = field(default_factory=set)
    """(owner key, target event id) of the waits that stay or are renewed."""
    variables: list[tuple[str, Any]] = field(default_factory=list)


class Planner:
    """Checks a migration against one instance's state and works out its moves."""

    def __init__(
        self,
        state: InstanceState,
        source: DeployedProcess,
        target: DeployedProcess,
        command: cmd.MigrateInstance,
        p: Processing,
    ) -> None:
        self.state, self.source, self.target = state, source, target
        self.command = command
        self.p = p
        self.mappings = dict(command.mappings)
        self.moves = Moves()

    def plan(self) -> Moves:
        if self.state.suspended:
            self.refuse(f"instance {self.state.instance_key} is suspended: resume it first")
        for element in self.state.elements.values():
            self.moves.targets[element.key] = self.element_target(element)
        for element in self.state.elements.values():
            self.check_scope(element)
        self.check_joins()
        self.check_compensation()
        self.plan_waits()
        self.plan_jobs()
        self.plan_variables()
        return self.moves

    # -- mapping ---------------------------------------------------------------------------------

    def target_id(self, element_id: str) -> str | None:
        if element_id == self.source.process_id:
            return self.target.process_id
        chosen = self.mappings.get(element_id, element_id)
        found = chosen if chosen in self.target.process.elements else None
        if found is not None:
            self.moves.renamed[element_id] = found
        return found

    def refuse(self, reason: str) -> None:
        raise MigrationError(reason)

    def label(self, deployed: DeployedProcess, element_id: str) -> str:
        element = deployed.process.elements.get(element_id)
        if element is not None and element.name:
            return f"'{element.name}' ({element_id})"
        return f"'{element_id}'"

    def element_target(self, instance: ElementInstance) -> str:
        source_id = instance.element_id
        target_id = self.target_id(source_id)
        version = f"version {self.target.version}"
        if target_id is None:
            self.refuse(
                f"the active element {self.label(self.source, source_id)} has no counterpart in "
                f"{version}: map it to one of that version's elements"
            )
            raise AssertionError  # refuse() raised
        if source_id == self.source.process_id:
            return target_id
        before = self.source.process.elements[source_id]
        after = self.target.process.elements[target_id]
        if type(before) is not type(after):
            self.refuse(
                f"the active element {self.label(self.source, source_id)} is a {before.kind} and "
                f"{self.label(self.target, target_id)} in {version} a {after.kind}: an active "
                "element can only move to an element of its own kind"
            )
        if isinstance(before, Activity) and isinstance(after, Activity):
            self.check_loop(instance, before, after)
        return target_id

    def check_loop(self, instance: ElementInstance, before: Activity, after: Activity) -> None:
        was = self.source.plan.nodes[before.element_id].is_multi_instance
        will = self.target.plan.nodes[after.element_id].is_multi_instance
        in_progress = instance.is_mi_body or self.is_inner(instance)
        if in_progress and not will:
            self.refuse(
                f"the multi-instance activity {self.label(self.source, before.element_id)} is in "
                f"progress and {self.label(self.target, after.element_id)} is not "
                "multi-instance: its instances would be lost"
            )
        if will and not in_progress:
            self.refuse(
                f"the active element {self.label(self.source, before.element_id)} would become "
                f"the multi-instance activity {self.label(self.target, after.element_id)}: "
                "an activity under way cannot be split into instances"
            )
        if was and will and in_progress:
            sequential = getattr(before.loop, "is_sequential", False)
            if sequential != getattr(after.loop, "is_sequential", False):
                self.refuse(
                    f"the multi-instance activity {self.label(self.source, before.element_id)} "
                    "is in progress and would change between sequential and parallel"
                )

    def is_inner(self, instance: ElementInstance) -> bool:
        parent = self.state.elements.get(instance.parent_key or -1)
        return parent is not None and parent.is_mi_body and parent.element_id == instance.element_id

    def check_scope(self, instance: ElementInstance) -> None:
        if instance.parent_key is None or self.is_inner(instance):
            return
        target_id = self.moves.targets[instance.key]
        scope_target = self.moves.targets.get(instance.parent_key)
        element = self.target.process.elements[target_id]
        if scope_target is not None and element.scope_id != scope_target:
            self.refuse(
                f"the active element {self.label(self.source, instance.element_id)} would move "
                f"to {self.label(self.target, target_id)}, outside "
                f"{self.label(self.target, scope_target)} where its scope moves: a token "
                "cannot leave its scope"
            )

    # -- joins and compensation ------------------------------------------------------------------

    def check_joins(self) -> None:
        flows = self.target.process.flows
        for (scope_key, join_id), arrived in self.state.joins.items():
            if not any(arrived.values()):
                continue
            target_id = self.target_id(join_id)
            label = self.label(self.source, join_id)
            if target_id is None:
                self.refuse(
                    f"tokens wait at the join {label}, which has no counterpart in version "
                    f"{self.target.version}: map it to a join of that version"
                )
                return
            before = self.source.process.elements[join_id]
            after = self.target.process.elements[target_id]
            if type(before) is not type(after):
                self.refuse(
                    f"tokens wait at the join {label}, and {self.label(self.target, target_id)} "
                    f"is a {after.kind}, not a {before.kind}"
                )
            if after.scope_id != self.moves.targets.get(scope_key, after.scope_id):
                self.refuse(f"tokens wait at the join {label}, whose target is in another scope")
            for flow_id, count in arrived.items():
                flow = flows.get(flow_id)
                if count and (flow is None or flow.target_id != target_id):
                    self.refuse(
                        f"a token waits at the join {label}, arrived by the sequence flow "
                        f"'{flow_id}', which does not lead to {self.label(self.target, target_id)}"
                        f" in version {self.target.version}: the join would wait for ever"
                    )

    def check_compensation(self) -> None:
        entries = [*self.state.compensable.values(), *self.state.compensation_stash.values()]
        for activity, handler, _stash in (entry for group in entries for entry in group):
            for element_id in (activity, handler):
                if self.target_id(element_id) is None:
                    self.refuse(
                        f"the completed activity {self.label(self.source, activity)} can still "
                        f"be compensated, and {self.label(self.source, element_id)} has no "
                        f"counterpart in version {self.target.version}"
                    )

    # -- waits -----------------------------------------------------------------------------------

    def plan_waits(self) -> None:
        waits: dict[tuple[int, str], Wait] = {}
        for timer in self.state.timers.values():
            self._wait(waits, timer.element_instance_key, timer.element_id).timers.append(timer)
        for sub in self.state.subscriptions.values():
            self._wait(waits, sub.element_instance_key, sub.element_id).subscriptions.append(sub)
        for wait in waits.values():
            self.plan_wait(wait)

    def _wait(self, waits: dict[tuple[int, str], Wait], owner_key: int, event_id: str) -> Wait:
        found = waits.get((owner_key, event_id))
        if found is None:
            owner = self.state.elements[owner_key]
            found = waits[(owner_key, event_id)] = Wait(owner, event_id)
        return found

    def plan_wait(self, wait: Wait) -> None:
        owner_target = self.moves.targets[wait.owner.key]
        if wait.event_id == wait.owner.element_id:
            event_target: str | None = owner_target  # a catch event or receive task
        else:
            event_target = self.target_id(wait.event_id)
            if event_target is not None and not self.waits_at(owner_target, event_target):
                event_target = None
        if event_target is None:
            if isinstance(
                self.source.process.elements.get(wait.owner.element_id), EventBasedGateway
            ):
                self.refuse(
                    f"the event-based gateway {self.label(self.source, wait.owner.element_id)} "
                    f"waits for {self.label(self.source, wait.event_id)}, which has no "
                    f"counterpart after its target in version {self.target.version}"
                )
            self.moves.closed.append(wait)
            return
        self.moves.covered.add((wait.owner.key, event_target))
        before = self.source.process.elements[wait.event_id]
        after = self.target.process.elements[event_target]
        old, new = definition_of(before), definition_of(after)
        if _definitions(before) == _definitions(after):
            self.moves.kept.append((wait, event_target))  # the same wait, under a new id
        elif isinstance(old, MessageEventDefinition) and isinstance(new, MessageEventDefinition):
            self.check_message(before, old, new)
            self.moves.kept.append((wait, event_target))  # same message, same key
        elif (
            isinstance(old, TimerEventDefinition)
            and isinstance(new, TimerEventDefinition)
            and not self.command.recreate_timers
        ):
            self.moves.kept.append((wait, event_target))  # the timer keeps its due time
        else:
            self.moves.renewed.append((wait, after))

    def waits_at(self, owner_target: str, event_id: str) -> bool:
        """Whether the target version's ``owner_target`` owns a wait for ``event_id``."""
        event = self.target.process.elements[event_id]
        if not waits_for_something(event):
            return False
        if isinstance(event, BoundaryEvent):
            return event.attached_to == owner_target
        if isinstance(event, StartEvent):
            sub = self.target.process.elements.get(event.scope_id)
            return isinstance(sub, SubProcess) and sub.scope_id == owner_target
        owner = self.target.process.elements.get(owner_target)
        if isinstance(owner, EventBasedGateway):
            flows = self.target.process.flows
            return any(flows[f].target_id == event_id for f in owner.outgoing)
        return False

    def check_message(
        self, before: FlowNode, old: MessageEventDefinition, new: MessageEventDefinition
    ) -> None:
        label = self.label(self.source, before.element_id)
        if old.message_name != new.message_name:
            self.refuse(
                f"{label} waits for the message '{old.message_name}', and its target in version "
                f"{self.target.version} for '{new.message_name}': the message it waits for would "
                "no longer reach it"
            )
        if _source(old.correlation_key) != _source(new.correlation_key):
            self.refuse(
                f"{label} waits for the message '{old.message_name}' with the correlation key "
                f"{_source(old.correlation_key)}, and version {self.target.version} computes it "
                f"as {_source(new.correlation_key)}: a published message would not find it"
            )

    # -- jobs and variables ----------------------------------------------------------------------

    def plan_jobs(self) -> None:
        for job in self.state.jobs.values():
            owner = self.state.elements.get(job.element_instance_key)
            if owner is None:
                continue
            target_id = self.moves.targets[owner.key]
            job_type = getattr(self.target.process.elements[target_id], "job_type", None)
            if not isinstance(job_type, Expression):
                continue
            try:
                value = self._evaluate(job_type, owner.key)
            except ExpressionError as exc:
                self.refuse(
                    f"the job type of {self.label(self.target, target_id)} cannot be "
                    f"evaluated for this instance: {exc}"
                )
            if str(value) != job.job_type:
                self.moves.job_types[job.job_key] = str(value)

    def plan_variables(self) -> None:
        for name, source in self.command.variables:
            try:
                expression = Expression.compile(source)
                value = self._evaluate(expression, self.state.instance_key)
            except ExpressionError as exc:
                self.refuse(f"the variable '{name}' of the plan: {exc}")
            self.moves.variables.append((name, value))

    def _evaluate(self, expression: Expression, scope_key: int) -> Any:
        return self.p.evaluate(expression, scope_key)


def _definitions(element: FlowNode) -> tuple[Any, ...]:
    return tuple(getattr(element, "event_definitions", ())) or (definition_of(element),)


def _source(expression: Expression | None) -> str:
    return "none" if expression is None else f"'{expression.source.strip()}'"
