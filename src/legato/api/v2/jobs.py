"""Jobs for external workers: activation (long polling), completion, failure, BPMN errors,
and changes of a job's retries and lease.

A principal with the ``worker`` role may activate and finish only the job types its key
names (:meth:`~legato.security.Principal.may_work_on`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from legato.api.deps import EngineDep, PrincipalDep, require
from legato.api.problems import BadRequest, Forbidden, NotFound
from legato.api.v2.common import (
    DEFAULT_TENANT,
    KeyText,
    Out,
    Strict,
    Tenant,
    echo_tenant,
    epoch_ms,
    parse_key,
    plain,
    require_any,
)
from legato.runtime.engine import Engine
from legato.runtime.types import Job
from legato.security import JOBS_MANAGE, JOBS_WORK, Principal
from legato.store.records import JobRecord

router = APIRouter(tags=["jobs"])

DEFAULT_REQUEST_TIMEOUT = dt.timedelta(seconds=10)
"""How long an activation waits for jobs when the request does not say (Zeebe's default)."""
_POLL_SECONDS = 0.2


class JobActivationRequest(Strict):
    """Activate up to ``maxJobsToActivate`` jobs of ``type`` for ``timeout`` ms."""

    type: str = Field(min_length=1)
    worker: str | None = None
    timeout: int = Field(gt=0)
    """How long the jobs are leased to this worker, in ms."""
    maxJobsToActivate: int = Field(gt=0, le=10_000)
    fetchVariable: list[str] | None = None
    """The variables to fetch; all visible ones when absent or empty."""
    requestTimeout: int | None = None
    """How long to wait for jobs, in ms: 0 or absent for the server's default (10 s), a
    negative number to answer at once."""
    tenantIds: list[Tenant] | None = None
    withLease: bool | None = None


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
    variables: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


class JobFailRequest(Strict):
    retries: int = Field(default=0, ge=0)
    """The attempts left: 0 raises an incident."""
    errorMessage: str | None = None
    retryBackOff: int = Field(default=0, ge=0)
    """How long to wait before the job may be activated again, in ms."""
    variables: dict[str, Any] | None = None


class JobErrorRequest(Strict):
    errorCode: str = Field(min_length=1)
    errorMessage: str | None = None
    variables: dict[str, Any] | None = None


class JobChangeset(Strict):
    retries: int | None = Field(default=None, ge=0)
    timeout: int | None = Field(default=None, gt=0)
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
    polling, without holding a thread)."""
    for tenant in body.tenantIds or ():
        echo_tenant(tenant)
    if not principal.may_work_on(body.type):
        raise Forbidden(f"'{principal.name}' may not work on jobs of type '{body.type}'")
    engine: Engine = request.app.state.engine
    wait = _request_timeout(body.requestTimeout)
    worker = body.worker or principal.name
    lease = dt.timedelta(milliseconds=body.timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait.total_seconds()
    parked = False
    try:
        while True:
            jobs = await run_in_threadpool(
                engine.activate_jobs,
                body.type,
                worker=worker,
                max_jobs=body.maxJobsToActivate,
                timeout=lease,
            )
            if jobs or loop.time() >= deadline or request.app.state.stopping:
                break
            if not parked:
                parked = True
                request.app.state.parked_polls += 1
            await asyncio.sleep(min(_POLL_SECONDS, max(deadline - loop.time(), 0)))
    finally:
        if parked:
            request.app.state.parked_polls -= 1
    if not jobs:
        return JobActivationResult(jobs=[])
    results = await run_in_threadpool(_results, engine, jobs, worker, lease, body.fetchVariable)
    return JobActivationResult(jobs=results)


def _request_timeout(milliseconds: int | None) -> dt.timedelta:
    if milliseconds is None or milliseconds == 0:
        return DEFAULT_REQUEST_TIMEOUT
    if milliseconds < 0:
        return dt.timedelta(0)
    return dt.timedelta(milliseconds=milliseconds)


def _results(
    engine: Engine,
    jobs: list[Job],
    worker: str,
    lease: dt.timedelta,
    fetch: list[str] | None,
) -> list[ActivatedJobResult]:
    with engine.store.transaction() as tx:
        instances = {r.instance_key: r for r in tx.get_instances([j.instance_key for j in jobs])}
    now = engine.clock.now()
    results = []
    for job in jobs:
        instance = instances.get(job.instance_key)
        variables = job.variables
        if fetch:
            variables = {name: variables[name] for name in fetch if name in variables}
        deadline = job.context.deadline if job.context and job.context.deadline else now + lease
        results.append(
            ActivatedJobResult(
                jobKey=str(job.key),
                type=job.type,
                processDefinitionId=job.process_id,
                processDefinitionVersion=instance.version if instance else 0,
                processDefinitionKey=str(instance.definition_key if instance else 0),
                processInstanceKey=str(job.instance_key),
                rootProcessInstanceKey=str(job.instance_key),
                elementId=job.element_id,
                elementInstanceKey=str(job.element_instance_key),
                customHeaders=dict(job.headers),
                worker=worker,
                retries=job.retries,
                deadline=epoch_ms(deadline),
                variables=plain(variables),
                businessId=job.business_key,
            )
        )
    return results


def _job(engine: Engine, key: int) -> JobRecord:
    with engine.store.transaction() as tx:
        job = tx.get_job(key)
    if job is None:
        raise NotFound(f"no active job with key {key}")
    return job


def _workable(engine: Engine, principal: Principal, key: int) -> JobRecord:
    job = _job(engine, key)
    if not principal.may_work_on(job.job_type):
        raise Forbidden(f"'{principal.name}' may not work on jobs of type '{job.job_type}'")
    return job


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
        retryable=body.retries > 0,
        retry_after=dt.timedelta(milliseconds=body.retryBackOff),
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
    job = _job(engine, key)
    if not (principal.may(JOBS_MANAGE) or principal.may_work_on(job.job_type)):
        raise Forbidden(f"'{principal.name}' may not change jobs of type '{job.job_type}'")
    changes = body.changeset
    if changes.timeout is not None:
        until = engine.clock.now() + dt.timedelta(milliseconds=changes.timeout)
        with engine.store.transaction() as tx:
            held = tx.extend_leases([key], job.worker or "", until)
        if not held:
            raise NotFound(f"job {key} is not activated")
    if changes.retries is not None:
        raise BadRequest("changeset.retries: changing retries is not supported yet")
    return Response(status_code=204)
