"""The cockpit's processes (``/cockpit``): the deployed definitions with their versions,
deploying files, and one process's diagram with counts per element."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from legato.api.deps import engine_of
from legato.api.v2.deployments import MAX_RESOURCE_NAME, deploy_resources, resource_name
from legato.errors import ModelError, NotFoundError
from legato.runtime.cockpit import ProcessVersionInfo
from legato.security import DEFINITIONS_READ, DEPLOY, INSTANCES_MODIFY, INSTANCES_READ, Principal
from legato.web.session import require_page
from legato.web.ui import redirect, register_nav, render

router = APIRouter(include_in_schema=False)
register_nav("Cockpit", "/cockpit", INSTANCES_READ, order=20)
Reader = Annotated[Principal, Depends(require_page(INSTANCES_READ))]
Deployer = Annotated[Principal, Depends(require_page(DEPLOY))]


@dataclass(frozen=True, slots=True)
class ProcessSummary:
    """One process with its versions, newest first."""

    process_id: str
    versions: list[ProcessVersionInfo]

    @property
    def latest(self) -> ProcessVersionInfo:
        """The newest version."""
        return self.versions[0]

    @property
    def active_instances(self) -> int:
        """Active instances over every version."""
        return sum(v.active_instances for v in self.versions)

    @property
    def open_incidents(self) -> int:
        """Open incidents over every version."""
        return sum(v.open_incidents for v in self.versions)


def group_versions(versions: Sequence[ProcessVersionInfo]) -> list[ProcessSummary]:
    """Versions grouped by process (by process id), each process's newest version first."""
    grouped: dict[str, list[ProcessVersionInfo]] = {}
    for version in versions:
        grouped.setdefault(version.process_id, []).append(version)
    return [
        ProcessSummary(process_id, sorted(found, key=lambda v: v.version, reverse=True))
        for process_id, found in sorted(grouped.items())
    ]


def _processes_page(
    request: Request, *, deploy_error: str | None = None, status: int = 200
) -> HTMLResponse:
    principal: Principal = request.state.principal
    context = {
        "processes": group_versions(engine_of(request).process_definitions()),
        "deploy_error": deploy_error,
        "may_deploy": principal.may(DEPLOY),
    }
    return render(request, "processes.html", context, status=status)


@router.get("/cockpit")
def processes_page(request: Request, principal: Reader) -> HTMLResponse:
    """The deployed processes with their versions, active instances and open incidents."""
    return _processes_page(request)


@router.post("/cockpit/deployments", response_model=None)
def deploy(
    request: Request,
    principal: Deployer,
    resources: Annotated[list[UploadFile], File()],
) -> Response:
    """Deploy the uploaded BPMN, DMN and form files as the API does; a broken file shows
    the processes page again with the error (file, line and element)."""
    limit: int = request.app.state.max_upload_bytes
    named: list[tuple[str, bytes]] = []
    total = 0
    for upload in resources:
        data = upload.file.read()
        total += len(data)
        if not upload.filename or not data:
            continue
        name = resource_name(upload.filename)
        if name is None:
            error = (
                f"Files: {upload.filename!r} is no file name (a name without folders, control"
                f" characters or more than {MAX_RESOURCE_NAME} bytes)."
            )
            return _processes_page(request, deploy_error=error, status=400)
        if total > limit:
            error = f"Files: the upload is larger than the limit of {limit} bytes."
            return _processes_page(request, deploy_error=error, status=413)
        named.append((name, data))
    if not named:
        return _processes_page(request, deploy_error="Files: choose a file to deploy.", status=400)
    try:
        done = deploy_resources(engine_of(request), named)
    except ModelError as exc:
        return _processes_page(request, deploy_error=str(exc), status=400)
    parts: list[str] = []
    for name, deployment in done:
        made = [f"{p.process_id} version {p.version}" for p in deployment.processes]
        made += [f"decision {d.decision_id} version {d.version}" for d in deployment.decisions]
        made += [f"form {f.form_id} version {f.version}" for f in deployment.forms]
        parts.append(f"{name}: {', '.join(made) or 'nothing new'}")
    return redirect(request, "/cockpit", flash="Deployed " + "; ".join(parts) + ".", kind="success")


def versions_of(request: Request, process_id: str) -> list[ProcessVersionInfo]:
    """The deployed versions of ``process_id``, newest first (:class:`NotFoundError` when
    there is none)."""
    found = [v for v in engine_of(request).process_definitions() if v.process_id == process_id]
    if not found:
        raise NotFoundError(f"no process {process_id} is deployed")
    return sorted(found, key=lambda v: v.version, reverse=True)


def _chosen(versions: list[ProcessVersionInfo], version: int | None) -> ProcessVersionInfo:
    if version is None:
        return versions[0]
    for found in versions:
        if found.version == version:
            return found
    raise NotFoundError(f"version {version} of process {versions[0].process_id} is not deployed")


@router.get("/cockpit/processes/{process_id}", response_model=None)
def process_page(
    request: Request,
    process_id: str,
    principal: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """One process: a version's diagram with the counts per element, and the versions."""
    try:
        versions = versions_of(request, process_id)
        shown = _chosen(versions, version)
    except NotFoundError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status=404)
    context = {
        "versions": versions,
        "shown": shown,
        "may_migrate": principal.may(INSTANCES_MODIFY),
    }
    return render(request, "process.html", context)


@router.get("/cockpit/definitions/{definition_key}/xml")
def definition_xml(
    request: Request,
    definition_key: int,
    principal: Annotated[Principal, Depends(require_page(DEFINITIONS_READ))],
) -> Response:
    """The BPMN XML a process version was deployed from (for the diagram)."""
    with engine_of(request).store.transaction() as tx:
        record = tx.get_definition(definition_key)
    if record is None or record.process_id.startswith("dmn:"):
        return Response("no such process version", status_code=404, media_type="text/plain")
    return Response(record.source, media_type="text/xml")


@router.get("/cockpit/processes/{process_id}/statistics")
def process_statistics(
    request: Request,
    process_id: str,
    principal: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> JSONResponse:
    """Per element of a version (or of every version): ``{"elementId": {"active": n,
    "incidents": n, "completed": n}}``, for the diagram's badges."""
    try:
        counts = engine_of(request).element_statistics(process_id, version)
    except NotFoundError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    return JSONResponse(
        {
            c.element_id: {"active": c.active, "incidents": c.incidents, "completed": c.completed}
            for c in counts
        }
    )
