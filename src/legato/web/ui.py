"""Rendering pages: the Jinja2 environment, its filters, the navigation registry, flash
messages and redirects (see :mod:`legato.web` for how pages use them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from legato.security import Principal

STATIC_DIR = Path(__file__).parent / "static"
"""The files served under ``/static/`` (the built bundle is ``dist/app.js`` and
``dist/app.css``)."""
FLASH_COOKIE = "legato_flash"
"""The cookie that carries flash messages across one redirect."""


@dataclass(frozen=True, slots=True)
class NavEntry:
    """One entry of the navigation bar."""

    label: str
    href: str
    permission: str | None
    """The permission a user needs to see the entry (None: every signed-in user)."""
    order: int


_NAV: dict[str, NavEntry] = {}


def register_nav(label: str, href: str, permission: str | None, *, order: int = 100) -> None:
    """Add a page to the navigation bar (again with the same ``href``: replace it); it shows
    only to users who hold ``permission``. A page module calls this when it is imported."""
    _NAV[href] = NavEntry(label, href, permission, order)


def nav_for(principal: Principal) -> list[NavEntry]:
    """The navigation entries ``principal`` may use, in order."""
    allowed = [e for e in _NAV.values() if e.permission is None or principal.may(e.permission)]
    return sorted(allowed, key=lambda e: (e.order, e.label))


def key_text(value: object) -> str:
    """A key (int64) as a decimal string, as JSON clients must read it."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"a key must be an integer, not {type(value).__name__}")
    return str(int(value))


def duration_text(value: timedelta | float | int | None) -> str:
    """A duration for people: ``350 ms``, ``4 s``, ``2 min 5 s``, ``3 h 20 min``, ``2 d 4 h``
    (a number is seconds; None is an empty string)."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{round(seconds * 1000)} ms"
    whole = int(seconds)
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        amount, whole = divmod(whole, size)
        if amount or (parts and len(parts) < 2):
            parts.append(f"{amount} {name}")
        if len(parts) == 2:
            break
    return sign + " ".join(p for p in parts if not p.startswith("0 ")) or f"{sign}0 s"


def time_tag(value: datetime | str | None) -> Markup:
    """``<time datetime="ISO">`` (UTC text inside, shown in the browser's time zone by the
    bundle); a naive datetime is taken as UTC, a string as ISO 8601; None is empty."""
    if value is None or value == "":
        return Markup("")
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    iso = when.isoformat().replace("+00:00", "Z")
    return Markup('<time datetime="{}">{}</time>').format(iso, when.strftime("%Y-%m-%d %H:%M UTC"))


@lru_cache(maxsize=64)
def _fingerprint(path: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """The URL of a static file with its content's fingerprint (served with long cache
    headers, so a new build must change the URL)."""
    file = STATIC_DIR / path
    try:
        version = _fingerprint(path, file.stat().st_mtime_ns)
    except OSError:
        version = "missing"
    return f"/static/{quote(path)}?v={version}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("legato.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["key"] = key_text
    env.filters["duration"] = duration_text
    env.filters["datetime"] = time_tag
    env.globals["static_url"] = static_url
    return env


templates = _environment()
"""The web app's Jinja2 environment (autoescape on for every template and string)."""


def flashes(request: Request) -> list[dict[str, str]]:
    """The flash messages that came with this request (from :func:`redirect`)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = json.loads(unquote(raw))
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        {"kind": str(i.get("kind", "info")), "text": str(i.get("text", ""))}
        for i in items
        if isinstance(i, dict)
    ]


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` as a page: the context has ``request``, ``principal`` (or None),
    ``nav`` (the entries the principal may use), ``csrf_token`` (of the session; set by
    :func:`legato.web.session.signed_in`), ``flashes``, ``current_path`` and
    ``context``. Flash messages shown here are cleared."""
    principal: Principal | None = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "nav": nav_for(principal) if principal is not None else [],
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "flashes": flashes(request),
        "current_path": request.url.path,
        **(context or {}),
    }
    html = templates.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(
    request: Request, url: str, *, flash: str | None = None, kind: str = "info"
) -> Response:
    """Go to ``url`` after a form post: 303 for a page, ``HX-Redirect`` for htmx. ``flash``
    is shown on the next page rendered (``kind``: info, success or error)."""
    response: Response
    if request.headers.get("hx-request") == "true":
        response = Response(status_code=200, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash is not None:
        items = [*flashes(request), {"kind": kind, "text": flash}]
        response.set_cookie(
            FLASH_COOKIE, quote(json.dumps(items)), path="/", httponly=True, samesite="lax"
        )
    return response
