"""Jobs for external workers: activation (long polling), completion, failure, BPMN errors,
and changes of a job's retries and lease.

A principal with the ``worker`` role may activate and finish only the job types its key
names (:meth:`~legato.security.Principal.may_work_on`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from legato.api.deps import EngineDep, PrincipalDep, engine_of, require, require_any
from legato.api.lifecycle import until_stopping
from legato.api.problems import BadRequest, Forbidden
from legato.api.secrets import jobs_for_worker
from legato.api.v2.common import (
    DEFAULT_TENANT,
    KeyText,
    Out,
    Strict,
    Tenant,
    Variables,
    echo_tenant,
    epoch_ms,
    parse_key,
    plain,
)
from legato.runtime.arguments import MAX_MILLISECONDS
from legato.runtime.engine import Engine
from legato.runtime.types import ActivatedJob, JobRequest
from legato.security import JOBS_MANAGE, JOBS_WORK, Principal

router = APIRouter(tags=["jobs"])

DEFAULT_REQUEST_TIMEOUT = dt.timedelta(seconds=10)
"""How long an activation waits for jobs when the request does not say (Zeebe's default)."""


class JobActivationRequest(Strict):
    """Activate up to ``maxJobsToActivate`` jobs of ``type`` for ``timeout`` ms."""

    type: str = Field(min_length=1)
    worker: str | None = None
    timeout: int = Field(gt=0, le=MAX_MILLISECONDS)
    """How long the jobs are leased to this worker, in ms."""
    maxJobsToActivate: int = Field(gt=0, le=10_000)
    fetchVariable: list[str] | None = None
    """The variables to fetch; all visible ones when absent or empty."""
    requestTimeout: int | None = Field(default=None, le=MAX_MILLISECONDS)
    """How long to wait for jobs, in ms: 0 or absent for the server's default (10 s), a
    negative number to answer at once."""
    tenantIds: list[Tenant] | None = None
    withLease: bool | None = None
    """Not supported: jobs are fenced by their worker and lease instead (ignored)."""


class ActivatedJobResult(Out):
    jobKey: KeyText
    type: str
    processDefinitionId: str
    processDefinitionVersion: int
    processDefinitionKey: KeyText
    processInstanceKey: KeyText
    rootProcessInstanceKey: KeyText | None
    elementId: str
    elementInstanceKey: KeyText
    customHeaders: dict[str, Any]
    worker: str
    retries: int
    deadline: int
    """The end of the lease, in ms since the epoch."""
    variables: dict[str, Any]
    tenantId: str = DEFAULT_TENANT
    physicalTenantId: str | None = None
    kind: str = "BPMN_ELEMENT"
    listenerEventType: str = "UNSPECIFIED"
    userTask: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    businessId: str | None = None
    priority: int = 0


class JobActivationResult(Out):
    jobs: list[ActivatedJobResult]


class JobCompletionRequest(Strict):
    variables: Variables = None
    result: dict[str, Any] | None = None


class JobFailRequest(Strict):
    retries: int = Field(default=0, ge=0)
    """The attempts left: 0 raises an incident."""
    errorMessage: str | None = None
    retryBackOff: int = Field(default=0, ge=0, le=MAX_MILLISECONDS)
    """How long to wait before the job may be activated again, in ms."""
    variables: Variables = None


class JobErrorRequest(Strict):
    errorCode: str = Field(min_length=1)
    errorMessage: str | None = None
    variables: Variables = None


class JobChangeset(Strict):
    retries: int | None = Field(default=None, ge=0)
    timeout: int | None = Field(default=None, gt=0, le=MAX_MILLISECONDS)
    """A new lease from now, in ms."""


class JobUpdateRequest(Strict):
    changeset: JobChangeset
    operationReference: int | str | None = None


@router.post(
    "/jobs/activation",
    response_model=JobActivationResult,
    dependencies=[Depends(require(JOBS_WORK))],
)
async def activate_jobs(
    body: JobActivationRequest, request: Request, principal: PrincipalDep
) -> JobActivationResult:
    """Activate jobs; when none is due, wait up to ``requestTimeout`` for one (long
    polling, holding no thread). A stopping server answers the waiting calls at once."""
    for tenant in body.tenantIds or ():
        echo_tenant(tenant)
    if not principal.may_work_on(body.type):
        raise Forbidden(f"'{principal.name}' may not work on jobs of type '{body.type}'")
    app = request.app
    engine = engine_of(request)
    worker = body.worker or principal.name
    wanted = JobRequest(
        body.type,
        dt.timedelta(milliseconds=body.timeout),
        variables=body.fetchVariable or None,
    )
    fetch = asyncio.ensure_future(
        engine.fetch_jobs_async(
            [wanted],
            worker=worker,
            max_jobs=body.maxJobsToActivate,
            request_timeout=_request_timeout(body.requestTimeout),
        )
    )
    app.state.parked_polls += 1
    try:
        jobs = await until_stopping(app, fetch)
    finally:
        app.state.parked_polls -= 1
    if jobs and principal.job_types is not None:  # only such keys may read secrets
        jobs = await run_in_threadpool(jobs_for_worker, engine, principal, jobs)
    # Rendered here rather than through the response model: validating and dumping
    # thirty-two pydantic models per call cost more than fetching the jobs.
    answer = {"jobs": [_result(job) for job in jobs or []]}
    try:
        content = orjson.dumps(answer)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits among the variables
        content = json.dumps(answer).encode()
    return Response(content, media_type="application/json")  # type: ignore[return-value]


def _request_timeout(milliseconds: int | None) -> dt.timedelta:
    if milliseconds is None or milliseconds == 0:
        return DEFAULT_REQUEST_TIMEOUT
    if milliseconds < 0:
        return dt.timedelta(0)
    return dt.timedelta(milliseconds=milliseconds)


def _result(job: ActivatedJob) -> dict[str, Any]:
    """An activated job as :class:`ActivatedJobResult` renders it (every member, in order)."""
    key = str(job.instance_key)
    return {
        "jobKey": str(job.key),
        "type": job.type,
        "processDefinitionId": job.process_id,
        "processDefinitionVersion": job.version,
        "processDefinitionKey": str(job.definition_key),
        "processInstanceKey": key,
        "rootProcessInstanceKey": key,
        "elementId": job.element_id,
        "elementInstanceKey": str(job.element_instance_key),
        "customHeaders": dict(job.headers),
        "worker": job.worker,
        "retries": job.retries,
        "deadline": epoch_ms(job.deadline),
        "variables": plain(job.variables),
        "tenantId": DEFAULT_TENANT,
        "physicalTenantId": None,
        "kind": "BPMN_ELEMENT",
        "listenerEventType": "UNSPECIFIED",
        "userTask": None,
        "tags": [],
        "businessId": job.business_key,
        "priority": job.priority,
    }


def _workable(engine: Engine, principal: Principal, key: int) -> None:
    """Refuse (403) a principal scoped to some job types a job of another type."""
    if principal.job_types is None or "admin" in principal.roles:
        return  # every type: no need to read the job
    job = engine.job(key)
    if not principal.may_work_on(job.type):
        raise Forbidden(f"'{principal.name}' may not work on jobs of type '{job.type}'")


JobKeyPath = Annotated[str, Path(description="The job's key")]


@router.post(
    "/jobs/{jobKey}/completion",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require(JOBS_WORK))],
)
def complete_job(
    jobKey: JobKeyPath,
    engine: EngineDep,
    principal: PrincipalDep,
    body: JobCompletionRequest | None = None,
) -> Response:
    """Complete a job: its variables go to the process and the element moves on."""
    key = parse_key(jobKey, "jobKey")
    _workable(engine, principal, key)
    if body is not None and body.result:
        raise BadRequest("result: job results (user task or ad-hoc corrections) are not supported")
    engine.complete_job(key, (body.variables if body else None) or {})
    return Response(status_code=204)


@router.post(
    "/jobs/{jobKey}/failure",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require(JOBS_WORK))],
)
def fail_job(
    jobKey: JobKeyPath,
    engine: EngineDep,
    principal: PrincipalDep,
    body: JobFailRequest | None = None,
) -> Response:
    """Fail an attempt: with ``retries`` left the job is activated again after
    ``retryBackOff``; with none an incident is raised."""
    key = parse_key(jobKey, "jobKey")
    _workable(engine, principal, key)
    body = body or JobFailRequest()
    engine.fail_job(
        key,
        body.errorMessage or "",
        retries=body.retries,
        retry_after=dt.timedelta(milliseconds=body.retryBackOff),
        variables=body.variables,
    )
    return Response(status_code=204)


@router.post(
    "/jobs/{jobKey}/error",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require(JOBS_WORK))],
)
def throw_job_error(
    jobKey: JobKeyPath, body: JobErrorRequest, engine: EngineDep, principal: PrincipalDep
) -> Response:
    """Throw a BPMN error from the job's element: a catching boundary event or event
    sub-process takes it; an uncaught one raises an incident."""
    key = parse_key(jobKey, "jobKey")
    _workable(engine, principal, key)
    engine.throw_error(key, body.errorCode, body.errorMessage or "", body.variables or {})
    return Response(status_code=204)


@router.patch(
    "/jobs/{jobKey}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require_any(JOBS_WORK, JOBS_MANAGE))],
)
def update_job(
    jobKey: JobKeyPath, body: JobUpdateRequest, engine: EngineDep, principal: PrincipalDep
) -> Response:
    """Change a job's retries or extend its lease to ``timeout`` ms from now."""
    key = parse_key(jobKey, "jobKey")
    job = engine.job(key)
    if not (principal.may(JOBS_MANAGE) or principal.may_work_on(job.type)):
        raise Forbidden(f"'{principal.name}' may not change jobs of type '{job.type}'")
    changes = body.changeset
    timeout = None if changes.timeout is None else dt.timedelta(milliseconds=changes.timeout)
    engine.update_job(key, retries=changes.retries, timeout=timeout)
    return Response(status_code=204)


_COMPLETION_PATH = re.compile(r"/v2/jobs/(-?[0-9]{1,25})/completion")


async def complete_fast(scope: Scope, receive: Receive, send: Send, principal: Principal) -> bool:
    """Complete a job without the framework's routing and validation, when the request is
        the plain, valid kind every job worker sends (``{}`` or ``{"variables": {...}}``); True
        when it was answered.

        Completions are most of a busy server's requests, and FastAPI's routing, dependencies
        and body models cost several times what the engine does for one. Anything else (another
        path, a body this does not understand, a principal limited to some job types or
        processes) returns
        False before anything happened; an engine error too (the engine changed nothing), so that
        :func:`complete_job` answers it as it answers every request, error shapes included. The
        request's body is then replayed to it (see :func:`replay`). (The body's size was checked
    by the server's gate already.)
    """
    match = _COMPLETION_PATH.fullmatch(scope["path"])
    if match is None or scope["method"] != "POST":
        return False
    if (
        not principal.may(JOBS_WORK)
        or (principal.job_types is not None and "admin" not in principal.roles)
        or principal.processes is not None
    ):
        return False
    body = await _read_body(scope, receive)
    if body is None:
        return False
    try:
        parsed = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        return False
    if not isinstance(parsed, dict) or set(parsed) - {"variables"}:
        return False
    variables = parsed.get("variables") or {}
    if not isinstance(variables, dict):
        return False
    engine: Engine = scope["app"].state.engine
    try:
        await engine.complete_job_async(int(match.group(1)), variables)
    except Exception:
        return False
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
    return True


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole request body (None when the client went away); the messages read are kept
    in the scope for :func:`replay`."""
    messages: list[Message] = scope.setdefault("legato.messages", [])
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages)


def replay(scope: Scope, receive: Receive) -> Receive:
    """The request's ``receive`` again, giving first what :func:`complete_fast` read."""
    read: list[Message] = scope.pop("legato.messages", [])
    if not read:
        return receive

    async def again() -> Message:
        if read:
            return read.pop(0)
        return await receive()

    return again
