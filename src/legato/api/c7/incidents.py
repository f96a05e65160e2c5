"""``/incident``: the open incidents, as Camunda's ``IncidentDto``.

An incident on a job is ``failedExternalTask`` (its ``configuration`` is the external task
id, as in Camunda); every other one is ``failedJob`` (pycamunda reads the type into an enum
of exactly these two). Fix one as Camunda does: ``PUT /external-task/{id}/retries``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from legato.api.c7 import ids
from legato.api.c7.dto import incident_dto, incident_type, instance_definition_ids
from legato.api.c7.errors import bad_request, not_found
from legato.api.c7.ids import Kind
from legato.api.c7.routing import C7Route, FirstResult, MaxResults, ok
from legato.api.deps import EngineDep, ViewerDep, require
from legato.runtime.engine import Engine
from legato.security import INCIDENTS_READ, INSTANCES_MODIFY, Principal
from legato.store.records import IncidentRecord

router = APIRouter(prefix="/incident", route_class=C7Route, tags=["c7: incidents"])

Reader = Annotated[Principal, Depends(require(INCIDENTS_READ))]
Modifier = Annotated[Principal, Depends(require(INSTANCES_MODIFY))]


@router.get("")
def list_incidents(
    engine: EngineDep,
    principal: Reader,
    viewer: ViewerDep,
    incidentId: str | None = None,
    incidentType: str | None = None,
    processInstanceId: str | None = None,
    processDefinitionId: str | None = None,
    activityId: str | None = None,
    executionId: str | None = None,
    configuration: str | None = None,
    incidentMessage: str | None = None,
    firstResult: FirstResult = 0,
    maxResults: MaxResults = None,
) -> Response:
    """Open incidents, oldest first, filtered and paged."""
    instance_key = None
    if processInstanceId is not None:
        instance_key = ids.key_of(Kind.INSTANCE, processInstanceId)
        if instance_key is None:
            return ok([])
    records = engine.incidents(state="open", instance_key=instance_key, viewer=viewer)
    if incidentId is not None:
        records = [r for r in records if ids.to_uuid(Kind.INCIDENT, r.incident_key) == incidentId]
    if incidentType is not None:
        records = [r for r in records if incident_type(r) == incidentType]
    if activityId is not None:
        records = [r for r in records if r.element_id == activityId]
    if executionId is not None:
        records = [
            r for r in records if ids.to_uuid(Kind.EXECUTION, r.element_instance_key) == executionId
        ]
    if incidentMessage is not None:
        records = [r for r in records if r.message == incidentMessage]
    if configuration is not None:
        records = [
            r
            for r in records
            if r.job_key is not None and ids.to_uuid(Kind.EXTERNAL_TASK, r.job_key) == configuration
        ]
    definitions = instance_definition_ids(engine, (r.instance_key for r in records))
    if processDefinitionId is not None:
        records = [r for r in records if definitions.get(r.instance_key) == processDefinitionId]
    end = None if maxResults is None else firstResult + maxResults
    return ok([incident_dto(r, definitions.get(r.instance_key)) for r in records[firstResult:end]])


@router.get("/count")
def count_incidents(engine: EngineDep, principal: Reader) -> Response:
    """How many incidents are open."""
    return ok({"count": len(engine.incidents(state="open"))})


def _incident(engine: Engine, incident_id: str) -> IncidentRecord:
    key = ids.key_of(Kind.INCIDENT, incident_id)
    record = None
    if key is not None:
        with engine.store.transaction() as tx:
            record = tx.get_incident(key)
    if record is None or record.state != "open":
        raise not_found(f"Incident with id {incident_id} does not exist")
    return record


@router.get("/{incident_id}")
def get_incident(
    incident_id: str, engine: EngineDep, principal: Reader, viewer: ViewerDep
) -> Response:
    """One open incident."""
    (record,) = engine.shown_incidents([_incident(engine, incident_id)], viewer)
    definitions = instance_definition_ids(engine, [record.instance_key])
    return ok(incident_dto(record, definitions.get(record.instance_key)))


@router.delete("/{incident_id}", status_code=204)
def resolve_incident(incident_id: str, engine: EngineDep, principal: Modifier) -> Response:
    """Camunda resolves only custom incidents here; a failed job's or external task's is
    fixed by setting its retries (400, as Camunda answers)."""
    record = _incident(engine, incident_id)
    raise bad_request(
        f"Cannot resolve an incident of type {incident_type(record)}",
        "BadUserRequestException",
    )
