"""Camunda 7 error answers: ``{"type", "message", "code"}`` with Camunda's statuses.

Camunda names the exception in ``type`` (``RestException`` for most 404s,
``InvalidRequestException`` for 400s, ``MismatchingMessageCorrelationException``,
``TaskAlreadyClaimedException`` …) and maps it to a status
(``exception/ExceptionHandlerHelper.java``): authorization → 403, bad user request and
parse errors → 400, other engine errors → 500. Routes raise :class:`C7Error`; the surface's
route class (:mod:`legato.api.c7.routing`) renders it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response

from legato.api.problems import ApiError

JSON = "application/json"
"""The only content type of C7 JSON answers: no charset, the JS client compares exactly."""

_DEFAULT_TYPES = {400: "InvalidRequestException", 403: "AuthorizationException"}


class C7Error(ApiError):
    """An error answer on the Camunda 7 surface, with the exception name clients see."""

    def __init__(
        self,
        status: int,
        message: str,
        c7_type: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.c7_type = c7_type or _DEFAULT_TYPES.get(status, "RestException")
        self.extra = dict(extra or {})


def bad_request(message: str, c7_type: str = "InvalidRequestException") -> C7Error:
    """A 400 answer."""
    return C7Error(400, message, c7_type)


def not_found(message: str) -> C7Error:
    """A 404 answer (Camunda's ``RestException``)."""
    return C7Error(404, message, "RestException")


def engine_error(message: str, c7_type: str = "ProcessEngineException") -> C7Error:
    """A 500 answer: what Camunda gives for an engine exception it does not map."""
    return C7Error(500, message, c7_type)


def error_response(status: int, message: str, c7_type: str | None = None, **extra: Any) -> Response:
    """The body and status of a Camunda 7 error."""
    body: dict[str, Any] = {
        "type": c7_type or _DEFAULT_TYPES.get(status, "RestException"),
        "message": message,
        "code": 0,
    }
    body.update(extra)
    return Response(json.dumps(body), status_code=status, media_type=JSON)
