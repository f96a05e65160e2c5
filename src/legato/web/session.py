"""Signing in and out of the web app, the session every page depends on, and CSRF.

A session is a bearer token of the server's authenticator (an HS256 JWT from
:meth:`~legato.security.Authenticator.issue_token`) with the lifetime of
``app.state.session_lifetime`` (8 h unless configured), kept in the HttpOnly, SameSite=Lax
cookie :data:`SESSION_COOKIE` (Secure over TLS). Each request verifies it again, so a disabled
user is signed out within the authenticator's cache time.

The CSRF token of a session is an HMAC of the session token: a page carries it in
``<meta name="csrf-token">`` and forms in a hidden ``csrf`` field; every POST, PUT, PATCH and
DELETE of a signed-in page must send it (field ``csrf`` or header ``X-CSRF-Token``) or is
refused with 403.

The sign-in form has no session yet, so it carries a token of its own (against login CSRF:
another site posting its own credentials to sign the victim in as itself). Showing the form
sets a random token in the short-lived HttpOnly, SameSite=Strict cookie
:data:`SIGN_IN_COOKIE` (Secure over TLS) and echoes it in the form's ``csrf`` field; a post
whose field is missing, empty or not the cookie's gets the form again with 403 and no
session. Such a refusal is not a wrong password: it counts for no lock-out and is not
audited (nobody is signed in).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from legato.api.audit import note_audit
from legato.api.deps import declare
from legato.security import Authenticator, Principal
from legato.security.audit import DENIED, Actor
from legato.security.lockout import SignInGuard
from legato.web.ui import redirect, render

SESSION_COOKIE = "legato_session"
"""The cookie that holds the session token."""
DEFAULT_SESSION_LIFETIME = timedelta(hours=8)
"""How long a sign-in lasts unless ``app.state.session_lifetime`` says otherwise."""
SIGN_IN_COOKIE = "legato_sign_in_csrf"
"""The cookie that holds the sign-in form's CSRF token."""
SIGN_IN_CSRF_LIFETIME = timedelta(hours=1)
"""How long a shown sign-in form can be posted."""
SIGN_IN_REFUSED = "The sign-in form was stale or sent from another site. Sign in again."
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    """The request has no valid session: answered with a redirect to the sign-in page."""


class PageForbidden(Exception):
    """The signed-in user lacks a permission: answered with the 403 page."""

    def __init__(self, permission: str) -> None:
        super().__init__(permission)
        self.permission = permission


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token: answered with 403."""


def csrf_token_for(session_token: str) -> str:
    """The CSRF token that belongs to ``session_token``."""
    return hmac.new(session_token.encode(), b"legato-web-csrf", hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this server, else ``/`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or urlsplit(target).netloc:
        return "/"
    return target


def sign_in_url(request: Request) -> str:
    """Where a request without a session goes: ``/login?next=`` the page to come back to (for
    a form post or an htmx request, the page it was sent from)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method not in SAFE_METHODS or request.headers.get("hx-request") == "true":
        origin = request.headers.get("hx-current-url") or request.headers.get("referer") or ""
        parts = urlsplit(origin)
        same = parts.netloc == request.url.netloc
        here = (parts.path + (f"?{parts.query}" if parts.query else "")) if same else "/"
    return f"/login?next={quote(safe_next(here), safe='/')}"


async def signed_in(request: Request) -> Principal:
    """The signed-in user of a page request (a FastAPI dependency). Without a valid session
    it raises :class:`SignInRequired` (a redirect to sign-in; 401 with ``HX-Redirect`` for
    htmx); a state-changing request without the session's CSRF token raises
    :class:`CsrfRefused` (403). Sets ``request.state.principal`` and ``csrf_token``."""
    token = request.cookies.get(SESSION_COOKIE, "")
    authenticator: Authenticator = request.app.state.authenticator
    principal = await run_in_threadpool(authenticator.authenticate_bearer, token) if token else None
    if principal is None:
        raise SignInRequired
    expected = csrf_token_for(token)
    request.state.principal = principal
    request.state.csrf_token = expected
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER.lower(), "")
        if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            field = (await request.form()).get(CSRF_FIELD)
            sent = field if isinstance(field, str) else ""
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfRefused
    return principal


declare(signed_in, ())
SignedIn = Annotated[Principal, Depends(signed_in)]
"""The signed-in user, as a page route's parameter (see :func:`signed_in`)."""


def require_page(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the signed-in user, who must hold ``permission`` (else the 403 page)."""

    async def check(request: Request) -> Principal:
        principal = await signed_in(request)
        if not principal.may(permission):
            raise PageForbidden(permission)
        return principal

    return declare(check, (permission,))


def _lifetime(request: Request) -> timedelta:
    lifetime = getattr(request.app.state, "session_lifetime", None)
    return lifetime if isinstance(lifetime, timedelta) else DEFAULT_SESSION_LIFETIME


def _sign_in_cookie(request: Request) -> str:
    """The sign-in form's CSRF token in this browser's cookie ('' if none or malformed)."""
    current = request.cookies.get(SIGN_IN_COOKIE, "")
    return current if 32 <= len(current) <= 128 else ""


def _sign_in_form(
    request: Request,
    context: dict[str, object],
    *,
    token: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The sign-in page with ``token`` in its form and in :data:`SIGN_IN_COOKIE`."""
    page = {**context, "sign_in_csrf": token}
    response = render(request, "login.html", page, status=status, headers=headers)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=int(SIGN_IN_CSRF_LIFETIME.total_seconds()),
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form (with its CSRF token)."""
    context: dict[str, object] = {"next": safe_next(next), "error": None}
    token = _sign_in_cookie(request) or secrets.token_urlsafe(32)
    return _sign_in_form(request, context, token=token)


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Check the form's CSRF token, then the user name and password; on success set the
    session cookie and go to ``next``. A wrong pair shows the form again with an error (the
    user name kept); a wrong CSRF token shows it with 403 before any password is checked."""
    expected = _sign_in_cookie(request)
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        context: dict[str, object] = {
            "next": safe_next(next),
            "username": username,
            "error": SIGN_IN_REFUSED,
        }
        token = expected or secrets.token_urlsafe(32)
        return _sign_in_form(request, context, token=token, status=403)
    authenticator: Authenticator = request.app.state.authenticator
    guard: SignInGuard = request.app.state.sign_in_guard
    address = request.client.host if request.client else None
    lifetime = _lifetime(request)
    issued = None
    lockout = await run_in_threadpool(guard.locked, username or None, address)
    if lockout is None and username and password:
        issued = await run_in_threadpool(
            lambda: authenticator.issue_token(username, password, lifetime=lifetime)
        )
        if issued is None:
            await run_in_threadpool(guard.failed, username, address)
        else:
            await run_in_threadpool(guard.succeeded, username)
    actor = Actor(username, "user" if issued else "anonymous")
    if issued is None:
        details = {} if lockout is None else {"reason": "locked"}
        note_audit(
            request, actor=actor, action="auth.sign_in_failed", outcome=DENIED, details=details
        )
        error = "The user name or password is wrong."
        if lockout is not None:
            error = lockout.message[0].upper() + lockout.message[1:] + "."
        again: dict[str, object] = {"next": safe_next(next), "username": username, "error": error}
        if lockout is None:
            return _sign_in_form(request, again, token=expected)
        retry = {"Retry-After": str(lockout.retry_after(guard.now))}
        return _sign_in_form(request, again, token=expected, status=429, headers=retry)
    token, seconds = issued
    note_audit(request, actor=actor, action="auth.sign_in")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/login", httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, principal: SignedIn) -> Response:
    """End the session (the cookie is removed) and show the sign-in page."""
    response = redirect(request, "/login", flash="Signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def answer_sign_in(request: Request, exc: Exception) -> Response:
    """No session: a page goes to sign-in (303), an htmx request gets 401 and
    ``HX-Redirect``."""
    url = sign_in_url(request)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": url})
    response = RedirectResponse(url, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def answer_forbidden(request: Request, exc: Exception) -> Response:
    """The 403 page: the permission is missing, or the CSRF token."""
    if isinstance(exc, PageForbidden):
        message = f"You may not open this page: it needs the permission '{exc.permission}'."
    else:
        message = "This request was refused: the page it came from is stale. Reload and retry."
    return render(request, "error.html", {"status": 403, "message": message}, status=403)
