"""The execution plan: a process version compiled once for the step core.

Per element it holds what the lifecycle asks on every token: which behaviour runs it, its
outgoing flows (conditions compiled, default apart, targets resolved), whether and how it
joins, the boundary events to arm and those that record compensation, the start events of its
event sub-processes. The step core walks the plan instead of looking elements up by id and
testing their classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from legato.model import (
    Activity,
    BoundaryEvent,
    CallActivity,
    ComplexGateway,
    Event,
    EventBasedGateway,
    ExclusiveGateway,
    Expression,
    FlowNode,
    InclusiveGateway,
    JobWorkerTask,
    MultiInstanceLoop,
    ParallelGateway,
    ProcessDefinition,
    ReceiveTask,
    SequenceFlow,
    StartEvent,
    SubProcess,
    UserTask,
)
from legato.model.queries import (
    compensation_sub_process,
    event_sub_process_starts,
    joins,
    waits_for_something,
)


class Behaviour(IntEnum):
    """Which behaviour runs an element (an index into the lifecycle's behaviour table)."""

    PASS_THROUGH = 0
    ACTIVITY = 1
    JOB_WORKER = 2
    RECEIVE_TASK = 3
    EVENT_BASED_GATEWAY = 4
    USER_TASK = 5
    SUB_PROCESS = 6
    CALL_ACTIVITY = 7
    EXCLUSIVE_GATEWAY = 8
    PARALLEL_GATEWAY = 9
    INCLUSIVE_GATEWAY = 10
    COMPLEX_GATEWAY = 11
    EVENT = 12
    MULTI_INSTANCE_BODY = 13


_BY_CLASS: tuple[tuple[type[FlowNode], Behaviour], ...] = (
    (JobWorkerTask, Behaviour.JOB_WORKER),
    (ReceiveTask, Behaviour.RECEIVE_TASK),
    (EventBasedGateway, Behaviour.EVENT_BASED_GATEWAY),
    (UserTask, Behaviour.USER_TASK),
    (SubProcess, Behaviour.SUB_PROCESS),
    (CallActivity, Behaviour.CALL_ACTIVITY),
    (Activity, Behaviour.ACTIVITY),
    (ExclusiveGateway, Behaviour.EXCLUSIVE_GATEWAY),
    (ParallelGateway, Behaviour.PARALLEL_GATEWAY),
    (InclusiveGateway, Behaviour.INCLUSIVE_GATEWAY),
    (ComplexGateway, Behaviour.COMPLEX_GATEWAY),
    (Event, Behaviour.EVENT),
)


@dataclass(slots=True, eq=False)
class FlowPlan:
    """A sequence flow with its condition and its target resolved."""

    flow: SequenceFlow
    flow_id: str
    condition: Expression | None
    target: NodePlan = field(repr=False)


@dataclass(slots=True, eq=False)
class NodePlan:
    """What the step core needs to know about one element, resolved ahead."""

    element: Any
    """The model element (typed loosely: each behaviour knows its own element class)."""
    element_id: str
    kind: str
    """The element kind as the events record it."""
    behaviour: Behaviour
    is_multi_instance: bool
    """Entering it creates a multi-instance body first."""
    joins: bool
    """Tokens wait at it for each other (a joining gateway, a start quantity above one)."""
    rechecks_join: bool
    """Its join is re-checked whenever a token of its scope ends (inclusive, complex)."""
    outgoing: tuple[FlowPlan, ...] = ()
    """Every outgoing flow, in model order."""
    conditional: tuple[FlowPlan, ...] = ()
    """The outgoing flows except the default one, in model order."""
    default: FlowPlan | None = None
    waiting_boundaries: tuple[FlowNode, ...] = ()
    """Boundary events that wait for a timer, message, signal or condition."""
    compensation_handlers: tuple[str, ...] = ()
    """Handlers of its compensation boundary events."""
    compensation_sub_process: SubProcess | None = None
    """For a sub-process: its compensation event sub-process."""
    event_starts: tuple[StartEvent, ...] = ()
    """For a scope: the start events of its event sub-processes."""
    waiting_event_starts: tuple[StartEvent, ...] = ()
    """Those of ``event_starts`` that wait for something."""
    starts: tuple[NodePlan, ...] = field(default=(), repr=False)
    """For a scope: where its tokens start when it is entered without a start event."""
    records_compensation: bool = False
    """Its completion records something to compensate (a compensation boundary event or a
    compensation event sub-process) or moves what its scope recorded (a sub-process)."""
    straight: bool = False
    """Entering it completes it at once, with nothing to map, arm or record: a none event, a
    start event, a gateway. The lifecycle runs its completion without planning it, when
    nothing else is planned (so the events come in the same order)."""
    leaves: tuple[FlowPlan, ...] | None = None
    """For a straight element whose flows need no condition evaluated: the flows its
    processor chooses (None when a condition decides, or when none can be chosen)."""


@dataclass(slots=True, eq=False)
class ExecutionPlan:
    """A process version, compiled for the step core."""

    process: ProcessDefinition = field(repr=False)
    nodes: dict[str, NodePlan]
    root: NodePlan
    """The process itself, as the scope of its top-level elements."""


def compile_plan(process: ProcessDefinition) -> ExecutionPlan:
    """Compile ``process`` into its execution plan."""
    nodes = {element_id: _node(element) for element_id, element in process.elements.items()}
    for node in nodes.values():
        _link(process, nodes, node)
    root = NodePlan(
        element=None,
        element_id=process.process_id,
        kind="process",
        behaviour=Behaviour.PASS_THROUGH,
        is_multi_instance=False,
        joins=False,
        rechecks_join=False,
    )
    _scope(process, root)
    root.starts = tuple(nodes[s.element_id] for s in process.start_nodes(process.process_id))
    return ExecutionPlan(process=process, nodes=nodes, root=root)


def behaviour_of(element: FlowNode) -> Behaviour:
    """The behaviour that runs ``element``."""
    for cls, behaviour in _BY_CLASS:
        if isinstance(element, cls):
            return behaviour
    return Behaviour.PASS_THROUGH


def _node(element: FlowNode) -> NodePlan:
    joining = joins(element)
    return NodePlan(
        element=element,
        element_id=element.element_id,
        kind=str(element.kind),
        behaviour=behaviour_of(element),
        is_multi_instance=isinstance(element, Activity)
        and isinstance(element.loop, MultiInstanceLoop),
        joins=joining,
        rechecks_join=joining and isinstance(element, (InclusiveGateway, ComplexGateway)),
    )


def _link(process: ProcessDefinition, nodes: dict[str, NodePlan], node: NodePlan) -> None:
    element: FlowNode = node.element
    flows = tuple(_flow(process.flow(flow_id), nodes) for flow_id in element.outgoing)
    node.outgoing = flows
    node.conditional = tuple(f for f in flows if f.flow_id != element.default_flow)
    if element.default_flow is not None:
        node.default = _flow(process.flow(element.default_flow), nodes)
    if isinstance(element, Activity):
        boundaries = [process.element(b) for b in element.boundary_events]
        node.waiting_boundaries = tuple(b for b in boundaries if waits_for_something(b))
        node.compensation_handlers = tuple(
            b.compensation_handler
            for b in boundaries
            if isinstance(b, BoundaryEvent) and b.compensation_handler
        )
    if isinstance(element, SubProcess):
        node.compensation_sub_process = compensation_sub_process(process, element.element_id)
        node.starts = tuple(nodes[s.element_id] for s in process.start_nodes(element.element_id))
        _scope(process, node)
    node.records_compensation = (
        bool(node.compensation_handlers) or node.behaviour is Behaviour.SUB_PROCESS
    )
    node.straight = _straight(node)
    node.leaves = _leaves(node) if node.straight else None


_STRAIGHT = frozenset(
    {
        Behaviour.PASS_THROUGH,
        Behaviour.EXCLUSIVE_GATEWAY,
        Behaviour.PARALLEL_GATEWAY,
        Behaviour.INCLUSIVE_GATEWAY,
        Behaviour.COMPLEX_GATEWAY,
    }
)
"""Behaviours whose activation does nothing but complete (their processors keep the
default ``on_activate``, ``arm`` and ``execute``; gateways choose flows on completion)."""


def _straight(node: NodePlan) -> bool:
    element = node.element
    if node.is_multi_instance or node.records_compensation or node.event_starts:
        return False
    if element.input_mappings or element.output_mappings:
        return False
    if node.behaviour is Behaviour.EVENT:
        # As EventProcessor.execute: these complete at once, whatever they define.
        return not element.event_definitions or isinstance(element, (StartEvent, BoundaryEvent))
    return node.behaviour in _STRAIGHT


def _leaves(node: NodePlan) -> tuple[FlowPlan, ...] | None:
    """What the processor's ``outgoing()`` returns when it has no condition to evaluate."""
    behaviour, conditional, default = node.behaviour, node.conditional, node.default
    if behaviour is Behaviour.PARALLEL_GATEWAY or not node.outgoing:
        return node.outgoing  # a parallel gateway ignores conditions
    if behaviour is Behaviour.EXCLUSIVE_GATEWAY:
        if conditional:  # the first flow, unless its condition decides
            return conditional[:1] if conditional[0].condition is None else None
        return (default,) if default is not None else None
    if any(flow.condition is not None for flow in conditional):
        return None
    if behaviour in (Behaviour.INCLUSIVE_GATEWAY, Behaviour.COMPLEX_GATEWAY):
        if conditional:
            return conditional
        return (default,) if default is not None else None
    return conditional + ((default,) if default is not None else ())  # none held: the default


def _scope(process: ProcessDefinition, node: NodePlan) -> None:
    node.event_starts = tuple(event_sub_process_starts(process, node.element_id))
    node.waiting_event_starts = tuple(s for s in node.event_starts if waits_for_something(s))


def _flow(flow: SequenceFlow, nodes: dict[str, NodePlan]) -> FlowPlan:
    return FlowPlan(
        flow=flow, flow_id=flow.flow_id, condition=flow.condition, target=nodes[flow.target_id]
    )
