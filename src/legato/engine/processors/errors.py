"""Throwing BPMN errors and escalations up the scopes to where they are caught: boundary
events on the way up, then the event sub-processes of each enclosing scope."""

from __future__ import annotations

from typing import Any

from legato.engine import events as ev
from legato.engine.processors.waits import trigger
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import (
    Activity,
    ErrorEventDefinition,
    EscalationEventDefinition,
    EventDefinition,
    FlowNode,
)
from legato.model.queries import definition_of


def throw_error(
    p: Processing, source: ElementInstance, code: str, message: str, variables: dict[str, Any]
) -> bool:
    """Throw a BPMN error from ``source`` to the nearest catching event; False if none."""
    found = _find_catch(p, source, ErrorEventDefinition, code)
    p.emit(
        ev.ErrorThrown(
            at=p.ctx.now,
            element_instance_key=source.key,
            element_id=source.element_id,
            error_code=code,
            message=message,
            catch_element_id=found[1].element_id if found else None,
        )
    )
    if found is None:
        return False
    owner, catch = found
    definition = definition_of(catch)
    assert isinstance(definition, ErrorEventDefinition)
    values = dict(variables)
    if definition.code_variable:
        values[definition.code_variable] = code
    if definition.message_variable:
        values[definition.message_variable] = message
    trigger(p, owner, catch, values, {"errorCode": code, "errorMessage": message})
    return True


def throw_escalation(p: Processing, source: ElementInstance, code: str) -> bool:
    """Throw an escalation from ``source``; False if nothing catches it (that is no failure)."""
    found = _find_catch(p, source, EscalationEventDefinition, code)
    p.emit(
        ev.EscalationThrown(
            at=p.ctx.now,
            element_instance_key=source.key,
            element_id=source.element_id,
            escalation_code=code,
            catch_element_id=found[1].element_id if found else None,
        )
    )
    if found is None:
        return False
    owner, catch = found
    definition = definition_of(catch)
    assert isinstance(definition, EscalationEventDefinition)
    values = {definition.code_variable: code} if definition.code_variable else {}
    trigger(p, owner, catch, values, {"escalationCode": code})
    return True


def _find_catch(
    p: Processing, source: ElementInstance, kind: type[EventDefinition], code: str
) -> tuple[ElementInstance, FlowNode] | None:
    """The nearest (owner, catching event): boundary events on the way up, then event
    sub-processes of each enclosing scope."""
    node: ElementInstance | None = source
    while node is not None:
        parent = p.state.elements.get(node.parent_key) if node.parent_key is not None else None
        if node.parent_key is not None and not (parent is not None and parent.is_mi_body):
            element = p.process.element(node.element_id)
            if isinstance(element, Activity):
                found = _best(p, element.boundary_events, kind, code)
                if found is not None:
                    return node, found
        if parent is not None and not parent.is_mi_body:
            found = _best(p, _sub_process_starts(p, parent.element_id), kind, code)
            if found is not None:
                return parent, found
        node = parent
    return None


def _sub_process_starts(p: Processing, scope_id: str) -> list[str]:
    plan = p.plan
    node = plan.root if scope_id == plan.root.element_id else plan.nodes[scope_id]
    return [start.element_id for start in node.event_starts]


def _best(
    p: Processing, candidates: Any, kind: type[EventDefinition], code: str
) -> FlowNode | None:
    catch_all = None
    for element_id in candidates:
        element = p.process.element(element_id)
        definition = definition_of(element)
        if not isinstance(definition, kind):
            continue
        wanted = (
            getattr(definition, "error_code", None)
            if kind is ErrorEventDefinition
            else getattr(definition, "escalation_code", None)
        )
        if wanted == code:
            return element
        if wanted is None and catch_all is None:
            catch_all = element
    return catch_all
