"""Routes under ``/legato/v1``: what only Legato has (see :mod:`legato.api`).

- ``GET /nodes``: the engine nodes serving the database, with heartbeat, status and load;
- ``GET /instances/{instanceKey}/history``: an instance's history, event by event;
- ``GET /server``: this server: its node, whether it is ready, the long polls it holds;
- ``/users`` and ``/api-keys``: the accounts (admins only, :mod:`.accounts`);
- the cockpit's queries (:mod:`.cockpit`): instance search and detail, process versions
  and element statistics, incident groups, decisions and their evaluations;
- an operator's commands: suspend and resume, variable changes, retries with fixed
  variables, batch cancel and retry (:mod:`.operations`); tokens started and cancelled by
  hand, ``POST /instances/{instanceKey}/modification`` (:mod:`.modification`);
- instance migration: dry runs, durable batches with progress, pause, resume and cancel
  (:mod:`.migration`);
- process versions and rollout (:mod:`.versions`): versions with their tags, state and
  instances, the diff of two versions, suspending, resuming and tagging a version, the
  rollout rule that chooses new instances' versions;
- ``GET /audit``, ``/audit/verify`` and ``POST /audit/checkpoint``: the audit trail
  (:mod:`.audit`);
  variables, batch cancel and retry (:mod:`.operations`);
- alerts, expected durations and webhooks (:mod:`.alerts`);
- ``GET /export/xes`` and ``/export/csv``: the event log of chosen instances for process
  mining, streamed (:mod:`.eventlog`);
- ``GET /analytics/processes/{processId}`` (and ``.../compare``): a process's throughput,
  cycle time, error rate and bottlenecks per version (:mod:`.analytics`).

Same conventions as ``/v2``: keys as decimal strings, ISO 8601 dates with ``Z``, problem
details for errors.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from legato import __version__
from legato.api.deps import EngineDep, ViewerDep, require
from legato.api.problems import NotFound
from legato.api.v2.common import KeyText, Out, iso, parse_key, plain
from legato.engine.values import decode
from legato.security import INSTANCES_READ, SYSTEM_READ

router = APIRouter(tags=["legato"])
"""Every route of this surface; :func:`legato.api.app.create_app` mounts it."""


class NodeResult(Out):
    """An engine node (a ``legato serve`` process) and its last heartbeat."""

    nodeId: str
    host: str
    pid: int
    startedAt: str | None
    heartbeatAt: str | None
    status: str
    """``running``, ``stopped`` or ``dead``."""
    jobsDone: int
    timersFired: int
    load: float
    """The share of the last heartbeat interval the node spent working (0 to 1)."""
    abandoned: int
    """Handler calls abandoned past their timeout since the node started."""


class ServerResult(Out):
    """The server that answers (each server of a system answers for itself)."""

    nodeId: str
    """The name of this server's engine node."""
    version: str
    ready: bool
    stopping: bool
    parkedLongPolls: int
    """Job activations waiting for jobs now."""


class HistoryEntryResult(Out):
    """One event of an instance's history."""

    position: int
    eventType: str
    at: str | None
    elementId: str | None
    details: dict[str, Any]


class HistoryResult(Out):
    processInstanceKey: KeyText
    items: list[HistoryEntryResult]


@router.get("/nodes", response_model=list[NodeResult], dependencies=[Depends(require(SYSTEM_READ))])
def list_nodes(engine: EngineDep) -> list[NodeResult]:
    """The engine nodes of the database."""
    return [
        NodeResult(
            nodeId=n.node_id,
            host=n.host,
            pid=n.pid,
            startedAt=iso(n.started_at),
            heartbeatAt=iso(n.heartbeat_at),
            status=n.status,
            jobsDone=n.jobs_done,
            timersFired=n.timers_fired,
            load=n.load,
            abandoned=n.abandoned,
        )
        for n in engine.nodes()
    ]


@router.get("/server", response_model=ServerResult, dependencies=[Depends(require(SYSTEM_READ))])
def this_server(request: Request, engine: EngineDep) -> ServerResult:
    """This server's node, readiness and load."""
    state = request.app.state
    return ServerResult(
        nodeId=engine.worker_name,
        version=__version__,
        ready=state.ready,
        stopping=state.stopping,
        parkedLongPolls=state.parked_polls,
    )


@router.get(
    "/instances/{instanceKey}/history",
    response_model=HistoryResult,
    dependencies=[Depends(require(INSTANCES_READ))],
)
def instance_history(
    instanceKey: Annotated[str, Path()], engine: EngineDep, viewer: ViewerDep
) -> HistoryResult:
    """An instance's history in order (keys inside ``details`` stay numbers; sensitive
    values masked unless the caller may reveal them)."""
    key = parse_key(instanceKey, "instanceKey")
    entries = engine.history(key, viewer=viewer)
    if not entries:
        raise NotFound(f"no process instance with key {key}")
    return HistoryResult(
        processInstanceKey=str(key),
        items=[
            HistoryEntryResult(
                position=e.position,
                eventType=e.event_type,
                at=iso(e.at),
                elementId=e.element_id,
                details=plain(decode(e.details)),
            )
            for e in entries
        ],
    )


from legato.api.native import (  # noqa: E402 (their routes join this router)
    accounts,
    alerts,
    analytics,
    audit,
    cockpit,
    eventlog,
    migration,
    modification,
    operations,
    versions,
)

router.include_router(accounts.router)
router.include_router(alerts.router)
router.include_router(cockpit.router)
router.include_router(operations.router)
router.include_router(modification.router)
router.include_router(eventlog.router)
router.include_router(migration.router)
router.include_router(versions.router)
router.include_router(audit.router)
router.include_router(analytics.router)
