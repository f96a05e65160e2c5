"""User tasks: search, get, assignment, unassignment, completion, variables.

A caller who may manage tasks (``tasks:manage``) sees and acts on every task; anyone else
with ``tasks:work`` sees only the tasks visible to them (assigned to them, offered to them or
to one of their groups, or offered to nobody in particular), may assign a task only to
themselves and without taking it from someone else, and completes only tasks that nobody
else holds. A task they may not see answers 404, as an unknown one does.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field

from legato.api.deps import EngineDep, PrincipalDep, ViewerDep, require_any
from legato.api.problems import BadRequest, Forbidden, NotFound
from legato.api.v2.common import (
    DEFAULT_TENANT,
    FilterValue,
    KeyText,
    Out,
    SearchRequest,
    SearchResult,
    Strict,
    Variables,
    all_match,
    exact,
    iso,
    key_text,
    paginate,
    parse_key,
)
from legato.api.v2.operate import (
    VariableResult,
    VariableSearch,
    search_variables_in,
    variables_of,
)
from legato.runtime.engine import Engine
from legato.security import TASKS_MANAGE, TASKS_WORK, Authenticator, Principal
from legato.security.accounts import Accounts
from legato.store.records import UserTaskRecord

router = APIRouter(
    tags=["user tasks"], dependencies=[Depends(require_any(TASKS_WORK, TASKS_MANAGE))]
)

SEARCH_LIMIT = 10_000
"""The most tasks a search looks at."""

_STATES = {"created": "CREATED", "completed": "COMPLETED", "canceled": "CANCELED"}


class UserTaskResult(Out):
    userTaskKey: KeyText
    name: str | None
    state: str
    """CREATED, COMPLETED or CANCELED."""
    assignee: str | None
    elementId: str
    elementInstanceKey: KeyText
    candidateGroups: list[str]
    candidateUsers: list[str]
    processDefinitionId: str
    processDefinitionKey: KeyText
    processDefinitionVersion: int
    processName: str | None
    processInstanceKey: KeyText
    rootProcessInstanceKey: KeyText | None
    creationDate: str | None
    completionDate: str | None
    dueDate: str | None
    followUpDate: str | None
    priority: int
    formKey: KeyText | None
    """The deployed form version bound to the task (a linked Camunda form)."""
    externalFormReference: str | None
    customHeaders: dict[str, str] = Field(default_factory=dict)
    tenantId: str = DEFAULT_TENANT
    businessId: str | None
    tags: list[str] = Field(default_factory=list)


class UserTaskFilter(Strict):
    userTaskKey: FilterValue | None = None
    state: FilterValue | None = None
    assignee: FilterValue | None = None
    candidateGroup: FilterValue | None = None
    candidateUser: FilterValue | None = None
    processInstanceKey: FilterValue | None = None
    processDefinitionKey: FilterValue | None = None
    processDefinitionId: FilterValue | None = None
    elementId: FilterValue | None = None
    elementInstanceKey: FilterValue | None = None
    name: FilterValue | None = None
    priority: FilterValue | None = None
    creationDate: FilterValue | None = None
    completionDate: FilterValue | None = None
    dueDate: FilterValue | None = None
    followUpDate: FilterValue | None = None
    businessId: FilterValue | None = None
    tenantId: FilterValue | None = None


class UserTaskSearch(SearchRequest):
    filter: UserTaskFilter = Field(default_factory=lambda: UserTaskFilter())


class UserTaskAssignment(Strict):
    assignee: str | None = None
    """Who gets the task (a user without ``tasks:manage`` may name only themselves)."""
    allowOverride: bool = True
    """False refuses (409) a task assigned to someone else."""
    action: str | None = None


class UserTaskCompletion(Strict):
    variables: Variables = None
    action: str | None = None


def _result(task: UserTaskRecord) -> UserTaskResult:
    return UserTaskResult(
        userTaskKey=str(task.user_task_key),
        name=task.name,
        state=_STATES.get(task.state, task.state.upper()),
        assignee=task.assignee,
        elementId=task.element_id,
        elementInstanceKey=str(task.element_instance_key),
        candidateGroups=list(task.candidate_groups),
        candidateUsers=list(task.candidate_users),
        processDefinitionId=task.process_id,
        processDefinitionKey=str(task.definition_key),
        processDefinitionVersion=task.process_version,
        processName=task.process_id,
        processInstanceKey=str(task.instance_key),
        rootProcessInstanceKey=None,
        creationDate=iso(task.created_at),
        completionDate=iso(task.completed_at),
        dueDate=iso(task.due_at),
        followUpDate=iso(task.follow_up_at),
        priority=task.priority,
        formKey=key_text(task.linked_form_key),
        externalFormReference=task.external_form_reference,
        businessId=task.business_key,
    )


def _manages(principal: Principal) -> bool:
    return principal.may(TASKS_MANAGE)


def task_candidates(authenticator: Authenticator, task: UserTaskRecord) -> list[str]:
    """Who may be given ``task``: its candidate users and the members of its candidate groups
    (enabled accounts; only the candidate users when the server keeps no accounts)."""
    names = set(task.candidate_users)
    if isinstance(authenticator, Accounts):
        groups = set(task.candidate_groups)
        names.update(
            u.name for u in authenticator.users() if not u.disabled and groups & set(u.groups)
        )
    return sorted(names)


def is_candidate(principal: Principal, task: UserTaskRecord) -> bool:
    """Whether the task is offered to ``principal`` by name or through one of its groups."""
    return principal.name in task.candidate_users or bool(
        set(principal.groups) & set(task.candidate_groups)
    )


def assignment_refusal(
    principal: Principal, task: UserTaskRecord, assignee: str, candidates: list[str]
) -> str | None:
    """Why ``principal`` may not give ``task`` to ``assignee`` (None when they may).

    Who manages tasks gives any task to anyone. A person who works tasks takes a task for
    themselves, and, as one of its candidates, hands an unassigned task (or their own) to
    another of its candidates: a member of its candidate groups or a candidate user."""
    if _manages(principal) or assignee == principal.name:
        return None
    if task.assignee not in (None, principal.name):
        return f"the task is assigned to '{task.assignee}', not to '{principal.name}'"
    if not is_candidate(principal, task):
        return (
            f"'{principal.name}' may assign the task only to themselves: it is not offered to them"
        )
    if assignee not in candidates:
        return f"'{assignee}' is not one of the task's candidates (its groups' members and users)"
    return None


def _visible_to(principal: Principal) -> tuple[str, list[str]] | None:
    return None if _manages(principal) else (principal.name, sorted(principal.groups))


def _task(engine: Engine, principal: Principal, key: int) -> UserTaskRecord:
    """The task, if the caller may see it (404 otherwise, as for an unknown key)."""
    task = engine.user_task(key)
    visible = _visible_to(principal)
    if visible is not None and not engine.user_tasks(
        state=None, user_task_key=key, visible_to=visible
    ):
        raise NotFound(f"no user task with key {key}")
    return task


def _text(wanted: FilterValue | None) -> str | None:
    value = exact(wanted)
    return value if isinstance(value, str) else None


def _number(wanted: FilterValue | None) -> int | None:
    value = exact(wanted)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else None


@router.post("/user-tasks/search", response_model=SearchResult[UserTaskResult])
def search_user_tasks(
    body: UserTaskSearch, engine: EngineDep, principal: PrincipalDep
) -> SearchResult[UserTaskResult]:
    """User tasks matching the filter (of those the caller may see)."""
    wanted = body.filter
    state = _text(wanted.state)
    records = engine.user_tasks(
        state=state.lower() if state and state.lower() in _STATES else None,
        assignee=_text(wanted.assignee),
        candidate_group=_text(wanted.candidateGroup),
        candidate_user=_text(wanted.candidateUser),
        visible_to=_visible_to(principal),
        instance_key=_number(wanted.processInstanceKey),
        definition_key=_number(wanted.processDefinitionKey),
        process_id=_text(wanted.processDefinitionId),
        element_id=_text(wanted.elementId),
        user_task_key=_number(wanted.userTaskKey),
        limit=SEARCH_LIMIT,
    )
    chosen = []
    for record in records:
        result = _result(record)
        if not all_match(
            [
                (result.userTaskKey, wanted.userTaskKey),
                (result.state, wanted.state),
                (result.assignee, wanted.assignee),
                (result.processInstanceKey, wanted.processInstanceKey),
                (result.processDefinitionKey, wanted.processDefinitionKey),
                (result.processDefinitionId, wanted.processDefinitionId),
                (result.elementId, wanted.elementId),
                (result.elementInstanceKey, wanted.elementInstanceKey),
                (result.name, wanted.name),
                (result.priority, wanted.priority),
                (record.created_at, wanted.creationDate),
                (record.completed_at, wanted.completionDate),
                (record.due_at, wanted.dueDate),
                (record.follow_up_at, wanted.followUpDate),
                (result.businessId, wanted.businessId),
                (result.tenantId, wanted.tenantId),
            ]
        ):
            continue
        if not _candidate(record.candidate_groups, wanted.candidateGroup):
            continue
        if not _candidate(record.candidate_users, wanted.candidateUser):
            continue
        chosen.append(result)
    items, page = paginate(
        chosen,
        body,
        capped=len(records) >= SEARCH_LIMIT,
        sort_keys={
            "creationDate": lambda t: t.creationDate,
            "completionDate": lambda t: t.completionDate,
            "dueDate": lambda t: t.dueDate,
            "followUpDate": lambda t: t.followUpDate,
            "priority": lambda t: t.priority,
            "name": lambda t: t.name,
            "userTaskKey": lambda t: int(t.userTaskKey),
            "elementId": lambda t: t.elementId,
            "processInstanceKey": lambda t: int(t.processInstanceKey),
        },
    )
    return SearchResult[UserTaskResult](items=items, page=page)


def _candidate(candidates: tuple[str, ...], wanted: FilterValue | None) -> bool:
    """A candidate filter holds when one of the task's candidates passes it."""
    if wanted is None:
        return True
    return any(all_match([(c, wanted)]) for c in candidates)


TaskKeyPath = Annotated[str, Path(description="The user task's key")]


@router.get("/user-tasks/{userTaskKey}", response_model=UserTaskResult)
def get_user_task(
    userTaskKey: TaskKeyPath, engine: EngineDep, principal: PrincipalDep
) -> UserTaskResult:
    """One user task."""
    return _result(_task(engine, principal, parse_key(userTaskKey, "userTaskKey")))


class FormResult(Out):
    formKey: KeyText
    formId: str
    version: int
    schema_: str = Field(alias="schema", serialization_alias="schema")
    """The form-js document as JSON text."""
    tenantId: str = DEFAULT_TENANT


@router.get(
    "/user-tasks/{userTaskKey}/form",
    response_model=FormResult,
    responses={204: {"description": "The task has no Camunda form"}},
)
def get_user_task_form(
    userTaskKey: TaskKeyPath, engine: EngineDep, principal: PrincipalDep
) -> Response | FormResult:
    """The task's form (the linked form at the version bound when the task was created, or
    the one embedded in the process); 204 when it has none."""
    key = parse_key(userTaskKey, "userTaskKey")
    _task(engine, principal, key)
    form = engine.user_task_form(key)
    if form is None:
        return Response(status_code=204)
    return FormResult(
        formKey=str(form.form_key),
        formId=form.form_id,
        version=form.version,
        schema=json.dumps(form.schema, ensure_ascii=False),
    )


@router.post("/user-tasks/{userTaskKey}/assignment", status_code=204, response_class=Response)
def assign_user_task(
    userTaskKey: TaskKeyPath,
    body: UserTaskAssignment,
    request: Request,
    engine: EngineDep,
    principal: PrincipalDep,
) -> Response:
    """Assign the task (409 when it is assigned to someone else and ``allowOverride`` is
    false, or when it is no longer open)."""
    key = parse_key(userTaskKey, "userTaskKey")
    _task(engine, principal, key)
    if body.assignee is None or not body.assignee:
        raise BadRequest("assignee: who gets the task is required (unassign with DELETE)")
    allow_override = body.allowOverride
    if not _manages(principal):
        task = engine.user_task(key)
        candidates = task_candidates(request.app.state.authenticator, task)
        refusal = assignment_refusal(principal, task, body.assignee, candidates)
        if refusal is not None:
            raise Forbidden(refusal)
        allow_override = False
    engine.assign_user_task(key, body.assignee, allow_override=allow_override, by=principal.name)
    return Response(status_code=204)


@router.delete("/user-tasks/{userTaskKey}/assignee", status_code=204, response_class=Response)
def unassign_user_task(
    userTaskKey: TaskKeyPath, engine: EngineDep, principal: PrincipalDep
) -> Response:
    """Take the assignee off the task."""
    key = parse_key(userTaskKey, "userTaskKey")
    task = _task(engine, principal, key)
    if not _manages(principal) and task.assignee not in (None, principal.name):
        raise Forbidden(f"the task is assigned to someone else than '{principal.name}'")
    engine.unclaim_user_task(key, by=principal.name)
    return Response(status_code=204)


@router.post(
    "/user-tasks/{userTaskKey}/completion",
    status_code=204,
    response_class=Response,
    responses={400: {"description": "Form validation errors, listed in `errors`"}},
)
def complete_user_task(
    userTaskKey: TaskKeyPath,
    engine: EngineDep,
    principal: PrincipalDep,
    body: UserTaskCompletion | None = None,
) -> Response:
    """Complete the task; the variables are checked against its form first (400 with an
    ``errors`` list naming each refused field)."""
    key = parse_key(userTaskKey, "userTaskKey")
    _task(engine, principal, key)
    user = None if _manages(principal) else principal.name
    engine.complete_user_task(key, (body.variables if body else None) or {}, user=user)
    return Response(status_code=204)


@router.post(
    "/user-tasks/{userTaskKey}/variables/search",
    response_model=SearchResult[VariableResult],
)
def search_user_task_variables(
    userTaskKey: TaskKeyPath,
    body: VariableSearch,
    engine: EngineDep,
    principal: PrincipalDep,
    viewer: ViewerDep,
) -> SearchResult[VariableResult]:
    """The variables the task sees: its own scope's and those of the scopes around it (the
    nearest one of each name)."""
    task = _task(engine, principal, parse_key(userTaskKey, "userTaskKey"))
    with engine.store.transaction() as tx:
        instance = tx.get_instance(task.instance_key)
    if instance is None:
        raise NotFound(f"the instance of user task {task.user_task_key} is gone")
    state = engine.state(task.instance_key)
    chain: list[str] = []
    scope: int | None = task.element_instance_key
    while scope is not None:
        chain.append(str(scope))
        element = state.elements.get(scope)
        scope = element.parent_key if element is not None else None
    if str(task.instance_key) not in chain:
        chain.append(str(task.instance_key))
    nearest: dict[str, VariableResult] = {}
    for variable in sorted(
        (v for v in variables_of(engine, [instance], viewer) if v.scopeKey in chain),
        key=lambda v: chain.index(v.scopeKey),
    ):
        nearest.setdefault(variable.name, variable)
    return search_variables_in(list(nearest.values()), body)
