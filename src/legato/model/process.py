"""Processes and the documents that hold them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from legato.errors import ValidationIssue
from legato.model.elements import (
    Activity,
    BoundaryEvent,
    FlowNode,
    StartEvent,
    SubProcess,
)
from legato.model.expressions import Expression
from legato.model.sensitive import SensitivePath


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceFlow:
    """A sequence flow between two flow nodes of one scope."""

    flow_id: str
    source_id: str
    target_id: str
    condition: Expression | None = None
    name: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLevel:
    """How long a process instance, or an element instance, is expected to run.

    Read from ``<legato:sla expectedDuration="PT1H" threshold="3"/>`` (or a
    ``legato.sla.expectedDuration`` / ``legato.sla.threshold`` extension property) on the
    process or a flow element. An instance still running after ``threshold`` times
    ``expected_duration`` raises an alert (see :mod:`legato.runtime.sla`).
    """

    element_id: str | None
    """The flow element, or None for the whole instance."""
    expected_duration: timedelta
    threshold: float | None = None
    """The factor past which a run is overdue; None for the engine's default (2)."""


@dataclass(frozen=True, kw_only=True)
class ProcessDefinition:
    """An executable process: its flow nodes (at every depth) and sequence flows.

    Top-level elements have ``scope_id == process_id``; elements of a sub-process have the
    sub-process's id as their ``scope_id``.
    """

    process_id: str
    name: str | None = None
    is_executable: bool = True
    elements: Mapping[str, FlowNode]
    """Every flow node of the process, nested ones included, by element id."""
    flows: Mapping[str, SequenceFlow]
    """Every sequence flow, nested ones included, by flow id."""
    source_file: str | None = None
    line: int | None = None
    variables: tuple[str, ...] = ()
    """Declared process properties (initialised to null when an instance starts)."""
    version_tag: str | None = None
    """The process's version tag (``zeebe:versionTag``, ``camunda:versionTag``): a name for
    the version the deployment makes, unique among the versions of the process."""
    global_task: bool = False
    """A global task wrapped as a process (start, the task, end) for call activities."""
    service_levels: tuple[ServiceLevel, ...] = ()
    """The expected durations the model sets, on the process and on its elements."""
    sensitive: tuple[SensitivePath, ...] = ()
    """The variables, or paths into them, that the model declares sensitive."""
    problems: tuple[ValidationIssue, ...] = ()
    """What keeps this process from being executed (unsupported or incomplete elements).

    Reading is lenient so that any modeler's file can be inspected; deployment refuses an
    executable process that has problems.
    """

    def element(self, element_id: str) -> FlowNode:
        """The element with this id (KeyError if there is none)."""
        return self.elements[element_id]

    def flow(self, flow_id: str) -> SequenceFlow:
        """The sequence flow with this id."""
        return self.flows[flow_id]

    @cached_property
    def children(self) -> Mapping[str, tuple[str, ...]]:
        """Element ids of each scope's direct children, by scope id, in document order."""
        result: dict[str, list[str]] = {self.process_id: []}
        for element in self.elements.values():
            result.setdefault(element.scope_id, []).append(element.element_id)
            if isinstance(element, SubProcess):
                result.setdefault(element.element_id, [])
        return {scope: tuple(ids) for scope, ids in result.items()}

    def none_start_event(self, scope_id: str) -> StartEvent | None:
        """The start event of a scope without an event definition (the one a plain start uses)."""
        for element_id in self.children.get(scope_id, ()):
            element = self.elements[element_id]
            if (
                isinstance(element, StartEvent)
                and not element.event_definitions
                and not self._is_event_subprocess(scope_id)
            ):
                return element
        return None

    def _is_event_subprocess(self, scope_id: str) -> bool:
        scope = self.elements.get(scope_id)
        return isinstance(scope, SubProcess) and scope.triggered_by_event

    def start_nodes(self, scope_id: str) -> tuple[FlowNode, ...]:
        """Where a token starts when the scope is entered without a start event.

        BPMN allows a scope without start events: then every activity and gateway without
        incoming flows starts (implicit start). With none start events, those start.
        """
        nodes = [self.elements[i] for i in self.children.get(scope_id, ())]
        starts = [n for n in nodes if isinstance(n, StartEvent) and not n.event_definitions]
        if starts:
            return tuple(starts)
        return tuple(
            n
            for n in nodes
            if not n.incoming
            and not isinstance(n, (StartEvent, BoundaryEvent))
            and not (isinstance(n, SubProcess) and n.triggered_by_event)
            and not (isinstance(n, Activity) and n.is_for_compensation)
        )

    @cached_property
    def reachable_flows(self) -> Mapping[str, frozenset[str]]:
        """For each element, the sequence flows a token leaving it may still travel.

        Used by the inclusive join: it waits for an incoming flow only while some token of its
        scope can still reach that flow. Boundary events count as reachable from their
        activity, and a sub-process's outgoing paths from its children are not needed because
        tokens inside a sub-process reach the outer scope only through the sub-process itself.
        """
        successors: dict[str, list[str]] = {element_id: [] for element_id in self.elements}
        for element in self.elements.values():
            if isinstance(element, BoundaryEvent) and element.attached_to in successors:
                successors[element.attached_to].append(element.element_id)
        result: dict[str, frozenset[str]] = {}
        for element_id in self.elements:
            seen_nodes: set[str] = set()
            seen_flows: set[str] = set()
            stack = [element_id]
            while stack:
                current = stack.pop()
                if current in seen_nodes:
                    continue
                seen_nodes.add(current)
                for flow_id in self.elements[current].outgoing:
                    seen_flows.add(flow_id)
                    stack.append(self.flows[flow_id].target_id)
                stack.extend(successors[current])
            result[element_id] = frozenset(seen_flows)
        return result


@dataclass(frozen=True, kw_only=True)
class Definitions:
    """What one BPMN file holds: its processes and the names its events refer to."""

    definitions_id: str | None = None
    target_namespace: str | None = None
    processes: tuple[ProcessDefinition, ...] = ()
    source_file: str | None = None
    decisions: tuple[str, ...] = field(default=())
    """Ids of the decisions referenced by business rule tasks (resolved at deploy time)."""

    def process(self, process_id: str) -> ProcessDefinition:
        """The process with this id (KeyError if there is none)."""
        for process in self.processes:
            if process.process_id == process_id:
                return process
        raise KeyError(process_id)

    @property
    def executable_processes(self) -> tuple[ProcessDefinition, ...]:
        """The processes marked executable (or not marked at all)."""
        return tuple(p for p in self.processes if p.is_executable)
