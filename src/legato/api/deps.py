"""What every route depends on: the engine, the caller, and the caller's permissions.

The authentication middleware of :mod:`legato.api.app` puts the caller's
:class:`~legato.security.Principal` on ``request.state.principal`` before any route runs
(or answers 401 itself); routes declare the permission they need with :func:`require` (or
:func:`require_any`; :func:`signed_in_only` for a route open to every authenticated caller).
Each such check carries what it demands (:func:`declared_permissions`), so a test can walk
every route and know which roles it admits.

The dependencies are coroutines: FastAPI runs a plain function dependency on a worker
thread, and that hop cost more than the whole dependency.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from legato.api.problems import Forbidden
from legato.api.scope import engine_for
from legato.runtime.engine import Engine
from legato.security import Principal
from legato.security.sensitive import Viewer


def engine_of(request: Request) -> Engine:
    """The engine the application serves, as the caller may see it: limited to its
    processes when the caller is (see :mod:`legato.api.scope`)."""
    engine: Engine = request.app.state.engine
    return engine_for(engine, getattr(request.state, "principal", None))


def principal_of(request: Request) -> Principal:
    """The authenticated caller of this request."""
    principal: Principal = request.state.principal
    return principal


def viewer_of(request: Request) -> Viewer:
    """Who this request shows sensitive values to: the caller, masked unless they may reveal.
    One per request, so that what was revealed is audited once when the request is done
    (see :class:`legato.api.audit.AuditRecorder`)."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    if viewer is None:
        viewer = request.state.viewer = Viewer(getattr(request.state, "principal", None))
    return viewer


_DECLARED = "legato_permissions"
_Check = TypeVar("_Check", bound=Callable[..., Any])


def declare(check: _Check, any_of: Iterable[str]) -> _Check:
    """Mark the dependency ``check`` as admitting a caller who holds any of ``any_of`` (none:
    every authenticated caller), and return it."""
    setattr(check, _DECLARED, frozenset(any_of))
    return check


def declared_permissions(call: object) -> frozenset[str] | None:
    """What the dependency ``call`` demands, as :func:`declare` marked it: any one of the
    permissions (an empty set: only that the caller is authenticated); None when ``call``
    is no permission check."""
    declared = getattr(call, _DECLARED, None)
    return declared if isinstance(declared, frozenset) else None


def require(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that refuses the request (403) unless the caller holds ``permission``."""
    return require_any(permission)


def require_any(*permissions: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that refuses the request (403) unless the caller holds one of
    ``permissions``."""

    async def check(request: Request) -> Principal:
        principal = principal_of(request)
        if not any(principal.may(p) for p in permissions):
            needed = "' or '".join(permissions)
            raise Forbidden(f"'{principal.name}' may not do this: it needs '{needed}'")
        return principal

    return declare(check, permissions)


async def signed_in_only(request: Request) -> Principal:
    """A dependency for a route every authenticated caller may use (the gate has answered
    401 to the others already)."""
    return principal_of(request)


declare(signed_in_only, ())


async def _engine(request: Request) -> Engine:
    return engine_of(request)


async def _principal(request: Request) -> Principal:
    return principal_of(request)


async def _viewer(request: Request) -> Viewer:
    return viewer_of(request)


EngineDep = Annotated[Engine, Depends(_engine)]
"""The engine, as a route parameter."""
PrincipalDep = Annotated[Principal, Depends(_principal)]
"""The caller, as a route parameter (no permission checked)."""
ViewerDep = Annotated[Viewer, Depends(_viewer)]
"""Whom the request shows variables to (see :func:`viewer_of`), as a route parameter."""
