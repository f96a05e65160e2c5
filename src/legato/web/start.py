"""``/start``: start an instance of a deployed process, with a business key and variables."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from legato.api.deps import engine_of
from legato.errors import InvalidCommandError, NotFoundError
from legato.security import INSTANCES_START, Principal
from legato.web.session import require_page
from legato.web.ui import redirect, register_nav, render

router = APIRouter(include_in_schema=False)
register_nav("Start", "/start", INSTANCES_START, order=30)
StartPrincipal = Annotated[Principal, Depends(require_page(INSTANCES_START))]


@router.get("/start")
def start_page(request: Request, principal: StartPrincipal) -> HTMLResponse:
    """The form that starts an instance."""
    return render(request, "start.html", {"form": {}, "error": None})


@router.post("/start", response_model=None)
def start(
    request: Request,
    principal: StartPrincipal,
    process_id: Annotated[str, Form()] = "",
    business_key: Annotated[str, Form()] = "",
    variables: Annotated[str, Form()] = "",
) -> Response:
    """Start the instance; a wrong value shows the form again, with the input and the error."""
    form = {"process_id": process_id, "business_key": business_key, "variables": variables}
    values: Any = {}
    error = None
    if not process_id.strip():
        error = "Process: name the process id to start."
    elif variables.strip():
        try:
            values = json.loads(variables)
        except ValueError as exc:
            error = f"Variables: not JSON ({exc})."
        else:
            if not isinstance(values, dict):
                error = 'Variables: must be a JSON object, such as {"amount": 10}.'
    if error is None:
        try:
            started = engine_of(request).start(
                process_id.strip(), values, business_key=business_key or None
            )
        except (NotFoundError, InvalidCommandError) as exc:
            error = str(exc)
        else:
            text = f"Started instance {started.key} of '{started.process_id}'"
            if started.business_key:
                text += f" (business key '{started.business_key}')"
            return redirect(request, "/start", flash=text + ".", kind="success")
    return render(request, "start.html", {"form": form, "error": error})
