"""Routes under ``/engine-rest``: the Camunda 7 REST surface (see :mod:`legato.api`)."""

import json

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter()
"""Every route of this surface; :func:`legato.api.app.create_app` mounts it."""


def render_error(request: object, status: int, message: str) -> Response:
    """A Camunda 7 error body: ``{"type", "message", "code"}``, exactly ``application/json``."""
    kind = {400: "InvalidRequestException", 403: "AuthorizationException"}.get(
        status, "RestException"
    )
    return Response(
        json.dumps({"type": kind, "message": message, "code": 0}),
        status_code=status,
        media_type="application/json",
    )
