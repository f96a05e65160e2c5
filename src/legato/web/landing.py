"""``/``: where a signed-in user starts (the task list if they may work tasks, else the
cockpit)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from legato.security import TASKS_WORK
from legato.web.session import SignedIn

router = APIRouter(include_in_schema=False)


def home_of(principal: SignedIn) -> str:
    """The first page of ``principal``."""
    return "/tasks" if principal.may(TASKS_WORK) else "/cockpit"


@router.get("/")
def home(principal: SignedIn) -> RedirectResponse:
    """Go to the user's first page."""
    return RedirectResponse(home_of(principal), status_code=303)
