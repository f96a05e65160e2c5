"""Appliers of the events of an instance and its elements: life cycle, tokens, variables."""

from __future__ import annotations

from legato.engine import events as ev
from legato.engine.applier_base import Applier, registrar
from legato.engine.state import ElementInstance, InstanceState

APPLIERS: dict[type[ev.Event], Applier] = {}
"""This module's appliers by event class (gathered by :mod:`~legato.engine.appliers`)."""
_applies = registrar(APPLIERS)


@_applies(ev.InstanceCreated)
def _instance_created(state: InstanceState, event: ev.InstanceCreated) -> None:
    state.definition_key = event.definition_key
    state.process_id = event.process_id
    state.version = event.version
    state.business_key = event.business_key
    state.parent_instance_key = event.parent_instance_key
    state.parent_element_instance_key = event.parent_element_instance_key
    state.version_reason = event.version_reason
    state.started_at = event.at
    state.status = "active"
    state.elements[state.instance_key] = ElementInstance(
        key=state.instance_key, element_id=event.process_id, kind="process", parent_key=None
    )
    state.variables.setdefault(state.instance_key, {})


@_applies(ev.InstanceCompleted)
def _instance_completed(state: InstanceState, event: ev.InstanceCompleted) -> None:
    state.status = "completed"
    state.ended_at = event.at
    state.elements.pop(state.instance_key, None)
    state.encoded.element_changed(state.instance_key)


@_applies(ev.InstanceTerminated)
def _instance_terminated(state: InstanceState, event: ev.InstanceTerminated) -> None:
    state.status = "terminated"
    state.suspended = False
    state.ended_at = event.at
    state.elements.clear()
    state.jobs.clear()
    state.user_tasks.clear()
    state.task_people.clear()
    state.incidents.clear()
    state.joins.clear()
    state.encoded.clear()


@_applies(ev.ElementActivated)
def _element_activated(state: InstanceState, event: ev.ElementActivated) -> None:
    state.elements[event.key] = ElementInstance(  # by position: fewer keywords to match
        event.key,
        event.element_id,
        event.element_kind,
        event.parent_key,
        event.flow_id,
        event.loop_counter,
        event.is_mi_body,
        activated_at=event.at,
    )
    parent = state.elements[event.parent_key]
    parent.children.add(event.key)
    if parent.is_mi_body:
        parent.mi_started += 1
    state.encoded.elements_encoded.pop(parent.key, None)  # element_changed(), without a call


@_applies(ev.ElementCompleted)
@_applies(ev.ElementTerminated)
def _element_ended(state: InstanceState, event: ev.ElementCompleted | ev.ElementTerminated) -> None:
    key = event.key
    element = state.elements.pop(key)
    state.variables.pop(key, None)
    if state.compensable:
        state.compensable.pop(key, None)
    encoded = state.encoded
    if key in encoded.scopes_encoded:
        encoded.scope_removed(key)
    else:  # what scope_removed() would do, without a call
        encoded.elements_encoded.pop(key, None)
    parent_key = element.parent_key
    parent = state.elements.get(parent_key) if parent_key is not None else None
    if parent is not None:
        parent.children.discard(key)
        encoded.elements_encoded.pop(parent.key, None)  # element_changed(), without a call
        if parent.is_mi_body and type(event) is ev.ElementCompleted:
            parent.mi_completed += 1
    if state.joins and type(event) is ev.ElementTerminated:
        for scope_key, element_id in [k for k in state.joins if k[0] == key]:
            del state.joins[(scope_key, element_id)]


@_applies(ev.JoinTokenArrived)
def _join_arrived(state: InstanceState, event: ev.JoinTokenArrived) -> None:
    slot = (event.scope_key, event.element_id)
    flows = state.joins.setdefault(slot, {})
    flows[event.flow_id] = flows.get(event.flow_id, 0) + 1
    if flows[event.flow_id] == 0:
        del flows[event.flow_id]
    if not flows:
        del state.joins[slot]


@_applies(ev.JoinTokensConsumed)
def _join_consumed(state: InstanceState, event: ev.JoinTokensConsumed) -> None:
    slot = (event.scope_key, event.element_id)
    flows = state.joins[slot]
    for flow_id, count in event.consumed.items():
        # A count may go negative: a complex gateway that fired before every branch arrived
        # swallows the late tokens (they arrive to zero and vanish).
        flows[flow_id] = flows.get(flow_id, 0) - count
        if flows[flow_id] == 0:
            del flows[flow_id]
    if not flows:
        del state.joins[slot]


@_applies(ev.VariableSet)
def _variable_set(state: InstanceState, event: ev.VariableSet) -> None:
    state.variables.setdefault(event.scope_key, {})[event.name] = event.value
    encoded = state.encoded
    if event.scope_key in encoded.scopes_encoded:  # else variable_set() would do nothing
        encoded.variable_set(event.scope_key, event.name)


@_applies(ev.MultiInstanceStarted)
def _mi_started(state: InstanceState, event: ev.MultiInstanceStarted) -> None:
    body = state.elements[event.key]
    body.mi_count = event.count
    body.mi_items = event.items
    state.encoded.element_changed(body.key)


@_applies(ev.CallActivityChildStarted)
def _child_started(state: InstanceState, event: ev.CallActivityChildStarted) -> None:
    state.elements[event.element_instance_key].child_instance_key = event.child_instance_key
    state.encoded.element_changed(event.element_instance_key)


@_applies(ev.InstanceSuspended)
def _instance_suspended(state: InstanceState, event: ev.InstanceSuspended) -> None:
    state.suspended = True


@_applies(ev.InstanceMigrated)
def _instance_migrated(state: InstanceState, event: ev.InstanceMigrated) -> None:
    state.definition_key = event.definition_key
    state.process_id = event.process_id
    state.version = event.version
    renamed = {before: after for before, after in event.renamed}
    moved: dict[int, str] = {}
    for key, _before, after in event.elements:
        element = state.elements.get(key)
        if element is not None:
            element.element_id = after
            state.encoded.element_changed(key)
        moved[key] = after
    for job_key, job_type in event.job_types:
        job = state.jobs.get(job_key)
        if job is not None:
            job.job_type = job_type
    for incident in state.incidents.values():
        incident.element_id = moved.get(incident.element_instance_key, incident.element_id)
    if state.joins:
        state.joins = {
            (scope, renamed.get(element_id, element_id)): flows
            for (scope, element_id), flows in state.joins.items()
        }
    for entries in (*state.compensable.values(), *state.compensation_stash.values()):
        entries[:] = [
            (renamed.get(activity, activity), renamed.get(handler, handler), stash)
            for activity, handler, stash in entries
        ]


@_applies(ev.InstanceResumed)
def _instance_resumed(state: InstanceState, event: ev.InstanceResumed) -> None:
    state.suspended = False
