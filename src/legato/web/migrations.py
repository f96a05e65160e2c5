"""The cockpit's instance migration (``/cockpit``): plan, dry run, run, progress.

- ``/cockpit/processes/{id}/migrate``: choose the source and target versions, map the
  elements of the source whose id the target lacks, set variables, then *Check* (a dry run
  over every active instance of the source version: how many can move, and why the others
  cannot) or *Migrate* (a durable batch the servers run);
- ``/cockpit/migrations``: the batches, newest first; ``/cockpit/migrations/{key}``: one
  batch's progress (refreshed while it runs), the instances that could not move, and
  pause, resume and cancel.

Seeing needs ``instances:read``; planning and running need ``instances:modify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from legato.api.deps import engine_of
from legato.errors import LegatoError, NotFoundError
from legato.runtime.engine import Engine
from legato.runtime.migration import MigrationCheck, MigrationPlan
from legato.runtime.migration_batches import selected_instances
from legato.security import INSTANCES_MODIFY, INSTANCES_READ, Principal
from legato.web.session import require_page
from legato.web.ui import redirect, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require_page(INSTANCES_READ))]
Operator = Annotated[Principal, Depends(require_page(INSTANCES_MODIFY))]

SHOWN_CHECKS = 200
"""Instances a dry run lists one by one (the rest are counted)."""


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A source element whose id the target version lacks, with the target's candidates."""

    element_id: str
    label: str
    kind: str
    choices: list[tuple[str, str]]
    """(element id, label) of the target's elements of the same kind."""
    chosen: str


def _engine(request: Request) -> Engine:
    engine = engine_of(request)
    return engine


def _versions(engine: Engine, process_id: str) -> list[int]:
    found = sorted(
        (v.version for v in engine.process_definitions() if v.process_id == process_id),
        reverse=True,
    )
    if not found:
        raise NotFoundError(f"no process {process_id} is deployed")
    return found


def _label(element_id: str, name: str | None) -> str:
    return f"{name} ({element_id})" if name else element_id


def _unmatched(
    engine: Engine, process_id: str, source: int, target: int, chosen: dict[str, str]
) -> list[Unmatched]:
    before = engine.process_model(process_id, source)
    after = engine.process_model(process_id, target)
    rows = []
    for element in before.elements.values():
        if element.element_id in after.elements:
            continue
        choices = [
            (e.element_id, _label(e.element_id, e.name))
            for e in after.elements.values()
            if type(e) is type(element)
        ]
        rows.append(
            Unmatched(
                element.element_id,
                _label(element.element_id, element.name),
                str(element.kind),
                choices,
                chosen.get(element.element_id, ""),
            )
        )
    return rows


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _plan_from(engine: Engine, process_id: str, form: dict[str, str]) -> MigrationPlan:
    source, target = int(form.get("source", "0") or 0), int(form.get("target", "0") or 0)
    mappings = {
        key.removeprefix("map:"): value
        for key, value in form.items()
        if key.startswith("map:") and value
    }
    variables: dict[str, str] = {}
    for line in form.get("variables", "").splitlines():
        if line.strip():
            name, sign, expression = line.partition("=")
            if not sign or not name.strip() or not expression.strip():
                raise _FormError(f"Variables: write one NAME = FEEL per line, not {line!r}.")
            variables[name.strip()] = expression.strip()
    return engine.migration_plan(
        process_id,
        source,
        target,
        mappings,
        variables=variables,
        recreate_timers=form.get("recreate_timers") == "on",
    )


class _FormError(Exception):
    """A form field that cannot be read (its message is for the user)."""


def _page(
    request: Request,
    process_id: str,
    form: dict[str, str],
    *,
    checks: list[MigrationCheck] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    engine = _engine(request)
    versions = _versions(engine, process_id)
    source = int(form.get("source") or (versions[1] if len(versions) > 1 else versions[0]))
    target = int(form.get("target") or versions[0])
    chosen = {k.removeprefix("map:"): v for k, v in form.items() if k.startswith("map:")}
    try:
        unmatched = _unmatched(engine, process_id, source, target, chosen)
    except LegatoError as exc:
        unmatched, error = [], error or str(exc)
    refused = [c for c in checks or () if not c.ok]
    context = {
        "process_id": process_id,
        "versions": versions,
        "source": source,
        "target": target,
        "unmatched": unmatched,
        "variables": form.get("variables", ""),
        "recreate_timers": form.get("recreate_timers") == "on",
        "checks": checks,
        "shown_checks": (refused + [c for c in checks or () if c.ok])[:SHOWN_CHECKS],
        "refused": len(refused),
        "error": error,
    }
    return render(request, "migrate.html", context, status=status)


@router.get("/cockpit/processes/{process_id}/migrate", response_model=None)
def migrate_page(request: Request, process_id: str, principal: Operator) -> Response:
    """The plan form: versions, mappings, variables."""
    try:
        return _page(request, process_id, dict(request.query_params))
    except NotFoundError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status=404)


@router.post("/cockpit/processes/{process_id}/migrate/check", response_model=None)
async def check(request: Request, process_id: str, principal: Operator) -> Response:
    """A dry run over every active instance of the source version."""
    form = await _form(request)
    engine = _engine(request)

    def dry_run() -> list[MigrationCheck]:
        plan = _plan_from(engine, process_id, form)
        with engine.store.transaction() as tx:
            keys = selected_instances(tx, plan, None)
        return engine.check_migration(plan, keys)

    try:
        checks = await run_in_threadpool(dry_run)
    except (LegatoError, _FormError, ValueError) as exc:
        return _page(request, process_id, form, error=str(exc), status=400)
    return _page(request, process_id, form, checks=checks)


@router.post("/cockpit/processes/{process_id}/migrate", response_model=None)
async def start(request: Request, process_id: str, principal: Operator) -> Response:
    """Start a durable batch migrating every active instance of the source version."""
    form = await _form(request)
    engine = _engine(request)

    def begin() -> int:
        plan = _plan_from(engine, process_id, form)
        return engine.migrate_in_batch(plan, by=principal.name).key

    try:
        key = await run_in_threadpool(begin)
    except (LegatoError, _FormError, ValueError) as exc:
        return _page(request, process_id, form, error=str(exc), status=400)
    return redirect(
        request, f"/cockpit/migrations/{key}", flash="Migration started.", kind="success"
    )


@router.get("/cockpit/migrations")
def migrations_page(request: Request, principal: Reader) -> HTMLResponse:
    """The migration batches, newest first."""
    batches = [b for b in _engine(request).batch_operations() if b.kind == "migration"]
    return render(request, "migrations.html", {"batches": batches})


def _batch_context(request: Request, key: int) -> dict[str, object]:
    engine = _engine(request)
    batch = engine.batch_operation(key)
    principal: Principal = request.state.principal
    return {
        "batch": batch,
        "failures": engine.batch_failures(key),
        "may_modify": principal.may(INSTANCES_MODIFY),
        "percent": 100 if not batch.total else (batch.done + batch.failed) * 100 // batch.total,
    }


@router.get("/cockpit/migrations/{key}", response_model=None)
def migration_page(request: Request, key: int, principal: Reader) -> Response:
    """One batch's progress, refreshed while it runs."""
    try:
        context = _batch_context(request, key)
    except NotFoundError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status=404)
    return render(request, "migration.html", context)


@router.get("/cockpit/migrations/{key}/progress", response_model=None)
def migration_progress(request: Request, key: int, principal: Reader) -> Response:
    """The progress part of the batch page (htmx polls it while the batch runs)."""
    try:
        context = _batch_context(request, key)
    except NotFoundError as exc:
        return Response(str(exc), status_code=404, media_type="text/plain")
    return render(request, "_migration_progress.html", context)


@router.post("/cockpit/migrations/{key}/{action}", response_model=None)
async def control(request: Request, key: int, action: str, principal: Operator) -> Response:
    """Pause, resume or cancel a batch."""
    engine = _engine(request)
    actions = {
        "pause": engine.pause_batch_operation,
        "resume": engine.resume_batch_operation,
        "cancel": engine.cancel_batch_operation,
    }
    if action not in actions:
        context = {"status": 404, "message": "No such action."}
        return render(request, "error.html", context, status=404)
    try:
        batch = await run_in_threadpool(actions[action], key)
    except LegatoError as exc:
        return redirect(request, f"/cockpit/migrations/{key}", flash=f"{exc}.", kind="error")
    flash = f"Migration {batch.status}."
    return redirect(request, f"/cockpit/migrations/{key}", flash=flash, kind="success")
