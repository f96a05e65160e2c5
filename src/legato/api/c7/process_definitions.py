"""``/process-definition``: list the deployed versions; start instances by key or by id.

Legato has no tenants: a key-based start uses the latest version, as Camunda's start
"without tenant" does, and the ``tenant-id`` variant finds nothing (404). A version's
``versionTag`` is the process's ``camunda:versionTag``.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from legato.api.c7 import ids
from legato.api.c7.dto import (
    DefinitionIds,
    definition,
    definition_dto,
    instance_dto,
    process_definitions,
    version_tag,
)
from legato.api.c7.errors import bad_request, not_found
from legato.api.c7.routing import C7Route, FirstResult, MaxResults, as_object, flag, ok, text
from legato.api.c7.variables import decode_variables, encode_variables
from legato.api.deps import EngineDep, require, viewer_of
from legato.errors import InvalidCommandError, NotFoundError
from legato.runtime.engine import Engine
from legato.security import DEFINITIONS_READ, INSTANCES_START, Principal

router = APIRouter(prefix="/process-definition", route_class=C7Route, tags=["c7: definitions"])

Reader = Annotated[Principal, Depends(require(DEFINITIONS_READ))]
Starter = Annotated[Principal, Depends(require(INSTANCES_START))]
AnyBody = Annotated[Any, Body()]

_SORT_KEYS = {
    "version": lambda r: r.version,
    "key": lambda r: r.process_id,
    "id": lambda r: r.definition_key,
    "name": lambda r: r.name or "",
    "deploymentId": lambda r: r.definition_key,
    "deployTime": lambda r: r.deployed_at,
}


@router.get("")
def list_definitions(
    engine: EngineDep,
    principal: Reader,
    key: str | None = None,
    keyLike: str | None = None,
    name: str | None = None,
    version: int | None = None,
    versionTagLike: str | None = None,
    latestVersion: str | None = None,
    tenantIdIn: str | None = None,
    withoutTenantId: str | None = None,
    processDefinitionId: str | None = None,
    sortBy: str | None = None,
    sortOrder: str | None = None,
    firstResult: FirstResult = 0,
    maxResults: MaxResults = None,
) -> Response:
    """Deployed process versions as ``ProcessDefinitionDto``, filtered and paged."""
    records = process_definitions(engine)
    if key is not None:
        records = [r for r in records if r.process_id == key]
    if keyLike is not None:
        records = [r for r in records if _like(r.process_id, keyLike)]
    if name is not None:
        records = [r for r in records if r.name == name]
    if version is not None:
        records = [r for r in records if r.version == version]
    if versionTagLike is not None:
        records = [r for r in records if _like(version_tag(r) or "", versionTagLike)]
        records = [r for r in records if version_tag(r) is not None]
    if tenantIdIn:
        records = []  # Legato keeps no tenants.
    if processDefinitionId is not None:
        wanted = ids.definition_key_of(processDefinitionId)
        records = [r for r in records if r.definition_key == wanted]
    if flag(latestVersion):
        latest: dict[str, int] = {}
        for r in records:
            latest[r.process_id] = max(latest.get(r.process_id, 0), r.version)
        records = [r for r in records if r.version == latest[r.process_id]]
    if sortBy is not None:
        if sortBy not in _SORT_KEYS:
            raise bad_request(f"Cannot set query parameter 'sortBy' to value '{sortBy}'")
        records.sort(key=_SORT_KEYS[sortBy], reverse=(sortOrder or "asc").lower() == "desc")
    end = None if maxResults is None else firstResult + maxResults
    return ok([definition_dto(r) for r in records[firstResult:end]])


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("%", "*").replace("_", "?"))


@router.get("/key/{key}")
def get_definition_by_key(key: str, engine: EngineDep, principal: Reader) -> Response:
    """The latest version of a process."""
    records = [r for r in process_definitions(engine) if r.process_id == key]
    if not records:
        raise not_found(f"No matching process definition with key: {key} and no tenant-id")
    return ok(definition_dto(max(records, key=lambda r: r.version)))


@router.get("/{definition_id}")
def get_definition(definition_id: str, engine: EngineDep, principal: Reader) -> Response:
    """One process version by its definition id."""
    key = ids.definition_key_of(definition_id)
    record = definition(engine, key) if key is not None else None
    if record is None:
        raise not_found(f"No matching definition with id {definition_id}")
    return ok(definition_dto(record))


@router.post("/key/{key}/start")
def start_by_key(
    key: str, request: Request, engine: EngineDep, principal: Starter, body: AnyBody = None
) -> Response:
    """Start an instance of the latest version of process ``key``."""
    return _start(request, engine, key, None, as_object(body), f"key: {key} and no tenant-id")


@router.post("/key/{key}/tenant-id/{tenant_id}/start")
def start_by_key_and_tenant(
    key: str,
    tenant_id: str,
    request: Request,
    engine: EngineDep,
    principal: Starter,
    body: AnyBody = None,
) -> Response:
    """Legato has no tenants: no process definition belongs to ``tenant_id`` (404)."""
    raise not_found(f"No matching process definition with key: {key} and tenant-id: {tenant_id}")


@router.post("/{definition_id}/start")
def start_by_id(
    definition_id: str,
    request: Request,
    engine: EngineDep,
    principal: Starter,
    body: AnyBody = None,
) -> Response:
    """Start an instance of one process version."""
    key = ids.definition_key_of(definition_id)
    record = definition(engine, key) if key is not None else None
    if record is None:
        raise not_found(f"No matching definition with id {definition_id}")
    return _start(
        request, engine, record.process_id, record.version, as_object(body), f"id {definition_id}"
    )


def _start(
    request: Request,
    engine: Engine,
    process_id: str,
    version: int | None,
    body: dict[str, Any],
    named: str,
) -> Response:
    variables = decode_variables(body.get("variables"))
    if body.get("startInstructions"):
        raise bad_request("Legato does not start instances at chosen activities")
    try:
        info = engine.start(
            process_id, variables, business_key=text(body, "businessKey"), version=version
        )
    except NotFoundError:
        raise not_found(f"No matching process definition with {named}") from None
    except InvalidCommandError as error:
        raise bad_request(f"Cannot instantiate process definition {process_id}: {error}") from None
    dto = instance_dto(request, info, DefinitionIds(engine))
    if flag(body.get("withVariablesInReturn")):
        shown = engine.masking.instance(viewer_of(request), info)
        dto["variables"] = encode_variables(shown.variables)
    return ok(dto)
