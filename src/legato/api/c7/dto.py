"""Camunda 7 response shapes shared by several resources, with every key pycamunda's strict
loaders require (CAMUNDA.md §2.8) and the UUID ids camunda-client validates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from legato.api.c7 import ids
from legato.api.c7.dates import format_date
from legato.api.c7.ids import Kind
from legato.errors import ModelError
from legato.runtime.definitions import DECISION_PREFIX
from legato.runtime.engine import Engine
from legato.runtime.types import InstanceInfo
from legato.safexml import parse_xml
from legato.store.records import DefinitionRecord, IncidentRecord


def base_url(request: Request) -> str:
    """Where this surface answers, for ``links``: ``http://host:port/engine-rest``."""
    path = request.url.path
    root = path[: path.find("/engine-rest")] if "/engine-rest" in path else ""
    return f"{str(request.base_url).rstrip('/')}{root}/engine-rest"


def process_definitions(engine: Engine) -> list[DefinitionRecord]:
    """Every deployed process version (decisions left out), oldest first."""
    with engine.store.transaction() as tx:
        records = tx.list_definitions()
    return [r for r in records if not r.process_id.startswith(DECISION_PREFIX)]


def definition(engine: Engine, definition_key: int) -> DefinitionRecord | None:
    """One deployed process version by key."""
    with engine.store.transaction() as tx:
        record = tx.get_definition(definition_key)
    if record is None or record.process_id.startswith(DECISION_PREFIX):
        return None
    return record


def find_definition(engine: Engine, process_id: str, version: int) -> DefinitionRecord | None:
    """One deployed process version by process id and version."""
    with engine.store.transaction() as tx:
        return tx.find_definition(process_id, version)


class DefinitionIds:
    """Process definition ids of (process id, version) pairs, each looked up once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ids: dict[tuple[str, int], str | None] = {}

    def of(self, process_id: str, version: int) -> str | None:
        """The definition id of a version (None if it is no longer deployed)."""
        pair = (process_id, version)
        if pair not in self._ids:
            record = find_definition(self._engine, process_id, version)
            self._ids[pair] = (
                ids.definition_id(process_id, version, record.definition_key) if record else None
            )
        return self._ids[pair]


_CAMUNDA_VERSION_TAG = "{http://camunda.org/schema/1.0/bpmn}versionTag"
_version_tags: dict[tuple[str, str], str | None] = {}
"""Version tags by (source checksum, process id): a definition key alone may name other
content in another database of the same process."""


def version_tag(record: DefinitionRecord) -> str | None:
    """The version's tag as stored (its ``camunda:versionTag`` or ``zeebe:versionTag``, or
    one set later); for a version stored before tags were, the ``camunda:versionTag`` read
    from its XML once (Camunda clients filter and start by it)."""
    if record.version_tag is not None:
        return record.version_tag
    cache_key = (record.checksum, record.process_id)
    if cache_key not in _version_tags:
        tag = None
        try:
            root = parse_xml(record.source.encode("utf-8"), record.resource_name)
        except ModelError:
            root = None
        for element in root.iter() if root is not None else ():
            if (
                isinstance(element.tag, str)
                and element.tag.endswith("}process")
                and element.get("id") == record.process_id
            ):
                tag = element.get(_CAMUNDA_VERSION_TAG)
                break
        _version_tags[cache_key] = tag
    return _version_tags[cache_key]


def definition_dto(record: DefinitionRecord) -> dict[str, Any]:
    """A process version as ``ProcessDefinitionDto``."""
    return {
        "id": ids.definition_id(record.process_id, record.version, record.definition_key),
        "key": record.process_id,
        "category": "http://bpmn.io/schema/bpmn",
        "description": None,
        "name": record.name,
        "version": record.version,
        "resource": record.resource_name,
        "deploymentId": ids.to_uuid(Kind.DEPLOYMENT, record.definition_key),
        "diagram": None,
        "suspended": False,
        "tenantId": None,
        "versionTag": version_tag(record),
        "historyTimeToLive": None,
        "startableInTasklist": True,
    }


def instance_dto(
    request: Request, info: InstanceInfo, definitions: DefinitionIds
) -> dict[str, Any]:
    """An instance as ``ProcessInstanceDto`` (with ``links``, which pycamunda requires)."""
    instance_id = ids.to_uuid(Kind.INSTANCE, info.key)
    return {
        "links": [
            {
                "method": "GET",
                "href": f"{base_url(request)}/process-instance/{instance_id}",
                "rel": "self",
            }
        ],
        "id": instance_id,
        "definitionId": definitions.of(info.process_id, info.version),
        "definitionKey": info.process_id,
        "businessKey": info.business_key,
        "caseInstanceId": None,
        "ended": not info.is_active,
        "suspended": info.suspended,
        "tenantId": None,
    }


def incident_type(record: IncidentRecord) -> str:
    """Camunda's incident type: ``failedExternalTask`` for a job, ``failedJob`` otherwise
    (pycamunda parses the type into an enum of exactly these two)."""
    return "failedExternalTask" if record.job_key is not None else "failedJob"


def incident_dto(record: IncidentRecord, definition_id: str | None) -> dict[str, Any]:
    """An incident as ``IncidentDto``."""
    incident_id = ids.to_uuid(Kind.INCIDENT, record.incident_key)
    return {
        "id": incident_id,
        "processDefinitionId": definition_id,
        "processInstanceId": ids.to_uuid(Kind.INSTANCE, record.instance_key),
        "executionId": ids.to_uuid(Kind.EXECUTION, record.element_instance_key),
        "incidentTimestamp": format_date(record.created_at),
        "incidentType": incident_type(record),
        "activityId": record.element_id,
        "failedActivityId": record.element_id,
        "causeIncidentId": incident_id,
        "rootCauseIncidentId": incident_id,
        "configuration": (
            ids.to_uuid(Kind.EXTERNAL_TASK, record.job_key) if record.job_key is not None else None
        ),
        "incidentMessage": record.message,
        "tenantId": None,
        "jobDefinitionId": None,
        "annotation": None,
    }


def instance_definition_ids(engine: Engine, instance_keys: Iterable[int]) -> dict[int, str]:
    """The process definition id of each of these instances."""
    keys = sorted(set(instance_keys))
    if not keys:
        return {}
    with engine.store.transaction() as tx:
        records = tx.get_instances(keys)
    return {
        r.instance_key: ids.definition_id(r.process_id, r.version, r.definition_key)
        for r in records
    }
