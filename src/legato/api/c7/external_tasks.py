"""``/external-task``: Camunda 7 external workers on Legato jobs.

A Camunda external task is a Legato job; its topic is the job type. ``fetchAndLock`` is a
long poll that parks without a thread (``Engine.fetch_jobs_async`` wakes on commit) and
answers ``[]`` when ``asyncResponseTimeout`` runs out. ``complete``, ``failure`` and
``bpmnError`` answer 204, as the Python client checks.

Deliberate difference from Camunda 7: a BPMN error that no boundary or event subprocess
catches raises an incident on the instance (Camunda 7 ends the execution silently and only
logs it). Otherwise the semantics are Camunda's:

- ``failure`` with ``retries`` null means 0, which raises an incident at once;
- a task is locked by worker id, and ``complete`` by another worker is refused (an expired
  lock does not block completion);
- ``retries`` is null on a task until its first failure, so the worker's own retry count
  applies, as with Camunda.

A principal with the ``worker`` role may fetch and finish only the topics its key allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from legato.api.c7 import ids
from legato.api.c7.dates import format_date
from legato.api.c7.dto import process_definitions, version_tag
from legato.api.c7.errors import C7Error, bad_request, engine_error, not_found
from legato.api.c7.ids import Kind
from legato.api.c7.routing import (
    C7Route,
    as_object,
    flag,
    integer,
    json_body,
    no_content,
    ok,
    page_of,
    strings,
    text,
)
from legato.api.c7.variables import decode_variables, encode_variables
from legato.api.deps import EngineDep, ViewerDep, require
from legato.api.secrets import jobs_for_worker
from legato.errors import InvalidCommandError, JobStateError, NotFoundError, TooManyRequestsError
from legato.runtime.engine import Engine
from legato.runtime.types import ActivatedJob, JobRequest
from legato.security import JOBS_MANAGE, JOBS_WORK, Principal
from legato.security.sensitive import Viewer

router = APIRouter(prefix="/external-task", route_class=C7Route, tags=["c7: external tasks"])

MAX_ASYNC_RESPONSE_TIMEOUT = 1_800_000
"""The longest long poll Camunda allows, in milliseconds."""
TOO_MANY = (
    "At the moment the server has to handle too many requests at the same time. "
    "Please try again later."
)

Worker = Annotated[Principal, Depends(require(JOBS_WORK))]
Manager = Annotated[Principal, Depends(require(JOBS_MANAGE))]
AnyBody = Annotated[Any, Body()]


# -- fetch and lock -------------------------------------------------------------------------------


@router.post("/fetchAndLock")
async def fetch_and_lock(request: Request, engine: EngineDep, principal: Worker) -> Response:
    """Lock up to ``maxTasks`` tasks of the given topics for ``workerId`` (long poll)."""
    body = await json_body(request)
    worker = text(body, "workerId")
    if not worker:
        raise bad_request("workerId is required")
    max_tasks = integer(body, "maxTasks") or 0
    wait = integer(body, "asyncResponseTimeout", None)
    if wait is not None and wait > MAX_ASYNC_RESPONSE_TIMEOUT:
        raise bad_request(
            "The asynchronous response timeout cannot be set to a value greater than "
            f"{MAX_ASYNC_RESPONSE_TIMEOUT} milliseconds"
        )
    if wait is not None and wait < 0:
        raise bad_request("The asynchronous response timeout cannot be negative")
    _check_sorting(body.get("sorting"))
    topics = body.get("topics")
    if not isinstance(topics, list):
        raise bad_request("topics must be a list")
    if any(isinstance(t, Mapping) and t.get("processDefinitionVersionTag") for t in topics):
        # The version tags are looked up in the database: not on the event loop.
        requests = await run_in_threadpool(
            lambda: [_job_request(topic, principal, engine) for topic in topics]
        )
    else:
        requests = [_job_request(topic, principal, engine) for topic in topics]
    wanted = [r for r in requests if r is not None]
    if max_tasks <= 0 or not wanted:
        return ok([])
    extension = flag(body.get("includeExtensionProperties")) or any(
        isinstance(t, Mapping) and flag(t.get("includeExtensionProperties")) for t in topics
    )
    try:
        jobs = await engine.fetch_jobs_async(
            wanted,
            worker=worker,
            max_jobs=max_tasks,
            request_timeout=timedelta(milliseconds=wait or 0),
            use_priority=flag(body.get("usePriority")),
        )
    except TooManyRequestsError:
        raise engine_error(TOO_MANY) from None
    except InvalidCommandError as error:
        raise bad_request(str(error)) from None
    if jobs and principal.job_types is not None:  # only such keys may read secrets
        jobs = await run_in_threadpool(jobs_for_worker, engine, principal, jobs)
    return ok([locked_task(job, extension) for job in jobs])


@router.get("")
def list_external_tasks(
    request: Request, engine: EngineDep, principal: Manager, viewer: ViewerDep
) -> Response:
    """External tasks (jobs) as ``ExternalTaskDto``, oldest first, filtered and paged by
    Camunda's query parameters (for operators; an error that quotes a sensitive value of the
    instance is masked unless the caller may reveal it)."""
    return ok(_external_task_query(engine, request.query_params, viewer))


@router.get("/count")
def count_external_tasks(request: Request, engine: EngineDep, principal: Manager) -> Response:
    """How many external tasks match the query parameters."""
    params = {k: v for k, v in request.query_params.items() if k not in _PAGING}
    return ok({"count": len(_external_task_query(engine, params, Viewer()))})


_PAGING = ("firstResult", "maxResults")


def _external_task_query(
    engine: Engine, params: Mapping[str, str], viewer: Viewer
) -> list[dict[str, Any]]:
    instance_key = None
    if params.get("processInstanceId"):
        instance_key = ids.key_of(Kind.INSTANCE, params["processInstanceId"])
        if instance_key is None:
            return []
    now = engine.clock.now()
    found = []
    for record in engine.jobs(instance_key=instance_key, viewer=viewer):
        try:
            job = engine.job(record.job_key)
        except NotFoundError:
            continue  # finished since it was listed
        if _external_task_matches(job, params, now):
            dto = external_task(job)
            dto["errorMessage"] = record.error_message
            dto["errorDetails"] = record.error_details
            found.append(dto)
    return found[page_of(params)]


def _external_task_matches(job: ActivatedJob, params: Mapping[str, str], now: datetime) -> bool:
    locked = bool(job.worker) and job.deadline is not None and job.deadline > now
    checks: dict[str, Callable[[str], bool]] = {
        "externalTaskId": lambda v: ids.to_uuid(Kind.EXTERNAL_TASK, job.key) == v,
        "topicName": lambda v: job.type == v,
        "workerId": lambda v: job.worker == v,
        "activityId": lambda v: job.element_id == v,
        "processDefinitionKey": lambda v: job.process_id == v,
        "locked": lambda v: not flag(v) or locked,
        "notLocked": lambda v: not flag(v) or not locked,
        "withRetriesLeft": lambda v: not flag(v) or job.state != "failed",
        "noRetriesLeft": lambda v: not flag(v) or job.state == "failed",
    }
    return all(check(params[name]) for name, check in checks.items() if params.get(name))


def _check_sorting(sorting: Any) -> None:
    if sorting is None:
        return
    if not isinstance(sorting, list):
        raise bad_request("sorting must be a list")
    for entry in sorting:
        if not isinstance(entry, Mapping) or entry.get("sortBy") != "createTime":
            raise bad_request("Cannot sort by anything but 'createTime'")
        if str(entry.get("sortOrder", "")).lower() not in ("asc", "desc"):
            raise bad_request("sortOrder must be 'asc' or 'desc'")


def _job_request(topic: Any, principal: Principal, engine: Engine) -> JobRequest | None:
    """The job request of one ``topics[]`` entry (None when its filters can match nothing:
    a tenant, an unknown definition or version tag)."""
    if not isinstance(topic, Mapping):
        raise bad_request("every topic must be an object")
    name = text(topic, "topicName")
    if not name:
        raise bad_request("topicName is required")
    if not principal.may_work_on(name):
        raise C7Error(
            403,
            f"The user with id '{principal.name}' does not have the permission to work on "
            f"topic '{name}'",
            "AuthorizationException",
        )
    lock = integer(topic, "lockDuration") or 0
    if lock <= 0:
        raise bad_request(f"lockDuration of topic '{name}' must be greater than 0")
    if strings(topic, "tenantIdIn"):
        return None  # Legato keeps no tenants: no task has one.
    process_ids = _one_and_many(topic, "processDefinitionKey", "processDefinitionKeyIn")
    definition_ids = _one_and_many(topic, "processDefinitionId", "processDefinitionIdIn")
    definition_keys = None
    if definition_ids is not None:
        definition_keys = [k for k in map(ids.definition_key_of, definition_ids) if k is not None]
        if not definition_keys:
            return None
    tag = text(topic, "processDefinitionVersionTag")
    if tag is not None:
        tagged = {r.definition_key for r in process_definitions(engine) if version_tag(r) == tag}
        if definition_keys is not None:
            tagged &= set(definition_keys)
        if not tagged:
            return None
        definition_keys = sorted(tagged)
    process_variables = topic.get("processVariables")
    if process_variables is not None and not isinstance(process_variables, Mapping):
        raise bad_request("processVariables must be an object")
    variables = topic.get("variables")
    if variables is not None and (
        not isinstance(variables, list) or not all(isinstance(v, str) for v in variables)
    ):
        raise bad_request("variables must be a list of names")
    return JobRequest(
        job_type=name,
        timeout=timedelta(milliseconds=lock),
        variables=variables,
        local_variables=flag(topic.get("localVariables")),
        business_key=text(topic, "businessKey"),
        process_ids=process_ids,
        definition_keys=definition_keys,
        process_variables=dict(process_variables) if process_variables else None,
    )


def _one_and_many(topic: Mapping[str, Any], one: str, many: str) -> list[str] | None:
    single = text(topic, one)
    several = strings(topic, many)
    if single is None and several is None:
        return None
    return ([single] if single is not None else []) + (several or [])


def external_task(job: ActivatedJob) -> dict[str, Any]:
    """A job as Camunda's ``ExternalTaskDto`` (every key pycamunda's loader requires)."""
    return {
        "activityId": job.element_id,
        "activityInstanceId": ids.activity_instance_id(job.element_id, job.element_instance_key),
        "errorMessage": job.error_message,
        "errorDetails": job.error_details,
        "executionId": ids.to_uuid(Kind.EXECUTION, job.element_instance_key),
        "id": ids.to_uuid(Kind.EXTERNAL_TASK, job.key),
        "lockExpirationTime": format_date(job.deadline),
        "createTime": format_date(job.created_at),
        "processDefinitionId": ids.definition_id(job.process_id, job.version, job.definition_key),
        "processDefinitionKey": job.process_id,
        "processDefinitionVersionTag": None,
        "processInstanceId": ids.to_uuid(Kind.INSTANCE, job.instance_key),
        # Camunda's retries are null until the first failure: the worker's count applies.
        "retries": job.retries if job.error_message is not None else None,
        "suspended": job.suspended,
        "workerId": job.worker or None,
        "topicName": job.type,
        "tenantId": None,
        "priority": job.priority,
        "businessKey": job.business_key,
    }


def locked_task(job: ActivatedJob, extension_properties: bool) -> dict[str, Any]:
    """A job as Camunda's ``LockedExternalTaskDto``: the task plus its variables."""
    dto = external_task(job)
    dto["variables"] = encode_variables(job.variables)
    dto["extensionProperties"] = dict(job.properties) if extension_properties else {}
    return dto


# -- finishing a task ----------------------------------------------------------------------------


def _job_key(task_id: str) -> int:
    key = ids.key_of(Kind.EXTERNAL_TASK, task_id)
    if key is None:
        raise not_found(f"External task with id {task_id} does not exist")
    return key


def _locked_job(engine: Engine, task_id: str, principal: Principal | None) -> ActivatedJob:
    key = _job_key(task_id)
    try:
        job = engine.job(key)
    except NotFoundError:
        raise not_found(f"External task with id {task_id} does not exist") from None
    if principal is not None and not principal.may_work_on(job.type):
        raise C7Error(
            403,
            f"The user with id '{principal.name}' does not have the permission to work on "
            f"topic '{job.type}'",
            "AuthorizationException",
        )
    return job


def _check_worker(job: ActivatedJob, task_id: str, worker: str | None, action: str) -> None:
    if worker is None:
        raise bad_request("workerId is required")
    if job.worker != worker:
        raise bad_request(
            f"External Task {task_id} cannot be {action} by worker '{worker}'. "
            f"It is locked by worker '{job.worker or None}'."
        )


_RENEWED_LEASE = timedelta(minutes=1)
"""How long the lease of a task whose lock expired is renewed for its worker's last word."""


def _finish(
    engine: Engine, job: ActivatedJob, worker: str | None, action: str, call: Callable[[], None]
) -> None:
    """Run ``call`` (complete, fail, throw): as in Camunda, an expired lock does not stop
    the worker that held it while nobody else has locked the task since. Legato's engine
    refuses a stale lease, so the lease is renewed for that worker first."""
    task_id = ids.to_uuid(Kind.EXTERNAL_TASK, job.key)
    try:
        call()
        return
    except NotFoundError as error:
        raise _refused(task_id, action, error) from None
    except JobStateError as error:
        refusal = error
    try:
        current = engine.job(job.key)
        if worker is None or current.worker != worker or current.state != "activated":
            raise refusal
        engine.lock_job(job.key, worker=worker, timeout=_RENEWED_LEASE)
        call()
    except (JobStateError, NotFoundError) as error:
        raise _refused(task_id, action, error) from None


def _refused(task_id: str, action: str, error: Exception) -> C7Error:
    if isinstance(error, NotFoundError):
        return not_found(f"External task with id {task_id} does not exist")
    return bad_request(f"External Task {task_id} cannot be {action}: {error}")


@router.post("/{task_id}/complete", status_code=204)
def complete(task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None) -> Response:
    """Complete a task: ``variables`` go to the instance, ``localVariables`` to the task."""
    data = as_object(body)
    worker = text(data, "workerId")
    job = _locked_job(engine, task_id, principal)
    _check_worker(job, task_id, worker, "completed")
    variables = decode_variables(data.get("variables"))
    local = decode_variables(data.get("localVariables"))
    _finish(
        engine,
        job,
        worker,
        "completed",
        lambda: engine.complete_job(
            job.key, variables, worker=worker, local_variables=local or None
        ),
    )
    return no_content()


@router.post("/{task_id}/failure", status_code=204)
def failure(task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None) -> Response:
    """Report a failed attempt: ``retries`` left (null is 0, an incident at once) and the
    ``retryTimeout`` before the task may be fetched again."""
    data = as_object(body)
    worker = text(data, "workerId")
    retries = integer(data, "retries") or 0
    retry_timeout = integer(data, "retryTimeout") or 0
    if retries < 0:
        raise bad_request("retries cannot be negative")
    if retry_timeout < 0:
        raise bad_request("retryTimeout cannot be negative")
    job = _locked_job(engine, task_id, principal)
    _check_worker(job, task_id, worker, "failed")
    variables = decode_variables(data.get("variables"))
    local = decode_variables(data.get("localVariables"))
    _finish(
        engine,
        job,
        worker,
        "failed",
        lambda: engine.fail_job(
            job.key,
            text(data, "errorMessage") or "",
            retries=retries,
            retry_after=timedelta(milliseconds=retry_timeout),
            worker=worker,
            error_details=text(data, "errorDetails"),
            variables=variables or None,
            local_variables=local or None,
        ),
    )
    return no_content()


@router.post("/{task_id}/bpmnError", status_code=204)
def bpmn_error(
    task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None
) -> Response:
    """Throw a BPMN error from a task; an uncaught one raises an incident (unlike Camunda
    7, which ends the execution silently)."""
    data = as_object(body)
    worker = text(data, "workerId")
    code = text(data, "errorCode")
    if not code:
        raise bad_request("errorCode is required")
    job = _locked_job(engine, task_id, principal)
    _check_worker(job, task_id, worker, "reported a BPMN error")
    variables = decode_variables(data.get("variables"))
    message = text(data, "errorMessage") or ""
    _finish(
        engine,
        job,
        worker,
        "reported a BPMN error",
        lambda: engine.throw_error(job.key, code, message, variables, worker=worker),
    )
    return no_content()


# -- locks and retries ---------------------------------------------------------------------------


@router.post("/{task_id}/extendLock", status_code=204)
def extend_lock(
    task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None
) -> Response:
    """Lock the task for ``newDuration`` ms from now (its worker only, before it expires)."""
    data = as_object(body)
    worker = text(data, "workerId")
    duration = integer(data, "newDuration") or 0
    if duration <= 0:
        raise bad_request(
            f"Cannot extend a lock of external task {task_id}: newDuration must be greater than 0"
        )
    job = _locked_job(engine, task_id, principal)
    if worker is None or job.worker != worker:
        raise bad_request(
            f"The lock of the External Task {task_id} cannot be extended by worker '{worker}'"
        )
    if job.deadline is None or job.deadline <= engine.clock.now():
        raise bad_request("Cannot extend a lock that expired")
    try:
        engine.update_job(job.key, timeout=timedelta(milliseconds=duration), worker=worker)
    except (JobStateError, NotFoundError) as error:
        raise _refused(task_id, "extended", error) from None
    return no_content()


@router.post("/{task_id}/unlock", status_code=204)
def unlock(task_id: str, engine: EngineDep, principal: Worker) -> Response:
    """Clear the task's lock and worker: it may be fetched again at once."""
    job = _locked_job(engine, task_id, principal)
    try:
        engine.unlock_job(job.key)
    except (JobStateError, NotFoundError) as error:
        raise _refused(task_id, "unlocked", error) from None
    return no_content()


@router.post("/{task_id}/lock", status_code=204)
def lock(task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None) -> Response:
    """Lock the task for ``workerId`` for ``lockDuration`` ms without fetching it."""
    data = as_object(body)
    worker = text(data, "workerId")
    duration = integer(data, "lockDuration") or 0
    if duration <= 0:
        raise bad_request(
            f"Cannot lock external task {task_id}: lockDuration must be greater than 0"
        )
    if not worker:
        raise bad_request("workerId is required")
    job = _locked_job(engine, task_id, principal)
    if job.worker and job.worker != worker and job.deadline and job.deadline > engine.clock.now():
        raise bad_request(
            f"External Task {task_id} cannot be locked by worker '{worker}'. "
            f"It is locked by worker '{job.worker}'."
        )
    try:
        engine.lock_job(job.key, worker=worker, timeout=timedelta(milliseconds=duration))
    except (JobStateError, NotFoundError) as error:
        raise _refused(task_id, "locked", error) from None
    return no_content()


@router.put("/{task_id}/retries", status_code=204)
def set_retries(
    task_id: str, engine: EngineDep, principal: Manager, body: AnyBody = None
) -> Response:
    """Set the task's retries; more than 0 resolves its incident."""
    data = as_object(body)
    retries = integer(data, "retries", None)
    if retries is None or retries < 0:
        raise bad_request("retries must be a number of 0 or more")
    job = _locked_job(engine, task_id, None)
    try:
        engine.update_job(job.key, retries=retries)
    except (JobStateError, NotFoundError) as error:
        raise _refused(task_id, "changed", error) from None
    return no_content()


@router.get("/{task_id}")
def get_external_task(task_id: str, engine: EngineDep, principal: Worker) -> Response:
    """One task as ``ExternalTaskDto`` (without variables)."""
    return ok(external_task(_locked_job(engine, task_id, principal)))


@router.get("/{task_id}/errorDetails")
def error_details(task_id: str, engine: EngineDep, principal: Worker) -> Response:
    """The error details of the task's last failure, as plain text (204 when there are
    none, which camunda-client reads as "no details")."""
    job = _locked_job(engine, task_id, principal)
    if job.error_details is None:
        return no_content()
    return Response(job.error_details, media_type="text/plain")
