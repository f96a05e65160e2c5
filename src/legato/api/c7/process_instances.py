"""``/process-instance``: query running instances, read one, delete (cancel) one, and their
variables.

As in Camunda's runtime API, only running instances exist here: an ended instance is
"does not exist" (404).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from legato.api.audit import note_audit
from legato.api.c7 import ids
from legato.api.c7.conditions import conditions_from_text, refuse_probes
from legato.api.c7.dto import DefinitionIds, instance_dto
from legato.api.c7.errors import bad_request, not_found
from legato.api.c7.ids import Kind
from legato.api.c7.routing import C7Route, FirstResult, MaxResults, as_object, flag, no_content, ok
from legato.api.c7.variables import decode_variables, encode_value, encode_variables
from legato.api.deps import EngineDep, ViewerDep, require
from legato.api.v2.common import note_variables
from legato.errors import InvalidCommandError, NotFoundError
from legato.runtime.engine import Engine
from legato.runtime.types import InstanceInfo
from legato.security import INSTANCES_MODIFY, INSTANCES_READ, Principal
from legato.security.sensitive import Viewer

router = APIRouter(prefix="/process-instance", route_class=C7Route, tags=["c7: instances"])

Reader = Annotated[Principal, Depends(require(INSTANCES_READ))]
Modifier = Annotated[Principal, Depends(require(INSTANCES_MODIFY))]
AnyBody = Annotated[Any, Body()]

_QUERY_LIMIT = 100_000
"""The most instances one query reads (Camunda's queries are unbounded)."""


@router.get("")
def list_instances(
    request: Request,
    engine: EngineDep,
    principal: Reader,
    processDefinitionKey: str | None = None,
    processDefinitionId: str | None = None,
    businessKey: str | None = None,
    processInstanceIds: str | None = None,
    active: str | None = None,
    suspended: str | None = None,
    tenantIdIn: str | None = None,
    variables: str | None = None,
    firstResult: FirstResult = 0,
    maxResults: MaxResults = None,
) -> Response:
    """Running instances as ``ProcessInstanceDto``, filtered and paged (``variables`` is
    ``name_op_value`` conditions separated by commas, ops ``eq neq gt gteq lt lteq like``;
    ``suspended=true`` takes the suspended ones, ``active=true`` the others)."""
    conditions = conditions_from_text(variables)
    refuse_probes(engine, principal, conditions, processDefinitionKey)
    if tenantIdIn:
        return ok([])  # Legato keeps no tenants.
    if processInstanceIds is not None:
        found = []
        for text_id in processInstanceIds.split(","):
            info = _running(engine, text_id.strip())
            if info is not None:
                found.append(info)
    else:
        found = engine.instances(
            status="suspended" if flag(suspended) else "active",
            process_id=processDefinitionKey,
            business_key=businessKey,
            limit=_QUERY_LIMIT,
        )
    definitions = DefinitionIds(engine)
    found = [
        info
        for info in found
        if (processDefinitionKey is None or info.process_id == processDefinitionKey)
        and (businessKey is None or info.business_key == businessKey)
        and (
            processDefinitionId is None
            or definitions.of(info.process_id, info.version) == processDefinitionId
        )
        and all(condition(info.variables) for condition in conditions)
        and not (flag(suspended) and not info.suspended)
        and not (flag(active) and info.suspended)
    ]
    found.sort(key=lambda info: info.key)
    end = None if maxResults is None else firstResult + maxResults
    return ok([instance_dto(request, info, definitions) for info in found[firstResult:end]])


def _running(engine: Engine, instance_id: str) -> InstanceInfo | None:
    key = ids.key_of(Kind.INSTANCE, instance_id)
    if key is None:
        return None
    try:
        info = engine.instance(key)
    except NotFoundError:
        return None
    return info if info.is_active else None


def _instance(engine: Engine, instance_id: str) -> InstanceInfo:
    info = _running(engine, instance_id)
    if info is None:
        raise not_found(f"Process instance with id {instance_id} does not exist")
    return info


def _shown(engine: Engine, viewer: Viewer, instance_id: str) -> InstanceInfo:
    """A running instance with its variables as ``viewer`` may see them."""
    return engine.masking.instance(viewer, _instance(engine, instance_id))


@router.get("/{instance_id}")
def get_instance(
    instance_id: str, request: Request, engine: EngineDep, principal: Reader
) -> Response:
    """One running instance."""
    return ok(instance_dto(request, _instance(engine, instance_id), DefinitionIds(engine)))


@router.delete("/{instance_id}", status_code=204)
def delete_instance(
    instance_id: str,
    engine: EngineDep,
    principal: Modifier,
    failIfNotExists: str | None = None,
    deleteReason: str | None = None,
) -> Response:
    """Cancel a running instance (``failIfNotExists=false`` makes an unknown id a 204)."""
    info = _running(engine, instance_id)
    if info is None:
        if failIfNotExists is not None and not flag(failIfNotExists):
            return no_content()
        raise not_found(f"Process instance with id {instance_id} does not exist")
    try:
        engine.cancel(
            info.key, deleteReason or "deleted through the Camunda 7 API", by=principal.name
        )
    except InvalidCommandError as error:
        raise bad_request(str(error)) from None
    return no_content()


@router.get("/{instance_id}/variables")
def get_variables(
    instance_id: str, engine: EngineDep, principal: Reader, viewer: ViewerDep
) -> Response:
    """The instance's (root scope) variables, typed."""
    return ok(encode_variables(_shown(engine, viewer, instance_id).variables))


@router.get("/{instance_id}/variables/{name}")
def get_variable(
    instance_id: str, name: str, engine: EngineDep, principal: Reader, viewer: ViewerDep
) -> Response:
    """One variable of the instance, typed (404 when it has none of that name)."""
    info = _shown(engine, viewer, instance_id)
    if name not in info.variables:
        raise not_found(f"process instance variable with name {name} does not exist")
    return ok(encode_value(info.variables[name]))


@router.get("/{instance_id}/variables/{name}/data")
def get_variable_data(
    instance_id: str, name: str, engine: EngineDep, principal: Reader, viewer: ViewerDep
) -> Response:
    """One variable's value as bytes (``application/octet-stream``): text as UTF-8, other
    values as the ``value`` the typed form shows (JSON text for Json). The Python
    external-task client's ``get_process_instance_variable`` reads it."""
    info = _shown(engine, viewer, instance_id)
    if name not in info.variables:
        raise not_found(f"process instance variable with name {name} does not exist")
    shown = encode_value(info.variables[name])["value"]
    data = shown if isinstance(shown, str) else json.dumps(shown)
    return Response(data.encode("utf-8"), media_type="application/octet-stream")


@router.post("/{instance_id}/variables", status_code=204)
def modify_variables(
    request: Request,
    instance_id: str,
    engine: EngineDep,
    principal: Modifier,
    body: AnyBody = None,
) -> Response:
    """Set ``modifications`` (typed) and remove ``deletions`` (set to null: Legato keeps a
    variable once set)."""
    data = as_object(body)
    info = _instance(engine, instance_id)
    changes = decode_variables(data.get("modifications"))
    deletions = data.get("deletions") or []
    if not isinstance(deletions, list):
        raise bad_request("deletions must be a list of names")
    for name in deletions:
        changes.setdefault(str(name), None)
    if changes:
        note_variables(request, engine, info.key, changes)
        try:
            engine.set_variables(info.key, changes, by=principal.name)
        except InvalidCommandError as error:
            raise bad_request(
                f"Cannot modify variables of process instance {instance_id}: {error}"
            ) from None
    return no_content()


@router.put("/{instance_id}/variables/{name}", status_code=204)
def put_variable(
    request: Request,
    instance_id: str,
    name: str,
    engine: EngineDep,
    principal: Modifier,
    body: AnyBody = None,
) -> Response:
    """Set one variable from a typed value."""
    info = _instance(engine, instance_id)
    value = decode_variables({name: as_object(body)})
    note_variables(request, engine, info.key, value)
    engine.set_variables(info.key, value, by=principal.name)
    return no_content()


@router.put("/{instance_id}/suspended", status_code=204)
def update_suspension(
    request: Request,
    instance_id: str,
    engine: EngineDep,
    principal: Modifier,
    body: AnyBody = None,
) -> Response:
    """Suspend (``{"suspended": true}``) or activate (``false``) a running instance; as in
    Camunda, asking for the state it is in already changes nothing."""
    wanted = as_object(body).get("suspended")
    if not isinstance(wanted, bool):
        raise bad_request("suspended: give true or false")
    info = _instance(engine, instance_id)
    note_audit(request, action="instance.suspend" if wanted else "instance.resume")
    if info.suspended != wanted:
        change = engine.suspend if wanted else engine.resume
        change(info.key, by=principal.name)
    return no_content()
