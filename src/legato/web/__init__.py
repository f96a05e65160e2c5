"""The web app at ``/``: a task list for people and a cockpit for operators.

Server-rendered pages (Jinja2, htmx for partial updates) with the bpmn.io libraries for
diagrams and forms, all from the bundle built by ``scripts/build-web.sh`` into
``static/dist/`` (no CDN). :func:`mount` adds it to the server's application
(``legato serve --http`` does). API paths (``/v2``, ``/legato/v1``, ``/engine-rest``, ...)
take API credentials; every other path is the web app's, signed in by a session cookie.

Building a page
---------------
A page module (``legato/web/tasks.py`` is one) has an ``APIRouter`` named ``router``, which
:data:`PAGE_ROUTERS` lists, and registers its menu entry when imported::

    from legato.security import TASKS_WORK, Principal
    from legato.web.session import SignedIn, require_page
    from legato.web.ui import redirect, register_nav, render

    router = APIRouter(include_in_schema=False)
    register_nav("Tasks", "/tasks", TASKS_WORK, order=10)  # shown only to who holds it

    @router.get("/tasks")
    def tasks_page(request: Request,
                   principal: Annotated[Principal, Depends(require_page(TASKS_WORK))]):
        return render(request, "tasks.html", {"tasks": ...})

    @router.post("/tasks/{key}/claim")
    def claim(request: Request, key: int, principal: SignedIn):
        ...
        return redirect(request, f"/tasks/{key}", flash="Claimed.", kind="success")

- :data:`~legato.web.session.SignedIn` (``Annotated[Principal, Depends(signed_in)]``): the
  signed-in user; without a session a page redirects to ``/login?next=<path>`` and an htmx
  request gets 401 with ``HX-Redirect``. On POST/PUT/PATCH/DELETE it also checks the CSRF
  token (form field ``csrf`` or header ``X-CSRF-Token``; 403 without). Every web route
  depends on it or on :func:`~legato.web.session.require_page`.
- ``require_page(permission)``: the same, and the 403 page when the permission is missing.
- :func:`~legato.web.ui.render` ``(request, template, context, *, status, headers)``: the
  context has ``principal``, ``nav``, ``csrf_token``, ``flashes``, ``current_path``.
- :func:`~legato.web.ui.redirect` ``(request, url, *, flash, kind)``: 303 (``HX-Redirect``
  for htmx), with a flash message shown on the next page.
- ``register_nav(label, href, permission, *, order)``: a menu entry (None: everyone).
- ``request.app.state.engine`` (or ``legato.api.deps.engine_of``) is the engine.
- A diagram's XML: ``/definitions/{definition_key}/xml`` (for who holds
  ``definitions:read``; :func:`legato.web.definitions.definition_xml_url`).

Templates (``legato/web/templates/``), autoescaped everywhere (values are data, never
markup): extend ``base.html`` and fill the blocks ``title``, ``page_id`` (``data-page`` of
``<body>``), ``head`` (extra tags in ``<head>``) and ``main``. ``base.html`` has the header,
the role-aware navigation, the flash messages, ``<meta name="csrf-token">``, ``hx-headers``
with the CSRF header on ``<body>``, and the bundle. A form that posts carries
``<input type="hidden" name="csrf" value="{{ csrf_token }}">``. Filters: ``key`` (an int64
key as a decimal string), ``duration`` (a timedelta or seconds: ``2 min 5 s``), ``datetime``
(``<time datetime="ISO">``, shown in the browser's time zone). Global: ``static_url(path)``.

The bundle (``web/src/app.js``), driven by data attributes, no inline script:

- ``<div class="lg-diagram" data-xml-url="..." data-highlight="id,..." data-path="id,..."
  data-tokens="id,..." data-incidents="id,..." data-overlays-url="...">``: a BPMN viewer (a
  model without diagram interchange, as the examples are, is laid out by
  ``bpmn-auto-layout``); the classes ``lg-highlight``, ``lg-path``, ``lg-token``,
  ``lg-incident`` mark elements; the overlays URL answers
  ``{"elementId": {"active": n, "incidents": n, "completed": n}}``, drawn as badges.
- ``<div class="lg-decision" data-xml-url="..." data-decision="id">``: a DMN viewer.
- ``<div class="lg-form" id="..." data-schema-url="..." data-data-url="..."
  data-submit-url="..." data-submit-label="Complete">``: a Camunda form (form-js) with a
  submit button (unless the schema has one); submits the data as JSON with the CSRF header;
  a 400 problem with ``errors: [{field, message}]`` shows each message at its field (by the
  field's key); success follows ``HX-Redirect`` or ``Location``; 401 keeps the data and
  goes to sign-in, and the same page restores it after.
- ``<div class="lg-dashboard" data-report-url="..." data-compare-url="...">`` (of
  ``dashboard.html``): a process dashboard drawn from the analytics report and comparison
  JSON (``web/src/dashboard.js``, the chart in ``web/src/chart.js``); the compare URL gets
  ``&a=n&b=m`` from its form.
- htmx with the CSRF header; ``<time datetime>`` in the browser's time zone, also in content
  that htmx swaps in. Content added otherwise: ``window.legato.init(element)``.
- A form posted without a session keeps its input in ``sessionStorage`` and gets it back on
  the same page after sign-in (opt out with ``data-lg-no-keep``).

Browser tests: ``tests/web/conftest.py`` (fixtures ``web_server``, ``browser``, ``page``,
``expected_console_errors``, ``sign_in``) and ``tests/web/web_support.py`` (``USERS``,
``session_client``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from legato.api.app import is_api_path
from legato.web import (
    alerts,
    audit,
    dashboard,
    decisions,
    definitions,
    incidents,
    instance,
    instances,
    landing,
    migrations,
    processes,
    session,
    start,
    tasks,
    versions,
)
from legato.web.ui import STATIC_DIR, render

PAGE_ROUTERS: tuple[APIRouter, ...] = (
    landing.router,
    tasks.router,
    processes.router,
    instance.router,
    instances.router,
    incidents.router,
    alerts.router,
    decisions.router,
    dashboard.router,
    start.router,
    definitions.router,
    migrations.router,
    versions.router,
    audit.router,
)
"""The routers of the pages; a new page module adds its router here."""
STATIC_MAX_AGE = 365 * 24 * 3600
"""Seconds a browser keeps a static file (URLs carry the content's fingerprint)."""


class _LongCached(StaticFiles):
    """Static files with long cache headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}, immutable"
        return response


def mount(app: FastAPI) -> None:
    """Add the web app to the server's application ``app`` (of
    :func:`legato.api.app.create_app`)."""
    app.mount("/static", _LongCached(directory=STATIC_DIR, check_dir=False), name="static")
    app.include_router(session.router)
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.add_exception_handler(session.SignInRequired, session.answer_sign_in)
    app.add_exception_handler(session.PageForbidden, session.answer_forbidden)
    app.add_exception_handler(session.CsrfRefused, session.answer_forbidden)
    api_answer = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        """A page that does not exist (or lacks the method) answers with a page; the API
        answers as it did."""
        assert isinstance(exc, StarletteHTTPException)
        if is_api_path(request.url.path) or exc.status_code not in (404, 405):
            answer: Response = await api_answer(request, exc)  # type: ignore[misc]
            return answer
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        context = {"status": exc.status_code, "message": message}
        return render(request, "error.html", context, status=exc.status_code)

    app.add_exception_handler(StarletteHTTPException, http_error)
