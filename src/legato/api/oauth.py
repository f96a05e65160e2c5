"""``POST /oauth/token``: OAuth 2.0 client credentials for Camunda 8 clients.

The client id and secret come in the form body (the SDKs) or an HTTP Basic header (pyzeebe;
the stray colon of ``Basic: …`` that Camunda 7's JS client sends is tolerated). The answer is
a signed JWT with ``expires_in`` and ``token_type`` (CAMUNDA.md §4); errors are OAuth's
``{"error", "error_description"}``.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from legato.api.audit import note_audit
from legato.security import Authenticator, Principal
from legato.security.audit import DENIED, Actor
from legato.security.lockout import SignInGuard

router = APIRouter(tags=["authentication"])


class TokenResponse(BaseModel):
    """An access token for ``Authorization: Bearer``."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    """Seconds until the token expires."""


class TokenError(BaseModel):
    """Why no token was issued."""

    error: str
    error_description: str


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses={
        400: {"model": TokenError},
        401: {"model": TokenError},
        429: {"model": TokenError, "description": "Too many failed attempts: retry later"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "grant_type": {
                                "type": "string",
                                "enum": ["client_credentials"],
                                "description": "client_credentials when absent",
                            },
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                            "audience": {"type": "string"},
                            "scope": {"type": "string"},
                        },
                    }
                }
            }
        }
    },
)
async def issue_token(request: Request) -> JSONResponse:
    """Issue a token for an API key (client credentials grant)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    grant = fields.get("grant_type", "client_credentials")
    if grant != "client_credentials":
        return _error(400, "unsupported_grant_type", f"grant type '{grant}' is not supported")
    client_id = fields.get("client_id")
    secret = fields.get("client_secret")
    if client_id is None or secret is None:
        client_id, secret = _basic(request.headers.get("authorization", ""))
    if not client_id or secret is None:
        return _error(401, "invalid_client", "client credentials are missing")
    authenticator: Authenticator = request.app.state.authenticator
    guard: SignInGuard = request.app.state.sign_in_guard
    address = request.client.host if request.client else None
    actor = Actor.of(Principal(client_id, frozenset()))  # an API key is key:<id>
    lockout = await run_in_threadpool(guard.locked, client_id, address)
    if lockout is not None:
        details = {"reason": "locked"}
        note_audit(
            request, actor=actor, action="auth.sign_in_failed", outcome=DENIED, details=details
        )
        retry = {"Retry-After": str(lockout.retry_after(guard.now))}
        return _error(429, "invalid_client", lockout.message, retry)
    issued = await run_in_threadpool(authenticator.issue_token, client_id, secret)
    if issued is None:
        await run_in_threadpool(guard.failed, client_id, address)
        note_audit(request, actor=actor, action="auth.sign_in_failed", outcome=DENIED)
        return _error(401, "invalid_client", "the client id or secret is wrong")
    await run_in_threadpool(guard.succeeded, client_id)
    token, lifetime = issued
    note_audit(request, actor=actor, action="auth.sign_in")
    body = TokenResponse(access_token=token, expires_in=lifetime)
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})


def _basic(header: str) -> tuple[str | None, str | None]:
    scheme, _, credentials = header.partition(" ")
    if scheme.lower().rstrip(":") != "basic":
        return None, None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None, None
    # RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _error(
    status: int, error: str, description: str, extra: dict[str, str] | None = None
) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="legato"'} if status == 401 else {}
    headers.update(extra or {})
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )
