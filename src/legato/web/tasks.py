"""The task list (``/tasks``): the user tasks of the signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from legato.security import TASKS_WORK, Principal
from legato.web.session import require_page
from legato.web.ui import register_nav, render

router = APIRouter(include_in_schema=False)
register_nav("Tasks", "/tasks", TASKS_WORK, order=10)


@router.get("/tasks")
def tasks_page(
    request: Request, principal: Annotated[Principal, Depends(require_page(TASKS_WORK))]
) -> HTMLResponse:
    """The task list."""
    return render(request, "tasks.html")
