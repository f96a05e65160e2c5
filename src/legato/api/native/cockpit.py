"""The cockpit's read routes under ``/legato/v1`` (the engine's :mod:`legato.runtime.cockpit`).

- ``GET /instances``: instances by process, version, state, business key, a root variable's
  value, start and end time, calling instance; newest first, paged by cursor, with a
  bounded count on request;
- ``GET /instances/{instanceKey}/detail``: the path taken, current tokens, calling and
  called instances, incidents with their details;
- ``GET /processes``: process versions with their active instances and open incidents;
- ``GET /processes/{processId}/statistics``: per element, active, completed, terminated and
  open incidents (one version, or all);
- ``GET /incident-groups`` and ``GET /incident-groups/{group}/incidents``: open incidents
  grouped by cause, and the incidents of a group;
- ``GET /decisions`` and ``GET /decisions/{decisionId}/evaluations``: deployed decision
  versions, and a decision's evaluations with the rules that matched.

Keys as decimal strings, times ISO 8601 with ``Z``; a cursor is opaque (``nextCursor`` of
one page is ``after`` of the next). Bad input is a 400 naming the parameter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from legato.api.deps import EngineDep, ViewerDep, require
from legato.api.problems import BadRequest, Forbidden
from legato.api.v2.common import KeyText, Out, iso, key_text, parse_key, plain
from legato.engine.values import decode
from legato.errors import InvalidCommandError
from legato.runtime.cockpit import InstanceCount
from legato.runtime.engine import Engine
from legato.runtime.types import InstanceInfo
from legato.security import DEFINITIONS_READ, INCIDENTS_READ, INSTANCES_READ
from legato.security.sensitive import Viewer
from legato.store.records import IncidentRecord

router = APIRouter(tags=["cockpit"])


class CountResult(Out):
    count: int
    capped: bool
    """True when counting stopped at the cap (there are more)."""
    label: str
    """``1,234`` or ``10,000+``."""


class InstanceResult(Out):
    instanceKey: KeyText
    processId: str
    version: int
    status: str
    businessKey: str | None
    startedAt: str | None
    endedAt: str | None
    parentInstanceKey: KeyText | None
    incidents: int
    """Open incidents."""
    activeElements: list[str]
    variables: dict[str, Any]
    """The root scope's variables."""
    versionReason: str | None = None
    """Why the instance got its version (``latest``, ``explicit version``, ``rollout: 10%
    split``, ``rollout rule``); on the instance detail, not in search results."""


class InstancePageResult(Out):
    items: list[InstanceResult]
    nextCursor: str | None
    count: CountResult | None


class PathResult(Out):
    completedElements: list[str]
    activeElements: list[str]
    takenFlows: list[str]
    visits: dict[str, int]


class IncidentResult(Out):
    incidentKey: KeyText
    instanceKey: KeyText
    elementInstanceKey: KeyText
    elementId: str
    errorType: str
    message: str
    details: str | None
    """A stack trace or further detail."""
    state: str
    jobKey: KeyText | None
    createdAt: str | None
    resolvedAt: str | None


class InstanceDetailResult(Out):
    instance: InstanceResult
    path: PathResult
    calling: InstanceResult | None
    called: list[InstanceResult]
    incidents: list[IncidentResult]


class ProcessVersionResult(Out):
    processId: str
    version: int
    definitionKey: KeyText
    name: str | None
    resourceName: str
    deployedAt: str | None
    activeInstances: int
    openIncidents: int
    versionTag: str | None = None
    suspended: bool = False
    """No new instance starts on this version."""


class ElementStatisticsResult(Out):
    elementId: str
    active: int
    completed: int
    terminated: int
    incidents: int


class IncidentGroupResult(Out):
    group: str
    """Opaque: names the group in ``/incident-groups/{group}/incidents``."""
    processId: str
    elementId: str
    errorType: str
    message: str
    """The message with numbers as ``<n>`` and ids as ``<id>``."""
    count: int
    oldestAt: str | None
    newestAt: str | None


class IncidentPageResult(Out):
    items: list[IncidentResult]
    nextCursor: str | None


class DecisionVersionResult(Out):
    decisionId: str
    version: int
    definitionKey: KeyText
    name: str | None
    resourceName: str
    deployedAt: str | None


class EvaluationResult(Out):
    instanceKey: KeyText
    position: int
    decisionId: str
    decisionKey: KeyText
    decisionVersion: int
    elementId: str
    elementInstanceKey: KeyText
    evaluatedAt: str | None
    matchedRules: list[str]
    result: Any


class EvaluationPageResult(Out):
    items: list[EvaluationResult]
    nextCursor: str | None


@contextmanager
def _bad_input() -> Iterator[None]:
    """The engine's refusal of a query argument (it names the argument) as a 400: these
    routes change nothing, so no state can be in the way."""
    try:
        yield
    except InvalidCommandError as exc:
        raise BadRequest(str(exc)) from None


def _instant(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: '{value}' is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: '{value}' has no offset (add Z or +hh:mm)")
    return moment


def _unprobed(
    engine: Engine, viewer: Viewer, process_id: str | None, wanted: tuple[str, Any] | None
) -> None:
    """Refuse a filter by the value of a sensitive variable to whoever may not see it (see
    :meth:`~legato.runtime.engine.Engine.refused_filter`)."""
    refused = engine.refused_filter(wanted, process_id=process_id, viewer=viewer)
    if refused is not None:
        raise Forbidden(f"variableName: {refused}")


def _variable(name: str | None, value: str | None) -> tuple[str, Any] | None:
    if name is None and value is None:
        return None
    if name is None or value is None:
        raise BadRequest("variableName and variableValue go together")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value  # plain text is a string value
    if not isinstance(parsed, str | int | float):
        raise BadRequest(f"variableValue: {value!r:.80} is not a string, number or boolean")
    return name, parsed


def _instance(engine: Engine, viewer: Viewer, info: InstanceInfo) -> InstanceResult:
    info = engine.masking.instance(viewer, info)
    return InstanceResult(
        instanceKey=str(info.key),
        processId=info.process_id,
        version=info.version,
        status=info.status,
        businessKey=info.business_key,
        startedAt=iso(info.started_at),
        endedAt=iso(info.ended_at),
        parentInstanceKey=key_text(info.parent_instance_key),
        incidents=info.incidents,
        activeElements=list(info.active_elements),
        variables=plain(info.variables),
        versionReason=info.version_reason,
    )


def _incident(incident: IncidentRecord) -> IncidentResult:
    return IncidentResult(
        incidentKey=str(incident.incident_key),
        instanceKey=str(incident.instance_key),
        elementInstanceKey=str(incident.element_instance_key),
        elementId=incident.element_id,
        errorType=incident.error_type,
        message=incident.message,
        details=incident.details,
        state=incident.state,
        jobKey=key_text(incident.job_key),
        createdAt=iso(incident.created_at),
        resolvedAt=iso(incident.resolved_at),
    )


def _count(count: InstanceCount | None) -> CountResult | None:
    if count is None:
        return None
    return CountResult(count=count.count, capped=count.capped, label=count.label)


@router.get(
    "/instances",
    response_model=InstancePageResult,
    dependencies=[Depends(require(INSTANCES_READ))],
)
def search_instances(
    engine: EngineDep,
    viewer: ViewerDep,
    processId: str | None = None,
    version: int | None = None,
    status: str | None = None,
    businessKey: str | None = None,
    variableName: str | None = None,
    variableValue: Annotated[
        str | None, Query(description='JSON (800, true, "gold"); other text is a string')
    ] = None,
    startedFrom: str | None = None,
    startedBefore: str | None = None,
    endedFrom: str | None = None,
    endedBefore: str | None = None,
    parentInstanceKey: str | None = None,
    after: str | None = None,
    limit: int = 50,
    withCount: bool = False,
) -> InstancePageResult:
    """Instances matching every filter given, newest first; ``status`` is ``active``,
    ``completed``, ``terminated``, ``incident`` (active with open incidents) or
    ``suspended``."""
    wanted = _variable(variableName, variableValue)
    _unprobed(engine, viewer, processId, wanted)
    with _bad_input():
        page = engine.search_instances(
            process_id=processId,
            version=version,
            status=status,
            business_key=businessKey,
            variable=wanted,
            started_from=_instant(startedFrom, "startedFrom"),
            started_before=_instant(startedBefore, "startedBefore"),
            ended_from=_instant(endedFrom, "endedFrom"),
            ended_before=_instant(endedBefore, "endedBefore"),
            parent_instance_key=(
                None
                if parentInstanceKey is None
                else parse_key(parentInstanceKey, "parentInstanceKey")
            ),
            after=after,
            limit=limit,
            with_count=withCount,
        )
    return InstancePageResult(
        items=[_instance(engine, viewer, info) for info in page.instances],
        nextCursor=page.next_cursor,
        count=_count(page.count),
    )


@router.get(
    "/instances/{instanceKey}/detail",
    response_model=InstanceDetailResult,
    dependencies=[Depends(require(INSTANCES_READ))],
)
def instance_detail(
    instanceKey: Annotated[str, Path()], engine: EngineDep, viewer: ViewerDep
) -> InstanceDetailResult:
    """An instance with the path it took, its tokens, calling and called instances and its
    incidents (open and resolved)."""
    detail = engine.instance_detail(parse_key(instanceKey, "instanceKey"))
    path = detail.path
    return InstanceDetailResult(
        instance=_instance(engine, viewer, detail.instance),
        path=PathResult(
            completedElements=list(path.completed_elements),
            activeElements=list(path.active_elements),
            takenFlows=list(path.taken_flows),
            visits=path.visits,
        ),
        calling=_instance(engine, viewer, detail.calling) if detail.calling is not None else None,
        called=[_instance(engine, viewer, info) for info in detail.called],
        incidents=[_incident(i) for i in engine.shown_incidents(detail.incidents, viewer)],
    )


@router.get(
    "/processes",
    response_model=list[ProcessVersionResult],
    dependencies=[Depends(require(DEFINITIONS_READ)), Depends(require(INSTANCES_READ))],
)
def process_versions(engine: EngineDep) -> list[ProcessVersionResult]:
    """Every process version with its active instances and open incidents."""
    return [
        ProcessVersionResult(
            processId=p.process_id,
            version=p.version,
            definitionKey=str(p.definition_key),
            name=p.name,
            resourceName=p.resource_name,
            deployedAt=iso(p.deployed_at),
            activeInstances=p.active_instances,
            openIncidents=p.open_incidents,
            versionTag=p.version_tag,
            suspended=p.suspended,
        )
        for p in engine.process_definitions()
    ]


@router.get(
    "/processes/{processId}/statistics",
    response_model=list[ElementStatisticsResult],
    dependencies=[Depends(require(INSTANCES_READ))],
)
def element_statistics(
    processId: Annotated[str, Path()], engine: EngineDep, version: int | None = None
) -> list[ElementStatisticsResult]:
    """Per element of a process version (all versions without ``version``): element
    instances active there, completed, terminated, and open incidents."""
    return [
        ElementStatisticsResult(
            elementId=s.element_id,
            active=s.active,
            completed=s.completed,
            terminated=s.terminated,
            incidents=s.incidents,
        )
        for s in engine.element_statistics(processId, version)
    ]


@router.get(
    "/incident-groups",
    response_model=list[IncidentGroupResult],
    dependencies=[Depends(require(INCIDENTS_READ))],
)
def incident_groups(engine: EngineDep, viewer: ViewerDep) -> list[IncidentGroupResult]:
    """Open incidents grouped by process, element, error type and message (sensitive values
    quoted in it masked unless the caller may see them), largest first."""
    return [
        IncidentGroupResult(
            group=g.key,
            processId=g.process_id,
            elementId=g.element_id,
            errorType=g.error_type,
            message=g.message,
            count=g.count,
            oldestAt=iso(g.oldest_at),
            newestAt=iso(g.newest_at),
        )
        for g in engine.incident_groups(viewer=viewer)
    ]


@router.get(
    "/incident-groups/{group}/incidents",
    response_model=IncidentPageResult,
    dependencies=[Depends(require(INCIDENTS_READ))],
)
def group_incidents(
    group: Annotated[str, Path()],
    engine: EngineDep,
    viewer: ViewerDep,
    after: str | None = None,
    limit: int = 50,
) -> IncidentPageResult:
    """The open incidents of a group, oldest first."""
    with _bad_input():
        page = engine.group_incidents(group, after=after, limit=limit, viewer=viewer)
    return IncidentPageResult(
        items=[_incident(i) for i in engine.shown_incidents(page.incidents, viewer)],
        nextCursor=page.next_cursor,
    )


@router.get(
    "/decisions",
    response_model=list[DecisionVersionResult],
    dependencies=[Depends(require(DEFINITIONS_READ))],
)
def decision_versions(engine: EngineDep) -> list[DecisionVersionResult]:
    """Every deployed version of every DMN decision."""
    return [
        DecisionVersionResult(
            decisionId=d.decision_id,
            version=d.version,
            definitionKey=str(d.definition_key),
            name=d.name,
            resourceName=d.resource_name,
            deployedAt=iso(d.deployed_at),
        )
        for d in engine.decision_definitions()
    ]


@router.get(
    "/decisions/{decisionId}/evaluations",
    response_model=EvaluationPageResult,
    dependencies=[Depends(require(INSTANCES_READ))],
)
def decision_evaluations(
    decisionId: Annotated[str, Path()],
    engine: EngineDep,
    after: str | None = None,
    limit: int = 50,
) -> EvaluationPageResult:
    """A decision's evaluations by business rule tasks, newest first."""
    with _bad_input():
        page = engine.decision_evaluations(decisionId, after=after, limit=limit)
    return EvaluationPageResult(
        items=[
            EvaluationResult(
                instanceKey=str(e.instance_key),
                position=e.position,
                decisionId=e.decision_id,
                decisionKey=str(e.decision_key),
                decisionVersion=e.decision_version,
                elementId=e.element_id,
                elementInstanceKey=str(e.element_instance_key),
                evaluatedAt=iso(e.evaluated_at),
                matchedRules=list(e.matched_rules),
                result=plain(decode(e.result)),
            )
            for e in page.evaluations
        ],
        nextCursor=page.next_cursor,
    )
