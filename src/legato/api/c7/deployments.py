"""``/deployment/create``: deploy BPMN and DMN files from a multipart form.

Every part that is not one of Camunda's reserved text parts (``deployment-name``,
``deployment-source``, ``tenant-id``, ``deployment-activation-time``,
``enable-duplicate-filtering``, ``deploy-changed-only``) must carry a file name, and that
file name (not the part's name) is the resource's name.

Legato always filters duplicates: a process whose content equals its latest version's is
not deployed again (Camunda does so only with ``enable-duplicate-filtering``); such a
version is left out of ``deployedProcessDefinitions``, which is null when nothing was new.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from legato.api.c7 import ids
from legato.api.c7.dates import format_date
from legato.api.c7.dto import base_url, definition, definition_dto, process_definitions
from legato.api.c7.errors import C7Error, bad_request
from legato.api.c7.ids import Kind
from legato.api.c7.routing import C7Route, ok
from legato.api.deps import EngineDep, require
from legato.api.v2.deployments import MAX_RESOURCE_NAME, resource_name
from legato.errors import ModelError, ModelValidationError
from legato.runtime.definitions import Deployment
from legato.runtime.engine import Engine
from legato.security import DEPLOY, Principal

router = APIRouter(prefix="/deployment", route_class=C7Route, tags=["c7: deployments"])

Deployer = Annotated[Principal, Depends(require(DEPLOY))]

RESERVED = frozenset(
    {
        "deployment-name",
        "deployment-source",
        "tenant-id",
        "deployment-activation-time",
        "enable-duplicate-filtering",
        "deploy-changed-only",
    }
)


@router.post("/create")
async def create(request: Request, engine: EngineDep, principal: Deployer) -> Response:
    """Deploy the uploaded resources; 400 ``ParseException`` when one is malformed."""
    try:
        form = await request.form()
    except StarletteHTTPException:
        raise  # the body is over the size limit (413)
    except Exception as error:
        raise bad_request(f"The request is no multipart form: {error}") from None
    fields: dict[str, str] = {}
    resources: list[tuple[str, bytes]] = []
    for part_name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if part_name in RESERVED:
                fields[part_name] = (await value.read()).decode("utf-8", "replace")
                continue
            if not value.filename:
                raise bad_request(f"No file name found in the deployment resource '{part_name}'")
            name = resource_name(value.filename)
            if name is None:
                raise bad_request(
                    f"The file name {value.filename!r} of the deployment resource '{part_name}'"
                    " is no file name: no folders, control characters or more than"
                    f" {MAX_RESOURCE_NAME} bytes"
                )
            resources.append((name, await value.read()))
        elif part_name in RESERVED:
            fields[part_name] = value
        else:
            raise bad_request(f"No file name found in the deployment resource '{part_name}'")
    if fields.get("tenant-id"):
        raise bad_request("Legato has no tenants: leave 'tenant-id' out")
    if not resources:
        raise bad_request("No deployment resources contained in the form upload.")
    deployed = await run_in_threadpool(_deploy, engine, resources)
    return ok(_deployment_dto(request, engine, fields, deployed))


def _deploy(engine: Engine, resources: list[tuple[str, bytes]]) -> list[tuple[Deployment, bool]]:
    """Deploy each resource; each deployment with whether it made anything new."""
    before = {r.definition_key for r in process_definitions(engine)}
    done = []
    with tempfile.TemporaryDirectory(prefix="legato-c7-") as folder:
        for file_name, data in resources:
            path = Path(folder) / file_name  # a resource_name(): no folder, never ".."
            path.write_bytes(data)
            try:
                deployment = engine.deploy(path)
            except ModelError as error:
                raise _parse_error(file_name, error) from None
            new = any(p.definition_key not in before for p in deployment.processes)
            done.append((deployment, new or bool(deployment.decisions)))
    return done


def _parse_error(file_name: str, error: ModelError) -> C7Error:
    issues = error.issues if isinstance(error, ModelValidationError) else []
    details = {
        file_name: {
            "errors": [
                {
                    "message": getattr(i, "message", str(i)),
                    "line": getattr(i.location, "line", None) or 0,
                    "column": 0,
                    "mainElementId": getattr(i.location, "element_id", None),
                    "elementIds": [getattr(i.location, "element_id", None)],
                }
                for i in issues
            ]
            or [{"message": str(error), "line": error.location.line or 0, "column": 0}],
            "warnings": [],
        }
    }
    return C7Error(
        400,
        f"ENGINE-09005 Could not parse BPMN process. Errors in '{file_name}': {error}",
        "ParseException",
        extra={"details": details},
    )


def _deployment_dto(
    request: Request,
    engine: Engine,
    fields: dict[str, str],
    deployed: list[tuple[Deployment, bool]],
) -> dict[str, Any]:
    processes: dict[str, Any] = {}
    decisions: dict[str, Any] = {}
    first_key: int | None = None
    for deployment, new in deployed:
        for version in deployment.processes:
            first_key = first_key or version.definition_key
            record = definition(engine, version.definition_key)
            if new and record is not None:
                dto = definition_dto(record)
                processes[dto["id"]] = dto
        for decision in deployment.decisions:
            first_key = first_key or decision.definition_key
            decision_id = ids.definition_id(
                decision.decision_id, decision.version, decision.definition_key
            )
            decisions[decision_id] = {
                "id": decision_id,
                "key": decision.decision_id,
                "category": "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
                "name": decision.decision_id,
                "version": decision.version,
                "resource": deployment.resource_name,
                "deploymentId": None,
                "decisionRequirementsDefinitionId": None,
                "decisionRequirementsDefinitionKey": None,
                "tenantId": None,
                "versionTag": None,
                "historyTimeToLive": None,
            }
    deployment_id = ids.to_uuid(Kind.DEPLOYMENT, first_key or 0)
    for dto in (*processes.values(), *decisions.values()):
        dto["deploymentId"] = deployment_id
    return {
        "links": [
            {
                "method": "GET",
                "href": f"{base_url(request)}/deployment/{deployment_id}",
                "rel": "self",
            }
        ],
        "id": deployment_id,
        "name": fields.get("deployment-name"),
        "source": fields.get("deployment-source"),
        "deploymentTime": format_date(datetime.now(UTC)),
        "tenantId": None,
        "deployedProcessDefinitions": processes or None,
        "deployedCaseDefinitions": None,
        "deployedDecisionDefinitions": decisions or None,
        "deployedDecisionRequirementsDefinitions": None,
    }
