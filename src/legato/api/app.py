"""The FastAPI application: authentication, error rendering, and the three surfaces."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from legato import __version__
from legato.api import c7, native, oauth, v2
from legato.api.audit import AuditRecorder, note_audit
from legato.api.deps import signed_in_only
from legato.api.headers import CONTENT_SECURITY_POLICY, SecurityHeaders
from legato.api.metrics import METRICS_PATH, scrape_principal
from legato.api.metrics import router as metrics_router
from legato.api.problems import ApiError
from legato.api.v2 import jobs as v2_jobs
from legato.errors import ConflictError as StoreConflictError
from legato.errors import (
    FormValidationError,
    InvalidCommandError,
    NotFoundError,
    StoreUnavailableError,
    TooManyRequestsError,
)
from legato.runtime.engine import Engine
from legato.security import Authenticator, Principal
from legato.security.audit import DENIED, Actor, AuditTrail
from legato.security.lockout import Lockout, SignInGuard

C7_PREFIX = "/engine-rest"
"""Where the Camunda 7 surface lives."""
OPEN_PATHS = frozenset({"/health", "/ready", "/oauth/token"})
"""API paths that answer without credentials (the token endpoint checks its own)."""
API_PREFIXES = ("/v2", "/legato/v1", C7_PREFIX, "/openapi.json", "/docs", METRICS_PATH)
"""The paths (and everything below them) that demand API credentials; any other path
belongs to the web app (:mod:`legato.web`), which checks its own session."""


def is_api_path(path: str) -> bool:
    """Whether ``path`` is one of the API's (:data:`API_PREFIXES`)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


DEFAULT_MAX_UPLOAD_BYTES = 32 * 1024 * 1024
"""The largest request body a deployment may send unless the server is told otherwise."""


def create_app(
    engine: Engine,
    authenticator: Authenticator,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    metrics_token: str | None = None,
    audit: AuditTrail | None = None,
) -> FastAPI:
    """The server's application over ``engine``; every request to the API
    (:data:`API_PREFIXES`) must carry credentials that ``authenticator`` accepts. Other paths
    pass without them: the web app that a server mounts there checks its own session.

    ``app.state.ready`` (True here) says whether ``/ready`` answers 200, and
    ``app.state.stopping`` (False) makes long-polling requests answer at once: the server
    runner sets both. A request body larger than ``max_upload_bytes`` is refused with 413.
    ``/metrics`` also answers to ``Authorization: Bearer <metrics_token>`` when one is set
    (see :mod:`legato.api.metrics`). State-changing requests are recorded in ``audit``
    (``app.state.audit``; None: the audit trail of the engine's store, see
    :mod:`legato.api.audit`).
    """
    app = FastAPI(
        title="Legato",
        version=__version__,
        description="Durable process orchestration: BPMN 2.0, DMN and FEEL.",
        docs_url=None,
        redoc_url=None,
    )
    _add_docs(app)
    app.state.engine = engine
    app.state.authenticator = authenticator
    app.state.ready = True
    app.state.stopping = False
    app.state.parked_polls = 0
    app.state.max_upload_bytes = max_upload_bytes
    app.state.metrics_token = metrics_token
    app.state.audit = audit or AuditTrail(engine.store, now=engine.clock.now)
    app.state.sign_in_guard = SignInGuard(engine.store, now=engine.clock.now)
    app.include_router(v2.router, prefix="/v2")
    app.include_router(native.router, prefix="/legato/v1")
    app.include_router(c7.router, prefix=C7_PREFIX)
    app.include_router(oauth.router)
    app.include_router(metrics_router)
    _add_health(app)
    _add_error_handlers(app)
    _document_errors(app)
    app.add_middleware(_Gate)
    app.add_middleware(AuditRecorder)  # it sees the gate's 401 answers too
    app.add_middleware(SecurityHeaders)  # outermost: on every answer
    return app


RECENT_CREDENTIALS_TTL = 10.0
"""Seconds a verified ``Authorization`` header is trusted without asking the authenticator
again (a revoked key or changed password stops working within this, plus the
authenticator's own cache time)."""
_RECENT_CREDENTIALS_MAX = 4096


class _Gate:
    """What every request passes first: the body size limit (413), then authentication
    (401), putting the caller's principal on ``request.state.principal``.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs each request through
    task groups and memory streams, which cost more than the rest of a job completion.
    Credentials verified in the last :data:`RECENT_CREDENTIALS_TTL` seconds are accepted
    without a thread hop (a worker sends the same header on every call); others are verified
    on a thread, as a password check (argon2id) takes tens of milliseconds by design.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._recent: dict[bytes, tuple[float, Principal]] = {}
        self._pending: dict[bytes, asyncio.Future[Principal | Lockout | None]] = {}
        self._generation = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api: FastAPI = scope["app"]
        headers = Headers(scope=scope)
        limit: int = api.state.max_upload_bytes
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            detail = f"the request body has {length} bytes, more than the limit of {limit}"
            answer = _render(Request(scope), 413, "PAYLOAD_TOO_LARGE", detail)
            await answer(scope, receive, send)
            return
        if not length.isdigit():
            receive = _limited(receive, limit)  # streamed without a length: count it
        if is_api_path(scope["path"]):
            principal = None
            if scope["path"] == METRICS_PATH:
                principal = scrape_principal(
                    api.state.metrics_token, headers.get("authorization", "")
                )
            if principal is None:
                client = scope.get("client")
                address = client[0] if client else None
                verdict = await self._principal(api, headers, address)
                if isinstance(verdict, Lockout):
                    await _locked_out(Request(scope), api, verdict)(scope, receive, send)
                    return
                principal = verdict
            if principal is None:
                await _unauthorized(Request(scope))(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
            if scope["method"] == "POST" and scope["path"].startswith("/v2/jobs/"):
                if await v2_jobs.complete_fast(scope, receive, send, principal):
                    return
                receive = v2_jobs.replay(scope, receive)
        await self.app(scope, receive, send)

    async def _principal(
        self, api: FastAPI, headers: Headers, address: str | None
    ) -> Principal | Lockout | None:
        authenticator: Authenticator = api.state.authenticator
        guard: SignInGuard = api.state.sign_in_guard
        header = headers.get("authorization", "")
        if not header:
            return None
        if authenticator.generation != self._generation:
            self._recent.clear()  # an account changed here: verify everything again
            self._generation = authenticator.generation
        key = hashlib.sha256(header.encode()).digest()
        now = time.monotonic()
        recent = self._recent.get(key)
        if recent is not None and recent[0] > now:
            return recent[1]
        # One verification per header at a time: when a busy worker's entry expires, its
        # requests in flight wait for the same check instead of each running argon2.
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(
                run_in_threadpool(_verify, authenticator, guard, header, address)
            )
            self._pending[key] = pending
            try:
                principal = await asyncio.shield(pending)
            finally:
                del self._pending[key]
        else:
            principal = await asyncio.shield(pending)
        if isinstance(principal, Principal):
            if len(self._recent) >= _RECENT_CREDENTIALS_MAX:
                self._recent = {k: v for k, v in self._recent.items() if v[0] > now}
                if len(self._recent) >= _RECENT_CREDENTIALS_MAX:
                    self._recent.clear()
            self._recent[key] = (time.monotonic() + RECENT_CREDENTIALS_TTL, principal)
        return principal


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive``, raising an HTTP 413 once the body has grown past ``limit`` bytes (the
    route reading it answers with the problem; nothing larger is ever held)."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                detail = f"the request body is larger than the limit of {limit} bytes"
                raise StarletteHTTPException(413, detail)
        return message

    return counting


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem detail.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "The refused fields of a form (user task completion).",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status", "detail", "instance"],
}
_ERRORS = {
    "400": "The request is malformed (the detail names the member) or names something invalid",
    "401": "Credentials are missing or wrong",
    "403": "The caller may not do this",
    "404": "The key names nothing (or nothing the caller may see)",
    "409": "The command does not fit the current state",
    "413": "The request body is larger than the server's limit",
    "429": "Too many failed sign-ins of the account or address: the detail says when to retry",
    "500": "An unexpected error",
    "503": "Too much at once, or the database cannot be reached: try again",
}


def _document_errors(app: FastAPI) -> None:
    """The schema states the errors as they are answered: a body that fails validation is a
    400 (not FastAPI's 422), and every route may answer the problem details of
    :data:`_ERRORS` (``/engine-rest`` in Camunda 7's error shape)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ProblemDetail"] = _PROBLEM_SCHEMA
        problem_ref = {"$ref": "#/components/schemas/ProblemDetail"}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, description in _ERRORS.items():
                    if path in OPEN_PATHS and status in ("401", "403"):
                        continue
                    entry = responses.setdefault(status, {"description": description})
                    if path.startswith(C7_PREFIX) or path == "/oauth/token":
                        continue
                    entry.setdefault(
                        "content", {"application/problem+json": {"schema": problem_ref}}
                    )
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_ASSETS = "/docs/assets"
"""Where the interactive documentation's scripts and styles are served from: the server's own
copy (the ``swagger-ui-bundle`` package), so the page works without internet access."""


def _add_docs(app: FastAPI) -> None:
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(signed_in_only)])
    def docs() -> HTMLResponse:
        """The interactive documentation of every route (Swagger UI). Its page starts the UI
        with one inline script, which its content security policy allows by hash."""
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Legato API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )
        page.headers["Content-Security-Policy"] = _allowing_inline_scripts(bytes(page.body))
        return page


def _allowing_inline_scripts(html: bytes) -> str:
    """:data:`CONTENT_SECURITY_POLICY` that also allows the inline scripts of ``html``, each
    by the hash of its text."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in re.findall(rb"<script>(.*?)</script>", html, flags=re.DOTALL)
    ]
    return CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", " ".join(["script-src 'self'", *hashes])
    )


def _add_health(app: FastAPI) -> None:
    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """The process answers."""
        return {"status": "UP"}

    @app.get("/ready", tags=["health"])
    def ready(request: Request) -> Response:
        """The node serves: 200 once it does, 503 while it starts or stops."""
        if request.app.state.ready:
            return JSONResponse({"status": "UP"})
        return JSONResponse({"status": "DOWN"}, status_code=503)


def _verify(
    authenticator: Authenticator, guard: SignInGuard, header: str, address: str | None
) -> Principal | Lockout | None:
    """The principal of an ``Authorization`` header; for Basic (a name and a password or
    key secret), the lock-out that refuses it, and the failure counted when it is wrong."""
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower().rstrip(":")
    credentials = credentials.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, colon, secret = decoded.partition(":")
        if not colon:
            return None
        lockout = guard.locked(username, address)
        if lockout is not None:
            return lockout
        principal = authenticator.authenticate_basic(username, secret)
        if principal is None:
            guard.failed(username, address)
            return None
        guard.succeeded(username)
        return principal
    if scheme == "bearer" and credentials:
        return authenticator.authenticate_bearer(credentials)
    return None


def _locked_out(request: Request, api: FastAPI, lockout: Lockout) -> Response:
    """429 with ``Retry-After``, noted for the audit trail as a failed sign-in."""
    guard: SignInGuard = api.state.sign_in_guard
    note_audit(
        request,
        actor=Actor(lockout.name if lockout.kind == "account" else "anonymous", "anonymous"),
        action="auth.sign_in_failed",
        outcome=DENIED,
        details={"reason": "locked", "lockedUntil": lockout.until.isoformat()},
    )
    answer = _render(request, 429, "TOO_MANY_REQUESTS", lockout.message)
    answer.headers["Retry-After"] = str(lockout.retry_after(guard.now))
    return answer


def _unauthorized(request: Request) -> Response:
    if request.url.path.startswith(C7_PREFIX):
        # Camunda 7 answers 401 with an empty body and a Basic challenge.
        return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="legato"'})
    return problem(
        request,
        401,
        "UNAUTHORIZED",
        "credentials are missing or wrong",
        {"WWW-Authenticate": 'Basic realm="legato"'},
    )


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem detail (Camunda 8's error shape)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def problem_with(request: Request, body: dict[str, Any]) -> JSONResponse:
    """A problem detail with extra members (``body`` has ``status`` and the others)."""
    return JSONResponse(body, status_code=body["status"], media_type="application/problem+json")


def _add_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _render(request, exc.status, exc.title, exc.detail)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _render(request, 404, "NOT_FOUND", str(exc))

    async def invalid(request: Request, exc: Exception) -> Response:
        return _render(request, 409, "INVALID_STATE", str(exc))

    async def form_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormValidationError)
        if request.url.path.startswith(C7_PREFIX):
            return _render(request, 400, "INVALID_ARGUMENT", str(exc))
        body = {
            "type": "about:blank",
            "title": "INVALID_ARGUMENT",
            "status": 400,
            "detail": str(exc),
            "instance": request.url.path,
            "errors": [{"field": e.field, "message": e.message} for e in exc.errors],
        }
        return problem_with(request, body)

    async def busy(request: Request, exc: Exception) -> Response:
        return _render(request, 503, "RESOURCE_EXHAUSTED", str(exc))

    async def bad_body(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _render(request, 400, "INVALID_ARGUMENT", _validation_message(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
        title = titles.get(exc.status_code, "ERROR")
        answer = _render(request, exc.status_code, title, str(exc.detail))
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:
            answer.headers["Allow"] = ", ".join(_allowed_methods(request))
        return answer

    async def unexpected(request: Request, exc: Exception) -> Response:
        # Starlette raises it again after this answer, so the server logs the traceback.
        return _render(request, 500, "INTERNAL_ERROR", f"an unexpected error: {type(exc).__name__}")

    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(InvalidCommandError, invalid)
    app.add_exception_handler(FormValidationError, form_refused)
    app.add_exception_handler(StoreConflictError, busy)
    app.add_exception_handler(StoreUnavailableError, busy)
    app.add_exception_handler(TooManyRequestsError, busy)
    app.add_exception_handler(RequestValidationError, bad_body)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette names the first route's)."""
    allowed: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        methods = getattr(route, "methods", None)
        if match != Match.NONE and methods:
            allowed |= set(methods)
    return sorted(allowed)


C7Renderer = Callable[[Request, int, str], Response]
"""How the Camunda 7 surface renders an error: (request, status, message) -> response."""


def _render(request: Request, status: int, title: str, detail: str) -> Response:
    if request.url.path.startswith(C7_PREFIX):
        render: C7Renderer = c7.render_error
        return render(request, status, detail)
    return problem(request, status, title, detail)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "; ".join(parts) or "the request is invalid"
