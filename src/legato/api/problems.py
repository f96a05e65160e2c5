"""Errors as HTTP answers.

Routes raise :class:`ApiError` subclasses (or Legato's own errors, mapped here). On ``/v2``
and ``/legato/v1`` they become RFC 9457 problem details (``application/problem+json`` with
``type``, ``title``, ``status``, ``detail``, ``instance``; ``status`` always present because
Camunda 8 SDKs read it from the body). The Camunda 7 surface installs its own rendering
(``{"type", "message", "code"}``) for paths under ``/engine-rest``.
"""

from __future__ import annotations


class ApiError(Exception):
    """An answer other than success, with its status and a message for the caller."""

    status = 500
    title = "INTERNAL_ERROR"

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class BadRequest(ApiError):
    """The request is malformed or names something invalid (400)."""

    status = 400
    title = "INVALID_ARGUMENT"


class Unauthorized(ApiError):
    """No credentials, or wrong ones (401)."""

    status = 401
    title = "UNAUTHORIZED"


class Forbidden(ApiError):
    """The caller is known but may not do this (403)."""

    status = 403
    title = "FORBIDDEN"


class NotFound(ApiError):
    """The key or id names nothing (404)."""

    status = 404
    title = "NOT_FOUND"


class Conflict(ApiError):
    """The command does not fit the current state (409)."""

    status = 409
    title = "INVALID_STATE"


class Unavailable(ApiError):
    """Too much at once, or shutting down: try again (503)."""

    status = 503
    title = "RESOURCE_EXHAUSTED"
