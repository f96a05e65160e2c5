"""One instance in the cockpit (``/cockpit/instances/{key}``): its diagram with the path
taken and the current tokens, variables (editable by operators), history, called and
calling instances, incidents, and the operator's actions: retry (with variable fixes),
cancel, suspend and resume, and modify: cancel tokens and start new ones before or after an
element of the model (see :mod:`legato.engine.modification`).

Each action is offered only to who holds ``instances:modify`` and its route refuses the
others, as the API does. Changes are recorded with the signed-in user's name."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response

from legato.api.deps import engine_of, viewer_of
from legato.api.v2.common import note_variables
from legato.engine import commands as cmd
from legato.errors import LegatoError, NotFoundError
from legato.runtime.engine import Engine
from legato.runtime.types import HistoryEntry
from legato.security import INSTANCES_MODIFY, INSTANCES_READ, Principal
from legato.security.sensitive import Viewer
from legato.web.session import require_page
from legato.web.ui import redirect, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require_page(INSTANCES_READ))]
Operator = Annotated[Principal, Depends(require_page(INSTANCES_MODIFY))]
HISTORY_SHOWN = 1000
"""The most history entries the page lists (the newest ones)."""


class FieldProblem(ValueError):
    """Input that cannot be used, with the form field it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_key(text: str) -> int | None:
    """An instance or incident key from a URL (None when it is not one)."""
    if not text.isdigit() or len(text) > 19:
        return None
    return int(text)


def json_value(text: str, field: str) -> Any:
    """A variable's new value: JSON text (``"text"``, ``12``, ``true``, ``{...}``, ``null``)."""
    if not text.strip():
        raise FieldProblem(field, 'Value: give a JSON value, such as 12, true or "text".')
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FieldProblem(field, f"Value: not JSON ({exc}).") from None


def json_object(text: str, field: str) -> dict[str, Any]:
    """Variables as a JSON object (empty text: none)."""
    if not text.strip():
        return {}
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise FieldProblem(field, f"Variables: not JSON ({exc}).") from None
    if not isinstance(values, dict):
        raise FieldProblem(field, 'Variables: must be a JSON object, such as {"amount": 10}.')
    return values


def shown_json(value: Any) -> str:
    """A value as indented JSON text for the page (values JSON cannot hold as text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _timeline_text(entry: HistoryEntry) -> str:
    details = entry.details
    parts: list[str] = []
    if entry.event_type == "VariablesEdited":
        changes = details.get("changes", {})
        parts.append("changed " + ", ".join(sorted(changes)))
    if entry.event_type == "InstanceModified":
        parts += [_instruction_text(i) for i in details.get("instructions", ())]
    for name in ("reason", "message", "error_type"):
        if details.get(name):
            parts.append(f"{name.replace('_', ' ')}: {details[name]}")
    if details.get("by"):
        parts.append(f"by {details['by']}")
    return "; ".join(parts)


def _instruction_text(instruction: dict[str, Any]) -> str:
    for name in ("cancel", "start_before", "start_after"):
        if name in instruction:
            return f"{name.replace('_', ' ')} {instruction[name]}"
    return ""


def _detail_context(engine: Engine, key: int, viewer: Viewer) -> dict[str, Any]:
    """What the instance page shows, its variables, history and incidents as ``viewer`` may
    see them."""
    detail = engine.instance_detail(key)
    info = engine.masking.instance(viewer, detail.instance)
    detail = replace(detail, incidents=engine.shown_incidents(detail.incidents, viewer))
    with engine.store.transaction() as tx:
        definition = tx.find_definition(info.process_id, info.version)
    history = engine.history(key, viewer=viewer)
    end = info.ended_at or datetime.now(UTC)
    started = info.started_at if info.started_at.tzinfo else info.started_at.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    open_incidents = [i for i in detail.incidents if i.state == "open"]
    return {
        "detail": detail,
        "info": info,
        "definition_key": definition.definition_key if definition is not None else None,
        "duration": max(end - started, timedelta(0)),
        "variables": [(name, shown_json(value)) for name, value in sorted(info.variables.items())],
        "path": [*detail.path.completed_elements, *detail.path.taken_flows],
        "tokens": list(detail.path.active_elements),
        "incident_elements": sorted({i.element_id for i in open_incidents}),
        "open_incidents": open_incidents,
        "history": [(e, _timeline_text(e)) for e in history[-HISTORY_SHOWN:]],
        "history_total": len(history),
    }


def _page(
    request: Request,
    key: int,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    engine = engine_of(request)
    try:
        context = _detail_context(engine, key, viewer_of(request))
    except NotFoundError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status=404)
    principal: Principal = request.state.principal
    may_modify = principal.may(INSTANCES_MODIFY)
    if may_modify and context["info"].is_active:
        context |= _modification_context(engine, key, context["definition_key"])
    context |= {
        "may_modify": may_modify,
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "instance.html", context, status=status)


def _modification_context(engine: Engine, key: int, definition_key: int | None) -> dict[str, Any]:
    """The active tokens to cancel and the model's elements to start a token at."""
    if definition_key is None:
        return {}
    state = engine.state(key)
    model = engine.process_model(state.process_id, state.version)

    def label(element_id: str) -> str:
        element = model.elements.get(element_id)
        name = element.name if element is not None else None
        return f"{name} ({element_id})" if name else element_id

    tokens = [
        {"key": e.key, "label": label(e.element_id), "kind": e.kind}
        for e in sorted(state.elements.values(), key=lambda e: e.key)
        if e.parent_key is not None
    ]
    targets = [(element_id, label(element_id)) for element_id in sorted(model.elements)]
    return {"active_tokens": tokens, "start_targets": targets}


def instance_key(key: str) -> int:
    """The instance key of the path (a missing page when it is not a key)."""
    number = parse_key(key)
    if number is None:
        raise HTTPException(status_code=404)
    return number


InstanceKey = Annotated[int, Depends(instance_key)]


@router.get("/cockpit/instances/{key}", response_model=None)
def instance_page(request: Request, number: InstanceKey, principal: Reader) -> Response:
    """One instance: header, diagram, variables, incidents, calls, history and actions."""
    return _page(request, number)


def _act(request: Request, key: int, action: Any, done: str) -> Response:
    """Run an operator's action; its refusal (an ended instance, ...) is flashed."""
    try:
        action()
    except NotFoundError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status=404)
    except LegatoError as exc:
        return redirect(request, f"/cockpit/instances/{key}", flash=str(exc), kind="error")
    return redirect(request, f"/cockpit/instances/{key}", flash=done, kind="success")


@router.post("/cockpit/instances/{key}/variables", response_model=None)
def change_variable(
    request: Request,
    number: InstanceKey,
    principal: Operator,
    name: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    """Set one variable of the instance's root scope to a JSON value; the history records
    the old and the new value and who changed it. Wrong input shows the page again with
    the error at the field."""
    field = f"value:{name}"
    form = {field: value}
    try:
        if not name.strip():
            raise FieldProblem("name", "Name: give the variable's name.")
        parsed = json_value(value, field)
    except FieldProblem as problem:
        return _page(
            request, number, errors={problem.field: problem.message}, form=form, status=400
        )
    engine = engine_of(request)
    note_variables(request, engine, number, {name.strip(): parsed})
    return _act(
        request,
        number,
        lambda: engine.set_variables(number, {name.strip(): parsed}, by=principal.name),
        f"Variable {name.strip()} changed.",
    )


@router.post("/cockpit/instances/{key}/incidents/{incident}/retry", response_model=None)
def retry_incident(
    request: Request,
    number: InstanceKey,
    incident: str,
    principal: Operator,
    variables: Annotated[str, Form()] = "",
) -> Response:
    """Retry an open incident, after setting ``variables`` (a JSON object) in the same
    command: the fix and the retry commit together or not at all."""
    incident_key = parse_key(incident)
    if incident_key is None:
        raise HTTPException(status_code=404)
    field = f"retry:{incident_key}"
    try:
        fixes = json_object(variables, field)
    except FieldProblem as problem:
        form = {field: variables}
        return _page(
            request, number, errors={problem.field: problem.message}, form=form, status=400
        )
    engine = engine_of(request)
    return _act(
        request,
        number,
        lambda: engine.retry(incident_key, variables=fixes or None, by=principal.name),
        "Incident retried." if not fixes else "Variables set and incident retried.",
    )


@router.post("/cockpit/instances/{key}/cancel", response_model=None)
def cancel_instance(
    request: Request,
    number: InstanceKey,
    principal: Operator,
    confirm: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Cancel the instance, once the form's confirmation box is ticked."""
    if confirm != "yes":
        problem = "Confirm: tick the box to cancel the instance."
        return _page(request, number, errors={"confirm": problem}, status=400)
    engine = engine_of(request)
    why = reason.strip() or "cancelled in the cockpit"
    return _act(
        request, number, lambda: engine.cancel(number, why, by=principal.name), "Cancelled."
    )


@router.post("/cockpit/instances/{key}/suspend", response_model=None)
def suspend_instance(request: Request, number: InstanceKey, principal: Operator) -> Response:
    """Suspend the instance (and the instances it called)."""
    engine = engine_of(request)
    return _act(request, number, lambda: engine.suspend(number, by=principal.name), "Suspended.")


@router.post("/cockpit/instances/{key}/resume", response_model=None)
def resume_instance(request: Request, number: InstanceKey, principal: Operator) -> Response:
    """Resume a suspended instance."""
    engine = engine_of(request)
    return _act(request, number, lambda: engine.resume(number, by=principal.name), "Resumed.")


@router.post("/cockpit/instances/{key}/modify", response_model=None)
def modify_instance(
    request: Request,
    number: InstanceKey,
    principal: Operator,
    cancel_only: Annotated[str, Form()] = "",
    cancel_instance: Annotated[list[str] | None, Form()] = None,
    position: Annotated[str, Form()] = "before",
    element: Annotated[str, Form()] = "",
    variables: Annotated[str, Form()] = "",
) -> Response:
    """Modify the instance in one command: cancel the ticked tokens and start a token before
    or after the chosen element, with ``variables`` (a JSON object) in its scope. A token's
    own cancel button (``cancel_only``) cancels just that token."""
    form = {"element": element, "position": position, "variables": variables}
    try:
        instructions = _instructions(
            cancel_only, cancel_instance or [], position, element, variables
        )
    except FieldProblem as problem:
        errors = {problem.field: problem.message}
        return _page(request, number, errors=errors, form=form, status=400)
    engine = engine_of(request)
    return _act(
        request,
        number,
        lambda: engine.modify(number, instructions, by=principal.name),
        "Modified.",
    )


def _instructions(
    cancel_only: str, cancelled: list[str], position: str, element: str, variables: str
) -> list[cmd.Instruction]:
    if cancel_only:
        cancelled, element, variables = [cancel_only], "", ""
    keys = [parse_key(text) for text in cancelled]
    if None in keys:
        raise FieldProblem("modify", "Cancel: not an element instance key.")
    instructions: list[cmd.Instruction] = [
        cmd.CancelElementInstance(k) for k in keys if k is not None
    ]
    values = json_object(variables, "modify")
    if element:
        if position not in ("before", "after"):
            raise FieldProblem("modify", "Start: choose before or after the element.")
        start = cmd.StartBefore if position == "before" else cmd.StartAfter
        instructions.append(start(element, values))
    elif values:
        raise FieldProblem("modify", "Variables: choose an element to start a token at.")
    if not instructions:
        raise FieldProblem("modify", "Choose tokens to cancel or an element to start a token at.")
    return instructions
