"""The cockpit (``/cockpit``): processes, instances and incidents for those who run them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from legato.security import INSTANCES_READ, Principal
from legato.web.session import require_page
from legato.web.ui import register_nav, render

router = APIRouter(include_in_schema=False)
register_nav("Cockpit", "/cockpit", INSTANCES_READ, order=20)


@router.get("/cockpit")
def cockpit_page(
    request: Request, principal: Annotated[Principal, Depends(require_page(INSTANCES_READ))]
) -> HTMLResponse:
    """The cockpit's start page."""
    return render(request, "cockpit.html")
