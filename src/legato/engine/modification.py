"""Starting and cancelling tokens of a running instance by hand (``ModifyInstance``).

An operator repairs an instance that a model bug, a lost message or a wrong decision left
stuck, with the instructions of Camunda's process instance modification:

* :class:`~legato.engine.commands.StartBefore` — a new token enters an element (a joining
  gateway entered this way fires at once, taking the tokens waiting at it along);
* :class:`~legato.engine.commands.StartAfter` — a new token leaves an element along its one
  outgoing sequence flow, as if the element had just completed (into a join it arrives by
  that flow and counts as that branch's token);
* :class:`~legato.engine.commands.CancelElement` — every active token at an element ends
  (a multi-instance activity ends as a whole);
* :class:`~legato.engine.commands.CancelElementInstance` — one element instance ends.

Every instruction is checked against the instance before anything changes; one that does
not fit refuses the whole modification with an
:class:`~legato.errors.InvalidCommandError` naming the instance and the element. Then, in one
step: ``InstanceModified`` (who, what) is recorded, the cancelled element instances end as
when an interrupting event ends them (their jobs, user tasks, timers and subscriptions are
cancelled, a called instance is cancelled), and the new tokens start. The cancellations run
first, so "cancel X, start before X" restarts X.

Variables of a start instruction are set in the scope the new token runs in: the process
for a top-level element, else the enclosing sub-process instance (recorded as an operator's
edit, with the old and new values). An element inside a sub-process that has no active
instance gets a new one, entered without starting its own start events (its input mappings
run and its boundary and event sub-process waits open); one active instance takes the new
token; several are ambiguous and refused.

A scope whose last token is cancelled ends as it would after its last token ended normally
(as Zeebe does): a sub-process completes and leaves along its outgoing flows, the process
instance completes. Tokens waiting at a join keep their scope alive. To end the instance as
terminated, cancel the instance instead.

Refused: an unknown element, a cancellation with no active token to end, the process itself,
one instance of a multi-instance activity (cancel the activity), starting inside a
multi-instance sub-process or an event sub-process, starting before a boundary event, and
starting after an element without exactly one outgoing sequence flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.handle_instances import edit_variables
from legato.engine.plan import NodePlan
from legato.engine.processing import BEHAVIOURS, Processing
from legato.engine.state import ElementInstance
from legato.engine.values import checked_variables
from legato.errors import InvalidCommandError
from legato.model import BoundaryEvent, FlowNode, MultiInstanceLoop, SubProcess

_Start = cmd.StartBefore | cmd.StartAfter


def modify(p: Processing, command: cmd.ModifyInstance) -> None:
    """Check every instruction of ``command``, then apply them all (see the module
    docstring)."""
    checker = _Checker(p)
    if not command.instructions:
        raise checker.refuse("no instruction given")
    # Cancellations first: a start is checked against the tokens that stay.
    order = sorted(command.instructions, key=lambda i: isinstance(i, _Start))
    checked = {id(instruction): checker.check(instruction) for instruction in order}
    recorded = [checked[id(instruction)] for instruction in command.instructions]
    p.emit(ev.InstanceModified(at=p.now, instructions=recorded, by=command.by))
    for key in checker.cancelled:
        instance = p.state.elements.get(key)
        if instance is not None:  # not ended already with a cancelled scope
            p.terminate(instance)
            assert instance.parent_key is not None
            p.token_left(instance.parent_key)
    for instruction in command.instructions:
        if isinstance(instruction, _Start):
            _start(p, instruction, command.by)


class _Checker:
    """Checks instructions against the instance as it is, before anything changes."""

    def __init__(self, p: Processing) -> None:
        self.p = p
        self.key = p.state.instance_key
        self.cancelled: list[int] = []

    def refuse(self, reason: str) -> InvalidCommandError:
        return InvalidCommandError(f"instance {self.key} cannot be modified: {reason}")

    def check(self, instruction: cmd.Instruction) -> dict[str, Any]:
        if isinstance(instruction, cmd.CancelElementInstance):
            return self.check_cancel_key(instruction.element_instance_key)
        if not isinstance(instruction, (cmd.CancelElement, cmd.StartBefore, cmd.StartAfter)):
            raise self.refuse(f"{type(instruction).__name__} is not a modification instruction")
        element = self.element(instruction.element_id)
        if isinstance(instruction, cmd.CancelElement):
            return self.check_cancel(element)
        if not isinstance(instruction.variables, Mapping):
            raise self.refuse(
                f"the variables for '{element.element_id}' must be a mapping of names to "
                f"values, not {type(instruction.variables).__name__}"
            )
        try:
            names = sorted(checked_variables(instruction.variables))
        except InvalidCommandError as exc:
            raise self.refuse(f"the variables for '{element.element_id}': {exc}") from None
        self.check_start(instruction, element)
        kind = "start_before" if isinstance(instruction, cmd.StartBefore) else "start_after"
        return {kind: element.element_id, "variables": names}

    def element(self, element_id: str) -> FlowNode:
        if not isinstance(element_id, str):
            raise self.refuse(f"an element id must be a string, not {element_id!r}")
        element = self.p.process.elements.get(element_id)
        if element is None:
            if element_id == self.p.process.process_id:
                raise self.refuse(f"'{element_id}' is the process itself: cancel the instance")
            raise self.refuse(
                f"process '{self.p.process.process_id}' has no element '{element_id}'"
            )
        return element

    # -- cancellations ---------------------------------------------------------------------------

    def check_cancel(self, element: FlowNode) -> dict[str, Any]:
        keys = [
            e.key
            for e in self.p.state.elements.values()
            if e.element_id == element.element_id and not self.is_inner(e)
        ]
        if not keys:
            raise self.refuse(f"no token is active at '{element.element_id}' to cancel")
        self.cancelled += keys
        return {"cancel": element.element_id, "element_instance_keys": sorted(keys)}

    def check_cancel_key(self, key: int) -> dict[str, Any]:
        instance = self.p.state.elements.get(key)
        if instance is None:
            raise self.refuse(f"no active element instance {key} to cancel")
        if instance.parent_key is None:
            raise self.refuse(f"element instance {key} is the process itself: cancel the instance")
        if self.is_inner(instance):
            raise self.refuse(
                f"element instance {key} is one instance of the multi-instance activity "
                f"'{instance.element_id}': cancel the activity (element instance "
                f"{instance.parent_key})"
            )
        self.cancelled.append(key)
        return {"cancel": instance.element_id, "element_instance_keys": [key]}

    def is_inner(self, instance: ElementInstance) -> bool:
        parent = self.p.state.elements.get(instance.parent_key or -1)
        return parent is not None and parent.is_mi_body and parent.element_id == instance.element_id

    # -- starts ----------------------------------------------------------------------------------

    def check_start(self, instruction: _Start, element: FlowNode) -> None:
        element_id = element.element_id
        if isinstance(instruction, cmd.StartBefore) and isinstance(element, BoundaryEvent):
            raise self.refuse(
                f"'{element_id}' is a boundary event: start after it, or before the activity "
                "it is attached to"
            )
        if isinstance(instruction, cmd.StartAfter) and len(element.outgoing) != 1:
            count = len(element.outgoing)
            raise self.refuse(
                f"'{element_id}' has {count or 'no'} outgoing sequence flow"
                f"{'s' if count != 1 else ''}: a token can start after an element with exactly "
                "one; start before the element it should reach instead"
            )
        if isinstance(element, SubProcess) and element.triggered_by_event:
            raise self.refuse(f"'{element_id}' is an event sub-process, started by its event")
        self.check_scopes(element)

    def check_scopes(self, element: FlowNode) -> None:
        """The enclosing sub-processes: none multi-instance or event-triggered, and at most
        one active instance of each to take the token."""
        parent: int | None = self.key
        for scope in _enclosing(self.p, element):
            label = f"'{element.element_id}' is inside the"
            if isinstance(scope.loop, MultiInstanceLoop):
                raise self.refuse(
                    f"{label} multi-instance sub-process '{scope.element_id}': starting inside "
                    "a multi-instance body is not supported; start before the sub-process"
                )
            if scope.triggered_by_event:
                raise self.refuse(
                    f"{label} event sub-process '{scope.element_id}', which only its event starts"
                )
            found = [] if parent is None else self.active_in(parent, scope.element_id)
            if len(found) > 1:
                raise self.refuse(
                    f"{label} sub-process '{scope.element_id}', which has {len(found)} active "
                    "instances: cancel all but the one to start in"
                )
            parent = found[0] if found else None

    def active_in(self, parent_key: int, element_id: str) -> list[int]:
        """The instances of ``element_id`` in ``parent_key`` that stay after the cancellations
        checked so far (every cancellation is applied before any start)."""
        elements = self.p.state.elements
        return [
            key
            for key in elements[parent_key].children
            if elements[key].element_id == element_id and key not in self.cancelled
        ]


def _enclosing(p: Processing, element: FlowNode) -> list[SubProcess]:
    """The sub-processes around ``element``, outermost first."""
    scopes: list[SubProcess] = []
    scope_id = element.scope_id
    while scope_id != p.process.process_id:
        scope = p.process.elements[scope_id]
        assert isinstance(scope, SubProcess)
        scopes.append(scope)
        scope_id = scope.scope_id
    return scopes[::-1]


def _start(p: Processing, instruction: _Start, by: str | None) -> None:
    element = p.process.elements[instruction.element_id]
    scope_key = p.state.instance_key
    for scope in _enclosing(p, element):
        scope_key = _scope_instance(p, p.plan.nodes[scope.element_id], scope_key)
    if instruction.variables:
        edit_variables(p, scope_key, instruction.variables, True, by)
    node = p.plan.nodes[element.element_id]
    if isinstance(instruction, cmd.StartBefore):
        if node.joins:
            _fire_join(p, node, scope_key)
        p.activate(node, scope_key, None)
    else:
        [flow] = node.outgoing
        p.take_flow(flow, scope_key)


def _fire_join(p: Processing, node: NodePlan, scope_key: int) -> None:
    """A token started before a joining element takes the tokens waiting there with it."""
    waiting = p.state.joins.get((scope_key, node.element_id), {})
    consumed = {flow_id: count for flow_id, count in waiting.items() if count > 0}
    if consumed:
        p.emit(
            ev.JoinTokensConsumed(
                at=p.now, scope_key=scope_key, element_id=node.element_id, consumed=consumed
            )
        )


def _scope_instance(p: Processing, node: NodePlan, parent_key: int) -> int:
    """The active instance of the sub-process ``node`` in ``parent_key`` (checked to be at
    most one), else a new one, entered without starting its start events."""
    elements = p.state.elements
    for key in sorted(elements[parent_key].children):
        if elements[key].element_id == node.element_id:
            return key
    key = p.ctx.new_key()
    p.emit(
        ev.ElementActivated(
            at=p.now,
            key=key,
            element_id=node.element_id,
            element_kind=node.kind,
            parent_key=parent_key,
        )
    )
    instance = elements[key]
    element = node.element

    def enter() -> None:
        if element.input_mappings:
            p.apply_mappings(element.input_mappings, key, key, propagate=False)
        BEHAVIOURS[node.behaviour].arm(p, instance, element)

    p.guarded(instance, "activate", enter)
    return key
