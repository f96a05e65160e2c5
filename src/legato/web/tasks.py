"""The task list (``/tasks``) and one task (``/tasks/{key}``): the user tasks of the
signed-in user, and claiming, assigning and completing them.

Who sees and does what follows the HTTP API (``legato.api.v2.user_tasks``): a user with
``tasks:work`` sees the tasks visible to them (assigned to them, offered to them or one of
their groups, or offered to nobody in particular), claims an unassigned task, unclaims their
own and completes a task nobody else holds; a user with ``tasks:manage`` sees every task and
may also assign it to a member of its candidate groups. A task someone may not see answers
404, as an unknown key does; a page offers only what its user may do.

The list refreshes itself: its rows are an htmx fragment (``/tasks/rows``) polled every few
seconds with the version of what is shown, answered 204 (nothing swapped) until the page's
tasks change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from legato.api.deps import declare, engine_of, viewer_of
from legato.api.v2.common import plain
from legato.api.v2.user_tasks import assignment_refusal, is_candidate, task_candidates
from legato.errors import FormValidationError, NotFoundError, TaskConflictError
from legato.runtime.definitions import DECISION_PREFIX
from legato.runtime.engine import Engine
from legato.security import TASKS_MANAGE, TASKS_WORK, Principal
from legato.security.sensitive import Viewer, restore_masked
from legato.store.records import UserTaskRecord
from legato.web.definitions import definition_xml_url
from legato.web.session import PageForbidden, signed_in
from legato.web.ui import redirect, register_nav, render

router = APIRouter(include_in_schema=False)
register_nav("Tasks", "/tasks", TASKS_WORK, order=10)

PAGE_SIZE = 50
"""Tasks on one page of the list."""
POLL_SECONDS = 3
"""How often the list asks whether its tasks changed."""
DUE_SOON = timedelta(hours=24)
"""A task due within this time is marked due soon."""
SHOW = {
    "all": "All my tasks",
    "mine": "Assigned to me",
    "groups": "My groups' tasks",
    "unassigned": "Unassigned",
}
"""The choices of the list's "Show" filter."""
SORTS = {"created_at": "Creation", "due_at": "Due date", "priority": "Priority"}
"""What the list sorts by."""
ORDERS = {"asc": "Ascending", "desc": "Descending"}
VALUE_TYPES = {"text": "Text", "number": "Number", "boolean": "Boolean", "json": "JSON"}
"""The types of the plain variable editor."""


async def task_user(request: Request) -> Principal:
    """The signed-in user, who must work or manage tasks (else the 403 page)."""
    principal = await signed_in(request)
    if not (principal.may(TASKS_WORK) or principal.may(TASKS_MANAGE)):
        raise PageForbidden(TASKS_WORK)
    return principal


declare(task_user, (TASKS_WORK, TASKS_MANAGE))
TaskUser = Annotated[Principal, Depends(task_user)]


def visible_to(principal: Principal) -> tuple[str, list[str]] | None:
    """The visibility filter of ``principal``'s task queries (None: every task)."""
    if principal.may(TASKS_MANAGE):
        return None
    return principal.name, sorted(principal.groups)


# -- the list ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The filters, order and page of the task list, from the page's query string."""

    process: str = ""
    show: str = "all"
    text: str = ""
    sort: str = "created_at"
    order: str = "asc"
    page: int = 1

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        """The query of ``request`` (unknown choices fall back to the defaults)."""
        args = request.query_params
        page = args.get("page", "1")
        return cls(
            process=args.get("process", "").strip(),
            show=args.get("show", "all") if args.get("show") in SHOW else "all",
            text=args.get("q", "").strip(),
            sort=args.get("sort", "created_at") if args.get("sort") in SORTS else "created_at",
            order=args.get("order", "asc") if args.get("order") in ORDERS else "asc",
            page=max(1, int(page)) if page.isdigit() and len(page) < 9 else 1,
        )

    def url(self, path: str = "/tasks", **changes: object) -> str:
        """``path`` with this query (and ``changes``) as its query string."""
        values = {
            "process": self.process,
            "show": self.show,
            "q": self.text,
            "sort": self.sort,
            "order": self.order,
            "page": self.page,
        }
        values.update(changes)
        defaults = {"show": "all", "sort": "created_at", "order": "asc", "page": 1}
        kept = {k: v for k, v in values.items() if v not in ("", None) and defaults.get(k) != v}
        return f"{path}?{urlencode(kept)}" if kept else path

    def filters(self, principal: Principal) -> dict[str, Any]:
        """The engine query's filters (without order and page)."""
        found: dict[str, Any] = {
            "visible_to": visible_to(principal),
            "process_id": self.process or None,
            "name_contains": self.text or None,
        }
        if self.show == "mine":
            found["assignee"] = principal.name
        elif self.show == "groups":
            found["candidate_groups"] = sorted(principal.groups)
        elif self.show == "unassigned":
            found["unassigned_only"] = True
        return found


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of the task list."""

    tasks: list[UserTaskRecord]
    total: int
    version: str
    """Changes whenever the page's tasks or the total change."""


def find_tasks(engine: Engine, principal: Principal, query: ListQuery) -> TaskPage:
    """The page of tasks ``query`` asks for, with their total and version."""
    filters = query.filters(principal)
    tasks = engine.user_tasks(
        **filters,
        sort=[(query.sort, query.order)],
        offset=(query.page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    total = engine.count_user_tasks(**filters)
    digest = hashlib.sha256(str(total).encode())
    for task in tasks:
        digest.update(f"|{task.user_task_key}:{task.assignee}:{task.updated_at}".encode())
    return TaskPage(tasks, total, digest.hexdigest()[:16])


def due_mark(task: UserTaskRecord, now: datetime) -> str | None:
    """``overdue``, ``due-soon`` (within :data:`DUE_SOON`) or None, for an open task."""
    if task.due_at is None or task.state != "created":
        return None
    if task.due_at < now:
        return "overdue"
    return "due-soon" if task.due_at - now <= DUE_SOON else None


def _list_context(
    request: Request, principal: Principal, query: ListQuery, found: TaskPage
) -> dict[str, Any]:
    engine = engine_of(request)
    now = engine.clock.now()
    pages = max(1, -(-found.total // PAGE_SIZE))
    return {
        "query": query,
        "found": found,
        "marks": {t.user_task_key: due_mark(t, now) for t in found.tasks},
        "pages": pages,
        "poll_url": query.url("/tasks/rows", since=found.version),
        "poll_seconds": POLL_SECONDS,
    }


def _process_ids(engine: Engine) -> list[str]:
    with engine.store.transaction() as tx:
        records = tx.list_definitions()
    return sorted({r.process_id for r in records if not r.process_id.startswith(DECISION_PREFIX)})


@router.get("/tasks")
def tasks_page(request: Request, principal: TaskUser) -> HTMLResponse:
    """The task list: filters, sort, the page of tasks and the pages around it."""
    engine = engine_of(request)
    query = ListQuery.of(request)
    found = find_tasks(engine, principal, query)
    context = _list_context(request, principal, query, found)
    context.update(
        processes=_process_ids(engine),
        show_choices=SHOW,
        sort_choices=SORTS,
        order_choices=ORDERS,
    )
    return render(request, "tasks.html", context)


@router.get("/tasks/rows", response_model=None)
def task_rows(request: Request, principal: TaskUser, since: str = "") -> Response:
    """The list's rows (an htmx fragment), or 204 when they are still those of ``since``."""
    query = ListQuery.of(request)
    found = find_tasks(engine_of(request), principal, query)
    if since and since == found.version:
        return Response(status_code=204)
    return render(request, "task_rows.html", _list_context(request, principal, query, found))


# -- one task ------------------------------------------------------------------------------------


def visible_task(request: Request, principal: Principal, key: int) -> UserTaskRecord:
    """The task ``key`` if ``principal`` may see it (open or finished); 404 otherwise."""
    engine = engine_of(request)
    visible = visible_to(principal)
    found = engine.user_tasks(state=None, user_task_key=key, visible_to=visible, limit=1)
    if not found:
        raise HTTPException(404, f"There is no task {key} you may see.")
    return found[0]


@dataclass(frozen=True, slots=True)
class Actions:
    """What the signed-in user may do with a task (what the API would allow them)."""

    claim: bool
    unclaim: bool
    assign: bool
    complete: bool


def actions_for(principal: Principal, task: UserTaskRecord) -> Actions:
    """The actions ``principal`` may take on the visible ``task``."""
    if task.state != "created" or task.delegation_state == "PENDING":
        return Actions(False, False, False, False)
    manages = principal.may(TASKS_MANAGE)
    mine_or_free = task.assignee in (None, principal.name)
    return Actions(
        claim=task.assignee is None,
        unclaim=task.assignee is not None and (manages or task.assignee == principal.name),
        assign=manages or (mine_or_free and is_candidate(principal, task)),
        complete=manages or mine_or_free,
    )


def candidates_of(request: Request, task: UserTaskRecord) -> list[str]:
    """Who may be given the task (see :func:`~legato.api.v2.user_tasks.task_candidates`)."""
    return task_candidates(request.app.state.authenticator, task)


def task_variables(
    engine: Engine, task: UserTaskRecord, viewer: Viewer | None = None
) -> dict[str, Any]:
    """The variables the task sees, as plain JSON values by name (masked as ``viewer`` may
    see them when one is given); empty once its instance is gone."""
    try:
        seen = engine.user_task_variables(task.user_task_key, viewer=viewer)
    except NotFoundError:
        return {}
    return {name: plain(seen[name]) for name in sorted(seen)}


def value_type(value: Any) -> str:
    """The plain editor's type for a current value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if value is None or isinstance(value, str):
        return "text"
    return "json"


def value_text(value: Any) -> str:
    """A value as the plain editor shows it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _task_page(
    request: Request,
    principal: Principal,
    task: UserTaskRecord,
    *,
    editor: Mapping[str, tuple[str, str]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    engine = engine_of(request)
    with engine.store.transaction() as tx:
        definition = tx.get_definition(task.definition_key)
    actions = actions_for(principal, task)
    has_form = task.linked_form_key is not None or task.form_id is not None
    form = engine.user_task_form(task.user_task_key) if has_form else None
    variables = task_variables(engine, task, viewer_of(request))
    fields: list[dict[str, str]] = []
    if form is None:
        for name in engine.user_task_inputs(task.user_task_key):
            kind, text = (editor or {}).get(
                name, (value_type(variables.get(name)), value_text(variables.get(name)))
            )
            fields.append({"name": name, "type": kind, "value": text})
    context = {
        "task": task,
        "process_name": definition.name if definition is not None else None,
        "due": due_mark(task, engine.clock.now()),
        "actions": actions,
        "assignable": candidates_of(request, task) if actions.assign else [],
        "xml_url": definition_xml_url(task.definition_key),
        "variables": {k: json.dumps(v, ensure_ascii=False) for k, v in variables.items()},
        "form": form,
        "fields": fields,
        "errors": errors or {},
        "value_types": VALUE_TYPES,
    }
    return render(request, "task.html", context, status=status)


@router.get("/tasks/{key}")
def task_page(request: Request, key: int, principal: TaskUser) -> HTMLResponse:
    """One task: its process, dates, assignee, variables, diagram, actions and form."""
    return _task_page(request, principal, visible_task(request, principal, key))


@router.get("/tasks/{key}/form.json")
def task_form(request: Request, key: int, principal: TaskUser) -> JSONResponse:
    """The task's Camunda form (form-js JSON); 404 when it has none."""
    visible_task(request, principal, key)
    form = engine_of(request).user_task_form(key)
    if form is None:
        raise HTTPException(404, f"Task {key} has no form.")
    return JSONResponse(form.schema)


@router.get("/tasks/{key}/data.json")
def task_data(request: Request, key: int, principal: TaskUser) -> JSONResponse:
    """The variables the task sees, as its form's initial data."""
    task = visible_task(request, principal, key)
    return JSONResponse(task_variables(engine_of(request), task, viewer_of(request)))


def _changed(
    request: Request,
    key: int,
    change: str,
    done: str,
    action: Callable[..., None],
    *args: Any,
    **kw: Any,
) -> Response:
    """Run an assignment change; back to the task with what happened."""
    try:
        action(*args, **kw)
    except TaskConflictError as exc:
        return redirect(request, f"/tasks/{key}", flash=f"Cannot {change}: {exc}.", kind="error")
    return redirect(request, f"/tasks/{key}", flash=done, kind="success")


@router.post("/tasks/{key}/claim")
def claim(request: Request, key: int, principal: TaskUser) -> Response:
    """Claim the task for the signed-in user (refused when someone else holds it)."""
    visible_task(request, principal, key)
    engine = engine_of(request)
    return _changed(request, key, "claim", "Claimed.", engine.claim_user_task, key, principal.name)


@router.post("/tasks/{key}/unclaim")
def unclaim(request: Request, key: int, principal: TaskUser) -> Response:
    """Take the assignee off the task (one's own, or any for who manages tasks)."""
    task = visible_task(request, principal, key)
    if not actions_for(principal, task).unclaim:
        raise HTTPException(403, "You may not unclaim this task.")
    engine = engine_of(request)
    return _changed(
        request, key, "unclaim", "Unclaimed.", engine.unclaim_user_task, key, by=principal.name
    )


@router.post("/tasks/{key}/assign")
def assign(
    request: Request, key: int, principal: TaskUser, assignee: Annotated[str, Form()] = ""
) -> Response:
    """Assign the task to one of its candidates (as the API allows: who manages tasks, or a
    candidate handing an unassigned task or their own to another)."""
    task = visible_task(request, principal, key)
    if not actions_for(principal, task).assign:
        raise HTTPException(403, "You may not assign this task to someone else.")
    candidates = candidates_of(request, task)
    if assignee not in candidates:
        message = "Assignee: choose a member of the task's candidate groups."
        return redirect(request, f"/tasks/{key}", flash=message, kind="error")
    refusal = assignment_refusal(principal, task, assignee, candidates)
    if refusal is not None:
        raise HTTPException(403, f"The task was not assigned: {refusal}.")
    engine = engine_of(request)
    done = f"Assigned to {assignee}."
    return _changed(
        request, key, "assign", done, engine.assign_user_task, key, assignee, by=principal.name
    )


def parse_value(kind: str, text: str) -> Any:
    """A plain editor's value of type ``kind``; ValueError says what is wrong."""
    if kind == "text":
        return text
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError("must be true or false")
        return text == "true"
    if kind == "number":
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError("must be a number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return int(number) if number == number.to_integral_value() else number
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"must be JSON ({exc})") from None
    raise ValueError(f"unknown type {kind!r}: choose one of {', '.join(VALUE_TYPES)}")


def editor_values(
    names: Iterable[str], submitted: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, tuple[str, str]], dict[str, str]]:
    """The variables of a plain editor's submission (fields ``value:NAME`` and
    ``type:NAME``): the values, the input as typed, and an error per refused field."""
    values: dict[str, Any] = {}
    typed: dict[str, tuple[str, str]] = {}
    errors: dict[str, str] = {}
    for name in names:
        kind = submitted.get(f"type:{name}", "text")
        text = submitted.get(f"value:{name}", "")
        typed[name] = (kind, text)
        try:
            values[name] = parse_value(kind, text)
        except ValueError as exc:
            errors[name] = str(exc)
    return values, typed, errors


def _problem(request: Request, status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update(instance=request.url.path, **extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _unmasked(
    engine: Engine, task: UserTaskRecord, principal: Principal, values: dict[str, Any]
) -> dict[str, Any]:
    """The submitted values with the masks that the form was prefilled with replaced by the
    real values again (a form saved unchanged keeps its sensitive values)."""
    shown = task_variables(engine, task, Viewer(principal))
    real = task_variables(engine, task)
    return {k: restore_masked(v, shown.get(k), real.get(k)) for k, v in values.items()}


@router.post("/tasks/{key}/complete", response_model=None)
async def complete(request: Request, key: int, principal: TaskUser) -> Response:
    """Complete the task with the variables submitted: JSON from the form (field errors
    answer 400 problem+json with ``errors``, a task taken or finished meanwhile 409), or the
    plain editor's fields (the page again with an error at each refused field)."""
    as_json = request.headers.get("content-type", "").startswith("application/json")
    task = await run_in_threadpool(visible_task, request, principal, key)
    engine = engine_of(request)
    if not actions_for(principal, task).complete:
        if task.state != "created":
            by = f" by {task.completed_by}" if task.completed_by else ""
            message = f"The task was not completed: it is already {task.state}{by}."
        else:
            message = f"The task was not completed: it is held by {task.assignee}."
        if as_json:
            return _problem(request, 409, "INVALID_STATE", message)
        return redirect(request, f"/tasks/{key}", flash=message, kind="error")
    if as_json:
        try:
            values = await request.json()
        except ValueError:
            return _problem(request, 400, "INVALID_ARGUMENT", "The form data is not JSON.")
        if not isinstance(values, dict):
            return _problem(request, 400, "INVALID_ARGUMENT", "The form data must be an object.")
        typed: dict[str, tuple[str, str]] = {}
    else:
        if await run_in_threadpool(engine.user_task_form, key) is not None:
            message = "This task has a form: complete it through the form."
            return redirect(request, f"/tasks/{key}", flash=message, kind="error")
        submitted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        names = await run_in_threadpool(engine.user_task_inputs, key)
        values, typed, errors = editor_values(names, submitted)
        if errors:
            return await run_in_threadpool(
                lambda: _task_page(
                    request, principal, task, editor=typed, errors=errors, status=400
                )
            )
    user = None if principal.may(TASKS_MANAGE) else principal.name
    values = await run_in_threadpool(_unmasked, engine, task, principal, values)
    try:
        await run_in_threadpool(engine.complete_user_task, key, values, user=user)
    except FormValidationError as exc:
        if as_json:
            found = [{"field": e.field, "message": e.message} for e in exc.errors]
            return _problem(request, 400, "INVALID_ARGUMENT", str(exc), errors=found)
        errors = {e.field: e.message for e in exc.errors}
        return await run_in_threadpool(
            lambda: _task_page(request, principal, task, editor=typed, errors=errors, status=400)
        )
    except TaskConflictError as exc:
        message = f"The task was not completed: {exc}. Someone else may have completed it."
        if as_json:
            return _problem(request, 409, "INVALID_STATE", message)
        return redirect(request, f"/tasks/{key}", flash=message, kind="error")
    name = task.name or task.element_id
    return redirect(request, "/tasks", flash=f"Completed '{name}'.", kind="success")
