"""The operator's side: incidents (search, resolution), variables and element instances
(read from the instances' state and history), process definitions and their XML."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field

from legato.api.deps import EngineDep, ViewerDep, require
from legato.api.problems import NotFound
from legato.api.v2.common import (
    DEFAULT_TENANT,
    FilterValue,
    Key,
    KeyText,
    Out,
    SearchRequest,
    SearchResult,
    Strict,
    Variables,
    all_match,
    exact,
    iso,
    key_text,
    note_variables,
    paginate,
    parse_key,
    plain,
)
from legato.errors import NotFoundError
from legato.runtime.engine import Engine
from legato.security import (
    DEFINITIONS_READ,
    INCIDENTS_READ,
    INSTANCES_MODIFY,
    INSTANCES_READ,
    Principal,
)
from legato.security.sensitive import Viewer
from legato.store.records import DefinitionRecord, IncidentRecord, InstanceRecord

router = APIRouter()

SCAN_LIMIT = 200
"""The most instances a variable or element instance search without a ``processInstanceKey``
filter reads (the newest; each costs a read of its state or history). The page then says
``hasMoreTotalItems`` when there were more."""

_ERROR_TYPES = {
    "job_failed": "JOB_NO_RETRIES",
    "job": "JOB_NO_RETRIES",
    "unhandled_error": "UNHANDLED_ERROR_EVENT",
    "condition": "CONDITION_ERROR",
    "expression": "EXTRACT_VALUE_ERROR",
    "variable": "IO_MAPPING_ERROR",
    "multi-instance": "EXTRACT_VALUE_ERROR",
    "call": "CALLED_ELEMENT_ERROR",
    "decision": "DECISION_EVALUATION_ERROR",
}
"""Legato's incident kinds as Camunda 8's error types (the rest are ``UNKNOWN``)."""


def _instance_key(wanted: FilterValue | None) -> int | None:
    key = exact(wanted)
    if isinstance(key, (str, int)) and not isinstance(key, bool):
        text = str(key)
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def _instances(engine: Engine, wanted: FilterValue | None) -> tuple[list[InstanceRecord], bool]:
    """The instances a search is about: the one its filter names, else the newest
    :data:`SCAN_LIMIT`; and whether there were more."""
    key = _instance_key(wanted)
    with engine.store.transaction() as tx:
        if key is not None:
            one = tx.get_instance(key)
            return ([one] if one is not None else []), False
        listed = tx.list_instances(limit=SCAN_LIMIT + 1)
        chosen = tx.get_instances([r.instance_key for r in listed[:SCAN_LIMIT]])
        return chosen, len(listed) > SCAN_LIMIT


# -- incidents --------------------------------------------------------------------------------


class IncidentResult(Out):
    incidentKey: KeyText
    processDefinitionId: str
    processDefinitionKey: KeyText
    processInstanceKey: KeyText
    rootProcessInstanceKey: KeyText | None
    elementId: str
    elementInstanceKey: KeyText
    errorType: str
    """Camunda 8's kind of incident (``JOB_NO_RETRIES``, ``UNHANDLED_ERROR_EVENT``, …)."""
    errorMessage: str
    creationTime: str | None
    state: str
    """ACTIVE or RESOLVED."""
    jobKey: KeyText | None
    tenantId: str = DEFAULT_TENANT


class IncidentFilter(Strict):
    incidentKey: FilterValue | None = None
    processInstanceKey: FilterValue | None = None
    processDefinitionId: FilterValue | None = None
    processDefinitionKey: FilterValue | None = None
    elementId: FilterValue | None = None
    errorType: FilterValue | None = None
    errorMessage: FilterValue | None = None
    state: FilterValue | None = None
    jobKey: FilterValue | None = None
    creationTime: FilterValue | None = None
    tenantId: FilterValue | None = None


class IncidentSearch(SearchRequest):
    filter: IncidentFilter = Field(default_factory=lambda: IncidentFilter())


def _incident(record: IncidentRecord, instance: InstanceRecord | None) -> IncidentResult:
    return IncidentResult(
        incidentKey=str(record.incident_key),
        processDefinitionId=instance.process_id if instance else "",
        processDefinitionKey=str(instance.definition_key if instance else 0),
        processInstanceKey=str(record.instance_key),
        rootProcessInstanceKey=str(record.instance_key)
        if instance is None or instance.parent_instance_key is None
        else None,
        elementId=record.element_id,
        elementInstanceKey=str(record.element_instance_key),
        errorType=_ERROR_TYPES.get(record.error_type, "UNKNOWN"),
        errorMessage=record.message,
        creationTime=iso(record.created_at),
        state="ACTIVE" if record.state == "open" else "RESOLVED",
        jobKey=key_text(record.job_key),
    )


@router.post(
    "/incidents/search",
    response_model=SearchResult[IncidentResult],
    dependencies=[Depends(require(INCIDENTS_READ))],
    tags=["incidents"],
)
def search_incidents(
    body: IncidentSearch, engine: EngineDep, viewer: ViewerDep
) -> SearchResult[IncidentResult]:
    """Incidents matching the filter."""
    wanted = body.filter
    state = exact(wanted.state)
    legato_state = {"ACTIVE": "open", "RESOLVED": "resolved"}.get(str(state)) if state else None
    records = engine.incidents(
        state=legato_state, instance_key=_instance_key(wanted.processInstanceKey), viewer=viewer
    )
    with engine.store.transaction() as tx:
        instances = {
            r.instance_key: r for r in tx.get_instances(list({i.instance_key for i in records}))
        }
    results = [_incident(r, instances.get(r.instance_key)) for r in records]
    chosen = [
        r
        for r in results
        if all_match(
            [
                (r.incidentKey, wanted.incidentKey),
                (r.processInstanceKey, wanted.processInstanceKey),
                (r.processDefinitionId, wanted.processDefinitionId),
                (r.processDefinitionKey, wanted.processDefinitionKey),
                (r.elementId, wanted.elementId),
                (r.errorType, wanted.errorType),
                (r.errorMessage, wanted.errorMessage),
                (r.state, wanted.state),
                (r.jobKey, wanted.jobKey),
                (r.creationTime, wanted.creationTime),
                (r.tenantId, wanted.tenantId),
            ]
        )
    ]
    items, page = paginate(
        chosen,
        body,
        {
            "incidentKey": lambda r: int(r.incidentKey),
            "processInstanceKey": lambda r: int(r.processInstanceKey),
            "processDefinitionId": lambda r: r.processDefinitionId,
            "processDefinitionKey": lambda r: int(r.processDefinitionKey),
            "elementId": lambda r: r.elementId,
            "errorType": lambda r: r.errorType,
            "errorMessage": lambda r: r.errorMessage,
            "creationTime": lambda r: r.creationTime,
            "state": lambda r: r.state,
            "jobKey": lambda r: r.jobKey,
        },
    )
    return SearchResult[IncidentResult](items=items, page=page)


@router.get(
    "/incidents/{incidentKey}",
    response_model=IncidentResult,
    dependencies=[Depends(require(INCIDENTS_READ))],
    tags=["incidents"],
)
def get_incident(
    incidentKey: Annotated[str, Path()], engine: EngineDep, viewer: ViewerDep
) -> IncidentResult:
    """One incident."""
    key = parse_key(incidentKey, "incidentKey")
    with engine.store.transaction() as tx:
        record = tx.get_incident(key)
        if record is None:
            raise NotFound(f"no incident with key {key}")
        instance = tx.get_instance(record.instance_key)
    return _incident(engine.shown_incidents([record], viewer)[0], instance)


Operator = Annotated[Principal, Depends(require(INSTANCES_MODIFY))]


@router.post(
    "/incidents/{incidentKey}/resolution",
    status_code=204,
    response_class=Response,
    tags=["incidents"],
)
def resolve_incident(
    incidentKey: Annotated[str, Path()], engine: EngineDep, principal: Operator
) -> Response:
    """Resolve an incident and try again (a job incident's job gets one more attempt)."""
    engine.retry(parse_key(incidentKey, "incidentKey"), by=principal.name)
    return Response(status_code=204)


class SetVariables(Strict):
    variables: Variables = Field(min_length=1)
    local: bool = False
    """Legato sets them in the process instance's root scope either way."""
    operationReference: Key | str | None = None


@router.put(
    "/element-instances/{elementInstanceKey}/variables",
    status_code=204,
    response_class=Response,
    tags=["element instances"],
)
def set_element_instance_variables(
    request: Request,
    elementInstanceKey: Annotated[str, Path()],
    body: SetVariables,
    engine: EngineDep,
    principal: Operator,
) -> Response:
    """Set variables of a process instance: ``elementInstanceKey`` is its key (the element
    instance of its root scope). The history records the old and new values and who."""
    key = parse_key(elementInstanceKey, "elementInstanceKey")
    try:
        engine.instance(key)
    except NotFoundError:
        raise NotFound(
            f"no process instance with key {key} (give a process instance's key: Legato sets "
            "variables here in an instance's root scope)"
        ) from None
    note_variables(request, engine, key, body.variables or {})
    engine.set_variables(key, body.variables or {}, by=principal.name)
    return Response(status_code=204)


# -- variables --------------------------------------------------------------------------------


class VariableResult(Out):
    variableKey: KeyText
    """Stable for a variable of a scope (derived from the scope key and the name)."""
    name: str
    value: str
    """The value as JSON text."""
    isTruncated: bool = False
    scopeKey: KeyText
    processInstanceKey: KeyText
    rootProcessInstanceKey: KeyText | None
    tenantId: str = DEFAULT_TENANT


class VariableFilter(Strict):
    processInstanceKey: FilterValue | None = None
    scopeKey: FilterValue | None = None
    name: FilterValue | None = None
    value: FilterValue | None = None
    variableKey: FilterValue | None = None
    isTruncated: FilterValue | None = None
    tenantId: FilterValue | None = None


class VariableSearch(SearchRequest):
    filter: VariableFilter = Field(default_factory=lambda: VariableFilter())


def variable_key(scope_key: int, name: str) -> int:
    """A variable's key: a positive int64 that the scope and the name decide."""
    digest = hashlib.sha256(f"{scope_key}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def variables_of(
    engine: Engine, records: list[InstanceRecord], viewer: Viewer
) -> list[VariableResult]:
    """Every variable of these instances, scope by scope, as ``viewer`` may see them."""
    found: list[VariableResult] = []
    for record in records:
        state = engine.state(record.instance_key, viewer=viewer)
        root = str(record.instance_key) if record.parent_instance_key is None else None
        for scope_key, variables in sorted(state.variables.items()):
            for name, value in sorted(variables.items()):
                found.append(
                    VariableResult(
                        variableKey=str(variable_key(scope_key, name)),
                        name=name,
                        value=json.dumps(plain(value), ensure_ascii=False),
                        scopeKey=str(scope_key),
                        processInstanceKey=str(record.instance_key),
                        rootProcessInstanceKey=root,
                    )
                )
    return found


def search_variables_in(
    variables: list[VariableResult], body: VariableSearch, *, capped: bool = False
) -> SearchResult[VariableResult]:
    """A page of ``variables`` as the search asks."""
    wanted = body.filter
    chosen = [
        v
        for v in variables
        if all_match(
            [
                (v.processInstanceKey, wanted.processInstanceKey),
                (v.scopeKey, wanted.scopeKey),
                (v.name, wanted.name),
                (v.value, wanted.value),
                (v.variableKey, wanted.variableKey),
                (v.isTruncated, wanted.isTruncated),
                (v.tenantId, wanted.tenantId),
            ]
        )
    ]
    items, page = paginate(
        chosen,
        body,
        capped=capped,
        sort_keys={
            "name": lambda v: v.name,
            "value": lambda v: v.value,
            "variableKey": lambda v: int(v.variableKey),
            "scopeKey": lambda v: int(v.scopeKey),
            "processInstanceKey": lambda v: int(v.processInstanceKey),
            "tenantId": lambda v: v.tenantId,
        },
    )
    return SearchResult[VariableResult](items=items, page=page)


@router.post(
    "/variables/search",
    response_model=SearchResult[VariableResult],
    dependencies=[Depends(require(INSTANCES_READ))],
    tags=["variables"],
)
def search_variables(
    body: VariableSearch, engine: EngineDep, viewer: ViewerDep
) -> SearchResult[VariableResult]:
    """Variables of instances as they are now, values as JSON text (without a
    ``processInstanceKey`` filter, of the newest :data:`SCAN_LIMIT` instances)."""
    records, capped = _instances(engine, body.filter.processInstanceKey)
    return search_variables_in(variables_of(engine, records, viewer), body, capped=capped)


# -- element instances ------------------------------------------------------------------------


class ElementInstanceResult(Out):
    elementInstanceKey: KeyText
    elementId: str
    elementName: str | None
    type: str
    """The element's kind as Camunda 8 spells it (``SERVICE_TASK``, ``USER_TASK``, …)."""
    state: str
    """ACTIVE, COMPLETED or TERMINATED."""
    startDate: str | None
    endDate: str | None
    hasIncident: bool
    incidentKey: KeyText | None
    processInstanceKey: KeyText
    rootProcessInstanceKey: KeyText | None
    processDefinitionId: str
    processDefinitionKey: KeyText
    tenantId: str = DEFAULT_TENANT


class ElementInstanceFilter(Strict):
    processInstanceKey: FilterValue | None = None
    elementInstanceKey: FilterValue | None = None
    elementId: FilterValue | None = None
    elementName: FilterValue | None = None
    type: FilterValue | None = None
    state: FilterValue | None = None
    hasIncident: FilterValue | None = None
    processDefinitionId: FilterValue | None = None
    processDefinitionKey: FilterValue | None = None
    tenantId: FilterValue | None = None


class ElementInstanceSearch(SearchRequest):
    filter: ElementInstanceFilter = Field(default_factory=lambda: ElementInstanceFilter())


def _kind(element_kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", element_kind).upper()


def _elements(engine: Engine, record: InstanceRecord) -> list[ElementInstanceResult]:
    root = str(record.instance_key) if record.parent_instance_key is None else None
    found: dict[int, ElementInstanceResult] = {}
    incidents: dict[int, int] = {}
    for entry in engine.history(record.instance_key):
        details = entry.details
        if entry.event_type == "ElementActivated":
            key = int(details["key"])
            found[key] = ElementInstanceResult(
                elementInstanceKey=str(key),
                elementId=str(details["element_id"]),
                elementName=None,
                type=_kind(str(details.get("element_kind", "unknown"))),
                state="ACTIVE",
                startDate=iso(entry.at),
                endDate=None,
                hasIncident=False,
                incidentKey=None,
                processInstanceKey=str(record.instance_key),
                rootProcessInstanceKey=root,
                processDefinitionId=record.process_id,
                processDefinitionKey=str(record.definition_key),
            )
        elif entry.event_type in ("ElementCompleted", "ElementTerminated"):
            ended = found.get(int(details["key"]))
            if ended is not None:
                ended.state = (
                    "COMPLETED" if entry.event_type == "ElementCompleted" else "TERMINATED"
                )
                ended.endDate = iso(entry.at)
        elif entry.event_type == "IncidentRaised":
            incidents[int(details["element_instance_key"])] = int(details["incident_key"])
        elif entry.event_type == "IncidentResolved":
            incidents = {k: v for k, v in incidents.items() if v != details.get("incident_key")}
    for element_key, incident_key in incidents.items():
        element = found.get(element_key)
        if element is not None and element.state == "ACTIVE":
            element.hasIncident = True
            element.incidentKey = str(incident_key)
    return list(found.values())


@router.post(
    "/element-instances/search",
    response_model=SearchResult[ElementInstanceResult],
    dependencies=[Depends(require(INSTANCES_READ))],
    tags=["element instances"],
)
def search_element_instances(
    body: ElementInstanceSearch, engine: EngineDep
) -> SearchResult[ElementInstanceResult]:
    """The element instances of instances, read from their history (without a
    ``processInstanceKey`` filter, of the newest :data:`SCAN_LIMIT` instances)."""
    wanted = body.filter
    records, capped = _instances(engine, wanted.processInstanceKey)
    elements = [e for r in records for e in _elements(engine, r)]
    chosen = [
        e
        for e in elements
        if all_match(
            [
                (e.processInstanceKey, wanted.processInstanceKey),
                (e.elementInstanceKey, wanted.elementInstanceKey),
                (e.elementId, wanted.elementId),
                (e.elementName, wanted.elementName),
                (e.type, wanted.type),
                (e.state, wanted.state),
                (e.hasIncident, wanted.hasIncident),
                (e.processDefinitionId, wanted.processDefinitionId),
                (e.processDefinitionKey, wanted.processDefinitionKey),
                (e.tenantId, wanted.tenantId),
            ]
        )
    ]
    items, page = paginate(
        chosen,
        body,
        capped=capped,
        sort_keys={
            "elementInstanceKey": lambda e: int(e.elementInstanceKey),
            "processInstanceKey": lambda e: int(e.processInstanceKey),
            "elementId": lambda e: e.elementId,
            "type": lambda e: e.type,
            "state": lambda e: e.state,
            "startDate": lambda e: e.startDate,
            "endDate": lambda e: e.endDate,
            "processDefinitionId": lambda e: e.processDefinitionId,
        },
    )
    return SearchResult[ElementInstanceResult](items=items, page=page)


# -- process definitions ----------------------------------------------------------------------


class ProcessDefinitionResult(Out):
    processDefinitionKey: KeyText
    processDefinitionId: str
    name: str | None
    resourceName: str
    version: int
    versionTag: str | None = None
    tenantId: str = DEFAULT_TENANT
    hasStartForm: bool = False
    state: str = "ACTIVE"


class ProcessDefinitionFilter(Strict):
    processDefinitionKey: FilterValue | None = None
    processDefinitionId: FilterValue | None = None
    name: FilterValue | None = None
    resourceName: FilterValue | None = None
    version: FilterValue | None = None
    isLatestVersion: bool | None = None
    tenantId: FilterValue | None = None


class ProcessDefinitionSearch(SearchRequest):
    filter: ProcessDefinitionFilter = Field(default_factory=lambda: ProcessDefinitionFilter())


def _definitions(engine: Engine) -> list[DefinitionRecord]:
    with engine.store.transaction() as tx:
        return [d for d in tx.list_definitions() if not d.process_id.startswith("dmn:")]


def _definition(record: DefinitionRecord) -> ProcessDefinitionResult:
    return ProcessDefinitionResult(
        processDefinitionKey=str(record.definition_key),
        processDefinitionId=record.process_id,
        name=record.name,
        resourceName=record.resource_name,
        version=record.version,
    )


@router.post(
    "/process-definitions/search",
    response_model=SearchResult[ProcessDefinitionResult],
    dependencies=[Depends(require(DEFINITIONS_READ))],
    tags=["process definitions"],
)
def search_process_definitions(
    body: ProcessDefinitionSearch, engine: EngineDep
) -> SearchResult[ProcessDefinitionResult]:
    """Deployed process versions."""
    wanted = body.filter
    records = _definitions(engine)
    latest: dict[str, int] = {}
    for record in records:
        latest[record.process_id] = max(latest.get(record.process_id, 0), record.version)
    if wanted.isLatestVersion:
        records = [r for r in records if r.version == latest[r.process_id]]
    results = [_definition(r) for r in records]
    chosen = [
        d
        for d in results
        if all_match(
            [
                (d.processDefinitionKey, wanted.processDefinitionKey),
                (d.processDefinitionId, wanted.processDefinitionId),
                (d.name, wanted.name),
                (d.resourceName, wanted.resourceName),
                (d.version, wanted.version),
                (d.tenantId, wanted.tenantId),
            ]
        )
    ]
    items, page = paginate(
        chosen,
        body,
        {
            "processDefinitionKey": lambda d: int(d.processDefinitionKey),
            "processDefinitionId": lambda d: d.processDefinitionId,
            "name": lambda d: d.name,
            "resourceName": lambda d: d.resourceName,
            "version": lambda d: d.version,
            "tenantId": lambda d: d.tenantId,
        },
    )
    return SearchResult[ProcessDefinitionResult](items=items, page=page)


def _one_definition(engine: Engine, text: str) -> DefinitionRecord:
    key = parse_key(text, "processDefinitionKey")
    with engine.store.transaction() as tx:
        record = tx.get_definition(key)
    if record is None or record.process_id.startswith("dmn:"):
        raise NotFound(f"no process definition with key {key}")
    return record


@router.get(
    "/process-definitions/{processDefinitionKey}",
    response_model=ProcessDefinitionResult,
    dependencies=[Depends(require(DEFINITIONS_READ))],
    tags=["process definitions"],
)
def get_process_definition(
    processDefinitionKey: Annotated[str, Path()], engine: EngineDep
) -> ProcessDefinitionResult:
    """One process version."""
    return _definition(_one_definition(engine, processDefinitionKey))


@router.get(
    "/process-definitions/{processDefinitionKey}/xml",
    response_class=Response,
    responses={200: {"content": {"text/xml": {"schema": {"type": "string"}}}}},
    dependencies=[Depends(require(DEFINITIONS_READ))],
    tags=["process definitions"],
)
def get_process_definition_xml(
    processDefinitionKey: Annotated[str, Path()], engine: EngineDep
) -> Response:
    """The BPMN XML the version was deployed from."""
    record = _one_definition(engine, processDefinitionKey)
    return Response(record.source, media_type="text/xml")
