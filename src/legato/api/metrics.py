"""``/metrics``: the engine's Prometheus metrics, for admins and for a scrape token.

Prometheus scrapes with ``Authorization: Bearer <token>``, the token being the server's
``metrics_token`` (``LEGATO_METRICS_TOKEN``); an admin's credentials (a password, an API key,
a bearer token) are accepted too. Anything else is refused as the API refuses it: 401 without
or with wrong credentials, 403 for a caller who is not an admin (problem details).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from legato.api.deps import declare, principal_of
from legato.api.problems import Forbidden, NotFound
from legato.runtime.engine import Engine
from legato.security import METRICS_READ, Principal

METRICS_PATH = "/metrics"
"""Where the metrics are served."""

SCRAPER = Principal("metrics-scraper", frozenset(), kind="token")
"""The caller that presented the scrape token: it may read the metrics and nothing else."""

router = APIRouter(tags=["monitoring"])


def scrape_principal(token: str | None, authorization: str) -> Principal | None:
    """:data:`SCRAPER` when ``authorization`` is ``Bearer`` with the scrape ``token``."""
    if not token:
        return None
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    if hmac.compare_digest(presented.strip().encode(), token.encode()):
        return SCRAPER
    return None


async def _may_scrape(request: Request) -> Principal:
    """The caller, who must be the scraper or hold ``metrics:read`` (admins); 403 otherwise."""
    principal = principal_of(request)
    if principal is not SCRAPER and not principal.may(METRICS_READ):
        raise Forbidden(f"'{principal.name}' may not read the metrics: it needs 'admin'")
    return principal


declare(_may_scrape, (METRICS_READ,))


@router.get(
    METRICS_PATH,
    dependencies=[Depends(_may_scrape)],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "The metrics"}},
)
def metrics(request: Request) -> Response:
    """The engine's metrics in Prometheus' text format: instances started, completed,
    terminated and failed by process and version, durations of instances, elements and jobs,
    the engine's batches, commits and timer lag, and (from one node of the database at a
    time) active instances, open incidents, job queues and nodes alive."""
    engine: Engine = request.app.state.engine
    if engine.metrics is None:
        raise NotFound("this server keeps no metrics")
    return Response(engine.metrics_text(), media_type=CONTENT_TYPE_LATEST)
