"""``POST /v2/deployments``: BPMN, DMN and form resources in one multipart request."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from legato.api.deps import EngineDep, require
from legato.api.problems import ApiError, BadRequest
from legato.api.v2.common import DEFAULT_TENANT, KeyText, Out, echo_tenant
from legato.errors import ModelError
from legato.runtime.definitions import Deployment
from legato.runtime.engine import Engine
from legato.security import DEPLOY

router = APIRouter(tags=["deployments"])

_ORDER = {".form": 0, ".dmn": 1, ".bpmn": 2, ".xml": 2}
"""What is deployed first: forms and decisions before the processes that use them."""


class ProcessDefinitionDeployed(Out):
    processDefinitionId: str
    processDefinitionVersion: int
    resourceName: str
    tenantId: str = DEFAULT_TENANT
    processDefinitionKey: KeyText


class DecisionDefinitionDeployed(Out):
    decisionDefinitionId: str
    version: int
    name: str
    tenantId: str = DEFAULT_TENANT
    decisionRequirementsId: str
    decisionDefinitionKey: KeyText
    decisionRequirementsKey: KeyText


class DecisionRequirementsDeployed(Out):
    decisionRequirementsId: str
    decisionRequirementsName: str
    version: int
    resourceName: str
    tenantId: str = DEFAULT_TENANT
    decisionRequirementsKey: KeyText


class FormDeployed(Out):
    formId: str
    version: int
    resourceName: str
    tenantId: str = DEFAULT_TENANT
    formKey: KeyText


class DeploymentMetadata(Out):
    """One deployed resource's definition (one member is set)."""

    processDefinition: ProcessDefinitionDeployed | None = None
    decisionDefinition: DecisionDefinitionDeployed | None = None
    decisionRequirements: DecisionRequirementsDeployed | None = None
    form: FormDeployed | None = None


class DeploymentResult(Out):
    """What a deployment created (or found unchanged)."""

    deploymentKey: KeyText
    tenantId: str = DEFAULT_TENANT
    deployments: list[DeploymentMetadata]


async def upload_limit(request: Request) -> int:
    """The largest upload the server accepts, in bytes."""
    limit: int = request.app.state.max_upload_bytes
    return limit


@router.post(
    "/deployments",
    response_model=DeploymentResult,
    response_model_exclude_none=True,
    dependencies=[Depends(require(DEPLOY))],
    summary="Deploy resources",
)
def create_deployment(
    engine: EngineDep,
    limit: Annotated[int, Depends(upload_limit)],
    resources: Annotated[list[UploadFile], File(description="BPMN, DMN and form files")],
    tenantId: Annotated[str | None, Form()] = None,
) -> DeploymentResult:
    """Deploy BPMN processes, DMN decisions and forms. A resource whose content is the same
    as its latest version's deploys nothing new and answers that version. Resources are
    deployed forms first, then decisions, then processes; a broken resource stops the
    request (400 naming file, line and element), the ones before it stay deployed."""
    tenant = echo_tenant(tenantId)
    total = 0
    named: list[tuple[str, bytes]] = []
    for upload in resources:
        name = resource_name(upload.filename or "")
        if name is None:
            raise BadRequest(
                f"resources: {upload.filename!r} is no file name (a name without folders,"
                f" control characters or more than {MAX_RESOURCE_NAME} bytes)"
            )
        data = upload.file.read()
        total += len(data)
        if total > limit:
            raise ApiError(
                f"the upload is larger than the limit of {limit} bytes",
                status=413,
                title="PAYLOAD_TOO_LARGE",
            )
        named.append((name, data))
    try:
        done = deploy_resources(engine, named)
    except ModelError as exc:
        raise BadRequest(str(exc)) from None
    deployed = [m for name, deployment in done for m in _metadata(deployment, name)]
    keys = [_key_of(m) for m in deployed]
    return DeploymentResult(
        deploymentKey=str(min(keys) if keys else 0), tenantId=tenant, deployments=deployed
    )


MAX_RESOURCE_NAME = 200
"""The most bytes (UTF-8) in the name of a deployed resource (file systems take 255)."""


def resource_name(file_name: str) -> str | None:
    """The name a resource is stored under: the last part of ``file_name`` (folders, with
    ``/`` or ``\\``, dropped); None when nothing usable is left (empty, ``.``, ``..``,
    control characters, longer than :data:`MAX_RESOURCE_NAME`)."""
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if name in ("", ".", "..") or size > MAX_RESOURCE_NAME:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return None
    return name


def deploy_resources(
    engine: Engine, resources: Sequence[tuple[str, bytes]]
) -> list[tuple[str, Deployment]]:
    """Deploy resources given as (file name, content): forms first, then decisions, then
    processes; answers each resource's deployment in the order given.

    Raises:
        ModelError: a broken resource (its message names the file, line and element; the
            resources deployed before it stay deployed).
    """
    results: dict[str, Deployment] = {}
    with tempfile.TemporaryDirectory(prefix="legato-deploy-") as folder:
        files = [Path(folder) / name for name, _ in resources]
        for path, (_, data) in zip(files, resources, strict=True):
            path.write_bytes(data)
        for path in sorted(files, key=lambda p: _ORDER.get(p.suffix.lower(), 2)):
            try:
                results[path.name] = engine.deploy(path)
            except ModelError as exc:
                # The resource's name, not the temporary folder it was written to.
                message = str(exc).replace(folder + "/", "")
                raise ModelError(message) from None
    return [(path.name, results[path.name]) for path in files]


def _metadata(deployment: Deployment, resource: str) -> list[DeploymentMetadata]:
    found: list[DeploymentMetadata] = [
        DeploymentMetadata(
            processDefinition=ProcessDefinitionDeployed(
                processDefinitionId=p.process_id,
                processDefinitionVersion=p.version,
                resourceName=resource,
                processDefinitionKey=str(p.definition_key),
            )
        )
        for p in deployment.processes
    ]
    if deployment.decisions:
        first = deployment.decisions[0]
        requirements_id = first.model.name or Path(resource).stem
        found.append(
            DeploymentMetadata(
                decisionRequirements=DecisionRequirementsDeployed(
                    decisionRequirementsId=requirements_id,
                    decisionRequirementsName=first.model.name or requirements_id,
                    version=first.version,
                    resourceName=resource,
                    decisionRequirementsKey=str(first.definition_key),
                )
            )
        )
        found += [
            DeploymentMetadata(
                decisionDefinition=DecisionDefinitionDeployed(
                    decisionDefinitionId=d.decision_id,
                    version=d.version,
                    name=next(
                        (x.name for x in d.model.decisions if x.element_id == d.decision_id),
                        d.decision_id,
                    ),
                    decisionRequirementsId=requirements_id,
                    decisionDefinitionKey=str(d.definition_key),
                    decisionRequirementsKey=str(first.definition_key),
                )
            )
            for d in deployment.decisions
        ]
    found += [
        DeploymentMetadata(
            form=FormDeployed(
                formId=f.form_id,
                version=f.version,
                resourceName=f.resource_name,
                formKey=str(f.form_key),
            )
        )
        for f in deployment.forms
    ]
    return found


def _key_of(metadata: DeploymentMetadata) -> int:
    if metadata.processDefinition is not None:
        return int(metadata.processDefinition.processDefinitionKey)
    if metadata.decisionDefinition is not None:
        return int(metadata.decisionDefinition.decisionDefinitionKey)
    if metadata.decisionRequirements is not None:
        return int(metadata.decisionRequirements.decisionRequirementsKey)
    assert metadata.form is not None
    return int(metadata.form.formKey)
