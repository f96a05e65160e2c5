"""Compensation: remembering what completed and can be undone, running the handlers when a
compensation event is thrown, and cancelling a transaction."""

from __future__ import annotations

from legato.engine import events as ev
from legato.engine.incident import IncidentError
from legato.engine.plan import Behaviour
from legato.engine.processors.waits import trigger
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import Activity, CancelEventDefinition, SubProcess
from legato.model.queries import compensation_start, definition_of


def record_compensation(p: Processing, instance: ElementInstance) -> None:
    """Before an element instance completes: remember what can be undone."""
    node = p.plan.nodes[instance.element_id]
    scope_key = instance.parent_key
    assert scope_key is not None
    handler = node.compensation_sub_process
    if handler is not None:
        p.emit(ev.CompensationStashed(at=p.ctx.now, scope_key=instance.key))
        p.emit(
            ev.CompensationRecorded(
                at=p.ctx.now,
                scope_key=scope_key,
                element_id=node.element_id,
                handler_id=handler.element_id,
                stash_key=instance.key,
            )
        )
    elif node.behaviour is Behaviour.SUB_PROCESS and p.state.compensable.get(instance.key):
        p.emit(
            ev.CompensationMoved(at=p.ctx.now, from_scope_key=instance.key, to_scope_key=scope_key)
        )
    if instance.is_mi_body:
        return
    for handler_id in node.compensation_handlers:
        p.emit(
            ev.CompensationRecorded(
                at=p.ctx.now,
                scope_key=scope_key,
                element_id=node.element_id,
                handler_id=handler_id,
            )
        )


def compensate(p: Processing, throw: ElementInstance, activity_ref: str | None) -> None:
    """Undo what completed in the throw event's scope, latest first, one handler at a time;
    the throw event completes when the last handler has."""
    scope_key = throw.parent_key
    assert scope_key is not None
    entries = [
        entry
        for entry in p.state.compensable.get(scope_key, [])
        if activity_ref is None or entry[0] == activity_ref
    ]
    if not entries:
        next_handler(p, throw)
        return
    entries.reverse()
    p.emit(
        ev.CompensationStarted(
            at=p.ctx.now,
            element_instance_key=throw.key,
            scope_key=scope_key,
            handlers=[handler for _, handler, _ in entries],
            element_ids=[activity for activity, _, _ in entries],
            stash_keys=[stash for _, _, stash in entries],
        )
    )
    next_handler(p, throw)


def next_handler(p: Processing, throw: ElementInstance) -> None:
    """Start the next compensation handler of ``throw``, or complete it when none is left."""
    if not throw.compensation_queue:
        element = p.process.element(throw.element_id)
        if isinstance(definition_of(element), CancelEventDefinition):
            _cancel_transaction(p, throw)
        else:
            p.complete(throw)
        return
    assert throw.parent_key is not None
    handler_id, stash_key = throw.compensation_queue[0]
    handler = p.process.element(handler_id)
    started = p.activate(p.plan.nodes[handler_id], throw.parent_key, None)
    p.emit(
        ev.CompensationHandlerStarted(
            at=p.ctx.now,
            handler_instance_key=started.key,
            throw_instance_key=throw.key,
            stash_key=stash_key,
        )
    )
    if isinstance(handler, SubProcess) and handler.triggered_by_event:
        # A compensation event sub-process is entered through its compensation start event.
        start = compensation_start(p.process, handler_id)
        if start is not None:
            p.activate(p.plan.nodes[start.element_id], started.key, None)


def cancel(p: Processing, throw: ElementInstance) -> None:
    """A cancel end event: undo what completed in the transaction, then leave it through its
    cancel boundary event."""
    compensate(p, throw, None)


def _cancel_transaction(p: Processing, throw: ElementInstance) -> None:
    transaction = p.state.elements.get(throw.parent_key) if throw.parent_key else None
    if transaction is None:
        return
    element = p.process.element(transaction.element_id)
    assert isinstance(element, Activity)
    for boundary_id in element.boundary_events:
        boundary = p.process.element(boundary_id)
        if isinstance(definition_of(boundary), CancelEventDefinition):
            trigger(p, transaction, boundary, {})
            return
    raise IncidentError(
        "cancel", f"transaction '{element.element_id}' has no cancel boundary event"
    )


def handler_done(p: Processing, handler: ElementInstance) -> None:
    """A compensation handler completed: go on with its throw event."""
    throw = p.state.elements.get(handler.compensating_for) if handler.compensating_for else None
    if throw is not None:
        next_handler(p, throw)
