"""Routes under ``/engine-rest``: the Camunda 7 REST surface (see :mod:`legato.api`).

Existing Camunda 7 workers and clients run against Legato with only their base URL and
credentials changed (``docs``: CAMUNDA.md §2, cut 1). The wire rules every module keeps:

- ids are UUIDs that encode Legato's int64 keys (:mod:`~legato.api.c7.ids`);
- variables are typed ``{"type", "value", "valueInfo"}`` (:mod:`~legato.api.c7.variables`);
- dates are ``yyyy-MM-dd'T'HH:mm:ss.SSS+0000`` (:mod:`~legato.api.c7.dates`);
- JSON answers carry exactly ``Content-Type: application/json`` (the JS client compares the
  header to that string), ``complete``/``failure``/``bpmnError`` and other commands answer
  204, and errors are ``{"type", "message", "code"}`` (:mod:`~legato.api.c7.errors`).

Deliberate difference: an uncaught BPMN error of an external task raises an incident
(Camunda 7 ends the execution silently).
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from legato.api.c7 import (
    deployments,
    external_tasks,
    history,
    incidents,
    messages,
    process_definitions,
    process_instances,
    tasks,
)
from legato.api.c7.errors import error_response
from legato.api.c7.routing import C7Route, ok
from legato.api.deps import require
from legato.security import SYSTEM_READ, Principal

CAMUNDA_VERSION = "7.24.0"
"""The Camunda 7 REST version this surface answers as."""

router = APIRouter(route_class=C7Route)
"""Every route of this surface; :func:`legato.api.app.create_app` mounts it."""


@router.get("/version", tags=["c7: system"])
def version(principal: Annotated[Principal, Depends(require(SYSTEM_READ))]) -> Response:
    """The Camunda 7 REST version this surface is compatible with."""
    return ok({"version": CAMUNDA_VERSION})


for _module in (
    external_tasks,
    process_definitions,
    process_instances,
    messages,
    deployments,
    tasks,
    incidents,
    history,
):
    router.include_router(_module.router)


def render_error(request: object, status: int, message: str) -> Response:
    """A Camunda 7 error body: ``{"type", "message", "code"}``, exactly ``application/json``
    (for errors raised outside a route of this surface: unknown paths, wrong methods)."""
    return error_response(status, message)
