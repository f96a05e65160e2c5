"""Conversions between store records and SQL rows.

Parameters go out as dicts keyed by column name; rows come back as any object with the
columns as attributes (SQLAlchemy rows or the named tuples of :mod:`._prepared`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from legato.store._rules import dump_json, job_available_at, load_json, timer_available_at
from legato.store.records import (
    DefinitionRecord,
    FormRecord,
    HistoryChunk,
    HistoryRecord,
    IncidentRecord,
    InstanceRecord,
    JobRecord,
    MessageRecord,
    SubscriptionRecord,
    TimerRecord,
    UserTaskRecord,
)

Params = dict[str, Any]


def definition_params(record: DefinitionRecord) -> Params:
    return {
        "definition_key": record.definition_key,
        "process_id": record.process_id,
        "version": record.version,
        "name": record.name,
        "resource_name": record.resource_name,
        "source": record.source,
        "checksum": record.checksum,
        "deployed_at": record.deployed_at,
        "version_tag": record.version_tag,
        "suspended": record.suspended,
    }


def definition_record(row: Any) -> DefinitionRecord:
    return DefinitionRecord(
        definition_key=row.definition_key,
        process_id=row.process_id,
        version=row.version,
        name=row.name,
        resource_name=row.resource_name,
        source=row.source,
        checksum=row.checksum,
        deployed_at=row.deployed_at,
        version_tag=row.version_tag,
        suspended=bool(row.suspended),
    )


def instance_params(record: InstanceRecord) -> Params:
    return {
        "instance_key": record.instance_key,
        "definition_key": record.definition_key,
        "process_id": record.process_id,
        "version": record.version,
        "status": record.status,
        "business_key": record.business_key,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "revision": record.revision,
        "parent_instance_key": record.parent_instance_key,
        "incident_count": record.incident_count,
        "state": record.state,
        "suspended": record.suspended,
    }


def instance_record(row: Any, *, with_state: bool = True) -> InstanceRecord:
    return InstanceRecord(
        instance_key=row.instance_key,
        definition_key=row.definition_key,
        process_id=row.process_id,
        version=row.version,
        status=row.status,
        business_key=row.business_key,
        started_at=row.started_at,
        ended_at=row.ended_at,
        state=row.state if with_state else {},
        revision=row.revision,
        parent_instance_key=row.parent_instance_key,
        incident_count=row.incident_count,
        suspended=bool(row.suspended),
    )


def history_params(chunk: HistoryChunk) -> Params:
    """The row of a history chunk."""
    return {
        "instance_key": chunk.instance_key,
        "position": chunk.position,
        "event_count": len(chunk.events),
        "at": chunk.at,
        "events": chunk.events,
    }


def history_records(row: Any) -> list[HistoryRecord]:
    """The events of one history chunk row."""
    return HistoryChunk(row.instance_key, row.position, row.at, row.events).records()


def job_params(record: JobRecord) -> Params:
    return {
        "job_key": record.job_key,
        "instance_key": record.instance_key,
        "element_instance_key": record.element_instance_key,
        "element_id": record.element_id,
        "job_type": record.job_type,
        "retries": record.retries,
        "state": record.state,
        "due_at": record.due_at,
        "worker": record.worker,
        "lease_until": record.lease_until,
        "available_at": job_available_at(record),
        "headers": record.headers,
        "error_message": record.error_message,
        "created_at": record.created_at,
        "error_details": record.error_details,
        "priority": record.priority,
        "suspended": record.suspended,
    }


def job_record(row: Any) -> JobRecord:
    return JobRecord(
        job_key=row.job_key,
        instance_key=row.instance_key,
        element_instance_key=row.element_instance_key,
        element_id=row.element_id,
        job_type=row.job_type,
        retries=row.retries,
        due_at=row.due_at,
        state=row.state,
        worker=row.worker,
        lease_until=row.lease_until,
        headers=row.headers,
        error_message=row.error_message,
        created_at=row.created_at,
        error_details=row.error_details,
        priority=row.priority,
        suspended=bool(row.suspended),
    )


def user_task_params(record: UserTaskRecord) -> Params:
    return {
        "user_task_key": record.user_task_key,
        "instance_key": record.instance_key,
        "element_instance_key": record.element_instance_key,
        "element_id": record.element_id,
        "name": record.name,
        "state": record.state,
        "assignee": record.assignee,
        "candidate_groups": dump_json(list(record.candidate_groups)),
        "candidate_users": dump_json(list(record.candidate_users)),
        "form_key": record.form_key,
        "due_at": record.due_at,
        "follow_up_at": record.follow_up_at,
        "priority": record.priority,
        "created_at": record.created_at,
        "completed_at": record.completed_at,
        "completed_by": record.completed_by,
        "process_id": record.process_id,
        "definition_key": record.definition_key,
        "process_version": record.process_version,
        "business_key": record.business_key,
        "form_id": record.form_id,
        "linked_form_key": record.linked_form_key,
        "external_form_reference": record.external_form_reference,
        "owner": record.owner,
        "delegation_state": record.delegation_state,
        "updated_at": record.updated_at,
    }


def user_task_record(row: Any) -> UserTaskRecord:
    return UserTaskRecord(
        user_task_key=row.user_task_key,
        instance_key=row.instance_key,
        element_instance_key=row.element_instance_key,
        element_id=row.element_id,
        name=row.name,
        state=row.state,
        created_at=row.created_at,
        assignee=row.assignee,
        candidate_groups=tuple(load_json(row.candidate_groups)),
        candidate_users=tuple(load_json(row.candidate_users)),
        form_key=row.form_key,
        due_at=row.due_at,
        follow_up_at=row.follow_up_at,
        priority=row.priority,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
        process_id=row.process_id,
        definition_key=row.definition_key,
        process_version=row.process_version,
        business_key=row.business_key,
        form_id=row.form_id,
        linked_form_key=row.linked_form_key,
        external_form_reference=row.external_form_reference,
        owner=row.owner,
        delegation_state=row.delegation_state,
        updated_at=row.updated_at,
    )


def form_params(record: FormRecord) -> Params:
    return {
        "form_key": record.form_key,
        "form_id": record.form_id,
        "version": record.version,
        "resource_name": record.resource_name,
        "schema": dump_json(record.schema),
        "checksum": record.checksum,
        "deployed_at": record.deployed_at,
        "version_tag": record.version_tag,
    }


def form_record(row: Any) -> FormRecord:
    return FormRecord(
        form_key=row.form_key,
        form_id=row.form_id,
        version=row.version,
        resource_name=row.resource_name,
        schema=load_json(row.schema),
        deployed_at=row.deployed_at,
        checksum=row.checksum,
        version_tag=row.version_tag,
    )


def incident_params(record: IncidentRecord) -> Params:
    return {
        "incident_key": record.incident_key,
        "instance_key": record.instance_key,
        "element_instance_key": record.element_instance_key,
        "element_id": record.element_id,
        "error_type": record.error_type,
        "message": record.message,
        "details": record.details,
        "state": record.state,
        "job_key": record.job_key,
        "created_at": record.created_at,
        "resolved_at": record.resolved_at,
    }


def incident_record(row: Any) -> IncidentRecord:
    return IncidentRecord(
        incident_key=row.incident_key,
        instance_key=row.instance_key,
        element_instance_key=row.element_instance_key,
        element_id=row.element_id,
        error_type=row.error_type,
        message=row.message,
        created_at=row.created_at,
        state=row.state,
        job_key=row.job_key,
        details=row.details,
        resolved_at=row.resolved_at,
    )


def timer_params(record: TimerRecord) -> Params:
    return {
        "timer_key": record.timer_key,
        "definition_key": record.definition_key,
        "instance_key": record.instance_key,
        "element_instance_key": record.element_instance_key,
        "element_id": record.element_id,
        "due_at": record.due_at,
        "repetitions": record.repetitions,
        "state": record.state,
        "lease_until": record.lease_until,
        "available_at": timer_available_at(record),
    }


def timer_record(row: Any, *, claimed_until: datetime | None = None) -> TimerRecord:
    """The timer of ``row``; with ``claimed_until``, as claimed until then (the row is being
    claimed by the caller, and building the record once is cheaper than a ``replace``)."""
    return TimerRecord(
        timer_key=row.timer_key,
        definition_key=row.definition_key,
        element_id=row.element_id,
        due_at=row.due_at,
        instance_key=row.instance_key,
        element_instance_key=row.element_instance_key,
        repetitions=row.repetitions,
        state=row.state if claimed_until is None else "claimed",
        lease_until=row.lease_until if claimed_until is None else claimed_until,
    )


def subscription_params(record: SubscriptionRecord) -> Params:
    return {
        "subscription_key": record.subscription_key,
        "kind": record.kind,
        "name": record.name,
        "correlation_key": record.correlation_key,
        "definition_key": record.definition_key,
        "element_id": record.element_id,
        "instance_key": record.instance_key,
        "element_instance_key": record.element_instance_key,
        "interrupting": record.interrupting,
    }


def subscription_record(row: Any) -> SubscriptionRecord:
    return SubscriptionRecord(
        subscription_key=row.subscription_key,
        kind=row.kind,
        name=row.name,
        definition_key=row.definition_key,
        element_id=row.element_id,
        correlation_key=row.correlation_key,
        instance_key=row.instance_key,
        element_instance_key=row.element_instance_key,
        interrupting=bool(row.interrupting),
    )


def message_params(record: MessageRecord) -> Params:
    return {
        "message_key": record.message_key,
        "name": record.name,
        "correlation_key": record.correlation_key,
        "message_id": record.message_id,
        "published_at": record.published_at,
        "expires_at": record.expires_at,
        "variables": record.variables,
    }


def message_record(row: Any) -> MessageRecord:
    return MessageRecord(
        message_key=row.message_key,
        name=row.name,
        published_at=row.published_at,
        expires_at=row.expires_at,
        correlation_key=row.correlation_key,
        variables=row.variables,
        message_id=row.message_id,
    )
