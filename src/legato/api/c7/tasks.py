"""``/task``: Camunda 7 user tasks (query, claim, unclaim, assign, complete, submit a form).

A person (a principal without ``tasks:manage``) sees and works on only the tasks visible to
them: assigned to them, or with them or one of their groups as candidates; another task is
"does not exist" to them. Claiming a task someone else holds is 500
``TaskAlreadyClaimedException``, as Camunda answers (the ``/v2`` surface answers 409).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from legato.api.c7 import ids
from legato.api.c7.conditions import (
    Condition,
    conditions_from_json,
    conditions_from_text,
    refuse_probes,
)
from legato.api.c7.dates import format_date
from legato.api.c7.errors import C7Error, bad_request, engine_error, not_found
from legato.api.c7.ids import Kind
from legato.api.c7.routing import (
    C7Route,
    as_object,
    flag,
    json_body,
    no_content,
    ok,
    page_of,
    text,
)
from legato.api.c7.variables import decode_variables, encode_value, encode_variables
from legato.api.deps import EngineDep, ViewerDep, declare, principal_of
from legato.api.problems import Forbidden
from legato.errors import (
    FormValidationError,
    InvalidCommandError,
    NotFoundError,
    TaskConflictError,
)
from legato.runtime.engine import Engine
from legato.security import TASKS_MANAGE, TASKS_WORK, Principal
from legato.security.sensitive import Viewer
from legato.store.records import UserTaskRecord

router = APIRouter(prefix="/task", route_class=C7Route, tags=["c7: tasks"])

AnyBody = Annotated[Any, Body()]


async def require_task_work(request: Request) -> Principal:
    """The caller, who must work on tasks (``tasks:work``) or manage them
    (``tasks:manage``); 403 otherwise."""
    principal = principal_of(request)
    if not (principal.may(TASKS_WORK) or principal.may(TASKS_MANAGE)):
        raise Forbidden(f"'{principal.name}' may not do this: it needs '{TASKS_WORK}'")
    return principal


declare(require_task_work, (TASKS_WORK, TASKS_MANAGE))
Worker = Annotated[Principal, Depends(require_task_work)]

_QUERY_LIMIT = 100_000
"""The most tasks one query reads (Camunda's queries are unbounded)."""


# -- queries -------------------------------------------------------------------------------------


@router.get("")
def list_tasks(request: Request, engine: EngineDep, principal: Worker) -> Response:
    """Open tasks matching the query parameters, as ``TaskDto``."""
    params = dict(request.query_params)
    return ok(_page(_query(engine, principal, params), params))


@router.post("")
async def query_tasks(request: Request, engine: EngineDep, principal: Worker) -> Response:
    """Open tasks matching the JSON body's filters (paging from the query string)."""
    body = await json_body(request)
    params = {**body, **dict(request.query_params)}
    tasks = await _threaded(lambda: _page(_query(engine, principal, params), params))
    return ok(tasks)


@router.post("/count")
async def count_tasks(request: Request, engine: EngineDep, principal: Worker) -> Response:
    """How many open tasks match the JSON body's filters: ``{"count": n}``."""
    body = await json_body(request)
    found = await _threaded(lambda: _query(engine, principal, body))
    return ok({"count": len(found)})


@router.get("/count")
def count_tasks_get(request: Request, engine: EngineDep, principal: Worker) -> Response:
    """How many open tasks match the query parameters."""
    return ok({"count": len(_query(engine, principal, dict(request.query_params)))})


async def _threaded(work: Callable[[], Any]) -> Any:
    return await run_in_threadpool(work)


def _query(engine: Engine, principal: Principal, params: Mapping[str, Any]) -> list[UserTaskRecord]:
    if params.get("orQueries") or params.get("taskVariables"):
        raise bad_request("Legato does not query tasks by 'orQueries' or 'taskVariables'")
    by_variables = _process_variable_conditions(params.get("processVariables"))
    refuse_probes(engine, principal, by_variables, _text(params, "processDefinitionKey"))
    candidate_group = _text(params, "candidateGroup")
    candidate_user = _text(params, "candidateUser")
    candidate_groups = _names(params.get("candidateGroups"))
    candidates = candidate_group or candidate_user or candidate_groups
    instance_key = _key(params, "processInstanceId", Kind.INSTANCE)
    definition_key = None
    if _text(params, "processDefinitionId") is not None:
        definition_key = ids.definition_key_of(str(params["processDefinitionId"])) or -1
    task_key = _key(params, "taskId", Kind.TASK)
    if -1 in (instance_key, task_key):
        return []
    tasks = engine.user_tasks(
        state="created",
        assignee=_text(params, "assignee"),
        candidate_user=candidate_user,
        candidate_group=candidate_group,
        candidate_groups=candidate_groups,
        visible_to=_visibility(principal),
        instance_key=instance_key,
        process_id=_text(params, "processDefinitionKey"),
        definition_key=definition_key,
        element_id=_text(params, "taskDefinitionKey"),
        user_task_key=task_key,
        include_assigned=flag(params.get("includeAssignedTasks")) or not candidates,
        unassigned_only=flag(params.get("unassigned")),
        limit=_QUERY_LIMIT,
    )
    found = [t for t in tasks if _matches(t, params)]
    if by_variables:
        variables: dict[int, dict[str, Any]] = {}
        for task in found:
            if task.instance_key not in variables:
                variables[task.instance_key] = engine.instance(task.instance_key).variables
        found = [t for t in found if all(c(variables[t.instance_key]) for c in by_variables)]
    return found


def _process_variable_conditions(value: Any) -> list[Condition]:
    if isinstance(value, str):
        return conditions_from_text(value)
    return conditions_from_json(value)


def _matches(task: UserTaskRecord, params: Mapping[str, Any]) -> bool:
    checks: list[bool] = []
    if flag(params.get("assigned")):
        checks.append(task.assignee is not None)
    if (name := _text(params, "name")) is not None:
        checks.append(task.name == name)
    if (keys := _names(params.get("processDefinitionKeyIn"))) is not None:
        checks.append(task.process_id in keys)
    if (elements := _names(params.get("taskDefinitionKeyIn"))) is not None:
        checks.append(task.element_id in elements)
    if (business_key := _text(params, "processInstanceBusinessKey")) is not None:
        checks.append(task.business_key == business_key)
    if (instances := _names(params.get("processInstanceIdIn"))) is not None:
        checks.append(ids.to_uuid(Kind.INSTANCE, task.instance_key) in instances)
    return all(checks)


def _page(tasks: list[UserTaskRecord], params: Mapping[str, Any]) -> list[Any]:
    sort_by, order = _sorting(params)
    if sort_by is not None:
        tasks = sorted(tasks, key=_SORTS[sort_by], reverse=order == "desc")
    return [task_dto(t) for t in tasks[page_of(params)]]


_SORTS: dict[str, Callable[[UserTaskRecord], Any]] = {
    "created": lambda t: t.created_at,
    "name": lambda t: t.name or "",
    "nameCaseInsensitive": lambda t: (t.name or "").lower(),
    "priority": lambda t: t.priority,
    "assignee": lambda t: t.assignee or "",
    "id": lambda t: t.user_task_key,
    "dueDate": lambda t: t.due_at or datetime.max.replace(tzinfo=t.created_at.tzinfo),
    "followUpDate": lambda t: t.follow_up_at or datetime.max.replace(tzinfo=t.created_at.tzinfo),
    "instanceId": lambda t: t.instance_key,
    "processInstanceId": lambda t: t.instance_key,
    "taskDefinitionKey": lambda t: t.element_id,
}


def _sorting(params: Mapping[str, Any]) -> tuple[str | None, str]:
    sorting = params.get("sorting")
    if isinstance(sorting, list):
        sorting = sorting[0] if sorting else None
    if isinstance(sorting, Mapping):
        sort_by, order = sorting.get("sortBy"), sorting.get("sortOrder")
    else:
        sort_by, order = params.get("sortBy"), params.get("sortOrder")
    if sort_by is None:
        return None, "asc"
    if sort_by not in _SORTS:
        raise bad_request(f"Cannot set query parameter 'sortBy' to value '{sort_by}'")
    return str(sort_by), str(order or "asc").lower()


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    return None if value is None or value == "" else str(value)


def _names(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise bad_request("a list filter must be a list or comma-separated text")


def _key(params: Mapping[str, Any], name: str, kind: Kind) -> int | None:
    value = _text(params, name)
    if value is None:
        return None
    key = ids.key_of(kind, value)
    return -1 if key is None else key


def _visibility(principal: Principal) -> tuple[str, tuple[str, ...]] | None:
    if principal.may(TASKS_MANAGE):
        return None
    return principal.name, tuple(sorted(principal.groups))


def task_dto(task: UserTaskRecord) -> dict[str, Any]:
    """A user task as ``TaskDto`` (every key pycamunda and camunda-client require)."""
    return {
        "id": ids.to_uuid(Kind.TASK, task.user_task_key),
        # camunda-client requires a name: a task drawn without one shows its element id.
        "name": task.name if task.name is not None else task.element_id,
        "assignee": task.assignee,
        "owner": task.owner,
        "description": None,
        "priority": task.priority,
        "created": format_date(task.created_at),
        "due": format_date(task.due_at),
        "followUp": format_date(task.follow_up_at),
        "lastUpdated": format_date(task.updated_at),
        "delegationState": task.delegation_state,
        "executionId": ids.to_uuid(Kind.EXECUTION, task.element_instance_key),
        "processDefinitionId": ids.definition_id(
            task.process_id, task.process_version, task.definition_key
        ),
        "processInstanceId": ids.to_uuid(Kind.INSTANCE, task.instance_key),
        "taskDefinitionKey": task.element_id,
        "parentTaskId": None,
        "caseExecutionId": None,
        "caseInstanceId": None,
        "caseDefinitionId": None,
        "suspended": False,
        "formKey": task.form_key,
        "camundaFormRef": None,
        "tenantId": None,
        "taskState": "Created" if task.state == "created" else task.state.capitalize(),
    }


# -- one task ------------------------------------------------------------------------------------


def _task(engine: Engine, principal: Principal, task_id: str) -> UserTaskRecord:
    key = ids.key_of(Kind.TASK, task_id)
    task = None
    if key is not None:
        found = engine.user_tasks(
            state="created", user_task_key=key, visible_to=_visibility(principal), limit=1
        )
        task = found[0] if found else None
    if task is None:
        raise not_found(f"No matching task with id {task_id}")
    return task


@router.get("/{task_id}")
def get_task(task_id: str, engine: EngineDep, principal: Worker) -> Response:
    """One open task."""
    return ok(task_dto(_task(engine, principal, task_id)))


@router.post("/{task_id}/claim", status_code=204)
def claim(task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None) -> Response:
    """Claim the task for ``userId``; someone else's is 500 ``TaskAlreadyClaimedException``."""
    user = text(as_object(body), "userId")
    if not user:
        raise bad_request("userId is required")
    _may_act_for(principal, user)
    task = _task(engine, principal, task_id)
    if task.assignee == user:
        return no_content()
    if task.assignee is not None:
        raise _already_claimed(task_id)
    try:
        engine.claim_user_task(task.user_task_key, user)
    except TaskConflictError:
        raise _already_claimed(task_id) from None
    return no_content()


def _already_claimed(task_id: str) -> C7Error:
    return engine_error(
        f"Task '{task_id}' is already claimed by someone else.", "TaskAlreadyClaimedException"
    )


def _may_act_for(principal: Principal, user: str | None) -> None:
    if user is not None and user != principal.name and not principal.may(TASKS_MANAGE):
        raise C7Error(
            403,
            f"The user with id '{principal.name}' may not act for user '{user}'",
            "AuthorizationException",
        )


@router.post("/{task_id}/unclaim", status_code=204)
def unclaim(task_id: str, engine: EngineDep, principal: Worker) -> Response:
    """Give the task back to its candidates."""
    task = _task(engine, principal, task_id)
    _may_act_for(principal, task.assignee)
    try:
        engine.unclaim_user_task(task.user_task_key, by=principal.name)
    except InvalidCommandError as error:
        raise bad_request(str(error), "BadUserRequestException") from None
    return no_content()


@router.post("/{task_id}/assignee", status_code=204)
def set_assignee(
    task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None
) -> Response:
    """Set the task's assignee (null clears it), whoever held it."""
    user = text(as_object(body), "userId")
    _may_act_for(principal, user)
    task = _task(engine, principal, task_id)
    try:
        engine.assign_user_task(task.user_task_key, user, allow_override=True, by=principal.name)
    except InvalidCommandError as error:
        raise bad_request(str(error), "BadUserRequestException") from None
    return no_content()


@router.post("/{task_id}/complete")
def complete(
    task_id: str, engine: EngineDep, principal: Worker, viewer: ViewerDep, body: AnyBody = None
) -> Response:
    """Complete the task with ``variables``: 204, or 200 with the instance's variables when
    ``withVariablesInReturn``."""
    return _complete(engine, principal, viewer, task_id, as_object(body), "complete")


@router.post("/{task_id}/submit-form")
def submit_form(
    task_id: str, engine: EngineDep, principal: Worker, viewer: ViewerDep, body: AnyBody = None
) -> Response:
    """Submit the task's form: as ``complete``; form validation errors are 400."""
    return _complete(engine, principal, viewer, task_id, as_object(body), "submit form of")


def _complete(
    engine: Engine,
    principal: Principal,
    viewer: Viewer,
    task_id: str,
    body: dict[str, Any],
    action: str,
) -> Response:
    variables = decode_variables(body.get("variables"))
    key = ids.key_of(Kind.TASK, task_id)
    try:
        task = _task(engine, principal, task_id)
    except C7Error:
        raise engine_error(
            f"Cannot {action} task {task_id}: Cannot find task with id {task_id}: task is null",
            "RestException",
        ) from None
    if task.assignee is not None and task.assignee != principal.name:
        _may_act_for(principal, task.assignee)
    assert key is not None
    try:
        # A task manager completes any task (as Camunda's REST does); a person only theirs.
        user = None if principal.may(TASKS_MANAGE) else principal.name
        engine.complete_user_task(key, variables, user=user)
    except FormValidationError as error:
        raise bad_request(
            f"Cannot {action} task {task_id}: {error}", "FormFieldValidatorException"
        ) from None
    except NotFoundError as error:
        raise engine_error(f"Cannot {action} task {task_id}: {error}", "RestException") from None
    except InvalidCommandError as error:
        raise bad_request(
            f"Cannot {action} task {task_id}: {error}", "BadUserRequestException"
        ) from None
    if flag(body.get("withVariablesInReturn")):
        return ok(encode_variables(engine.instance(task.instance_key, viewer=viewer).variables))
    return no_content()


@router.post("/{task_id}/delegate", status_code=204)
def delegate(task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None) -> Response:
    """Delegate the task to ``userId``: its assignee becomes its owner, the delegation is
    ``PENDING`` until it is resolved."""
    user = text(as_object(body), "userId")
    if not user:
        raise bad_request("userId is required")
    task = _task(engine, principal, task_id)
    _may_act_for(principal, task.assignee)
    try:
        engine.delegate_user_task(task.user_task_key, user, by=principal.name)
    except InvalidCommandError as error:
        raise bad_request(str(error), "BadUserRequestException") from None
    return no_content()


@router.post("/{task_id}/resolve", status_code=204)
def resolve(task_id: str, engine: EngineDep, principal: Worker, body: AnyBody = None) -> Response:
    """Hand a delegated task back to its owner, setting ``variables``."""
    variables = decode_variables(as_object(body).get("variables"))
    task = _task(engine, principal, task_id)
    _may_act_for(principal, task.assignee)
    try:
        engine.resolve_user_task(task.user_task_key, variables, by=principal.name)
    except InvalidCommandError as error:
        raise bad_request(str(error), "BadUserRequestException") from None
    return no_content()


@router.get("/{task_id}/identity-links")
def identity_links(task_id: str, engine: EngineDep, principal: Worker) -> Response:
    """Who the task is for: ``[{userId, groupId, type}]`` with types ``assignee``,
    ``owner`` and ``candidate``."""
    task = _task(engine, principal, task_id)
    links: list[dict[str, Any]] = []
    if task.assignee is not None:
        links.append({"userId": task.assignee, "groupId": None, "type": "assignee"})
    if task.owner is not None:
        links.append({"userId": task.owner, "groupId": None, "type": "owner"})
    links += [{"userId": u, "groupId": None, "type": "candidate"} for u in task.candidate_users]
    links += [{"userId": None, "groupId": g, "type": "candidate"} for g in task.candidate_groups]
    return ok(links)


def _visible_variables(
    engine: Engine, task: UserTaskRecord, viewer: Viewer, *, local: bool
) -> dict[str, Any]:
    """The variables the task's scope sees (inner scopes hide outer ones), or only its own,
    as ``viewer`` may see them."""
    return engine.user_task_variables(task.user_task_key, local=local, viewer=viewer)


@router.get("/{task_id}/variables")
def task_variables(
    task_id: str, engine: EngineDep, principal: Worker, viewer: ViewerDep
) -> Response:
    """The variables the task sees, typed."""
    task = _task(engine, principal, task_id)
    return ok(encode_variables(_visible_variables(engine, task, viewer, local=False)))


@router.get("/{task_id}/localVariables")
def task_local_variables(
    task_id: str, engine: EngineDep, principal: Worker, viewer: ViewerDep
) -> Response:
    """The task's own (local) variables, typed."""
    task = _task(engine, principal, task_id)
    return ok(encode_variables(_visible_variables(engine, task, viewer, local=True)))


@router.get("/{task_id}/variables/{name}")
def task_variable(
    task_id: str, name: str, engine: EngineDep, principal: Worker, viewer: ViewerDep
) -> Response:
    """One variable the task sees, typed (404 when there is none of that name)."""
    return _one_variable(engine, principal, viewer, task_id, name, local=False)


@router.get("/{task_id}/localVariables/{name}")
def task_local_variable(
    task_id: str, name: str, engine: EngineDep, principal: Worker, viewer: ViewerDep
) -> Response:
    """One local variable of the task, typed (404 when there is none of that name)."""
    return _one_variable(engine, principal, viewer, task_id, name, local=True)


def _one_variable(
    engine: Engine, principal: Principal, viewer: Viewer, task_id: str, name: str, *, local: bool
) -> Response:
    task = _task(engine, principal, task_id)
    variables = _visible_variables(engine, task, viewer, local=local)
    if name not in variables:
        kind = "task local variable" if local else "task variable"
        raise not_found(f"{kind} with name {name} does not exist")
    return ok(encode_value(variables[name]))


@router.put("/{task_id}/variables/{name}", status_code=204)
def put_task_variable(
    task_id: str, name: str, engine: EngineDep, principal: Worker, body: AnyBody = None
) -> Response:
    """Set a variable from the task: in the instance's root scope."""
    return _put_variable(engine, principal, task_id, name, as_object(body), local=False)


@router.put("/{task_id}/localVariables/{name}", status_code=204)
def put_task_local_variable(
    task_id: str, name: str, engine: EngineDep, principal: Worker, body: AnyBody = None
) -> Response:
    """Set a local variable of the task (its own scope)."""
    return _put_variable(engine, principal, task_id, name, as_object(body), local=True)


def _put_variable(
    engine: Engine,
    principal: Principal,
    task_id: str,
    name: str,
    typed: dict[str, Any],
    *,
    local: bool,
) -> Response:
    value = decode_variables({name: typed})
    task = _task(engine, principal, task_id)
    _may_act_for(principal, task.assignee)
    scope = task.element_instance_key if local else None
    try:
        engine.set_variables(task.instance_key, value, scope_key=scope)
    except InvalidCommandError as error:
        raise bad_request(f"Cannot put variable {name}: {error}") from None
    return no_content()
