"""The cockpit's versions of one process (``/cockpit/processes/{id}/versions``): each version
with its tag, suspended state, rollout share, instance counts and cycle times; the rollout
rule with a form to change it; suspending and resuming a version; the diff of two versions.

Anyone who may read instances sees the page; changing the rollout or a version's state takes
``definitions:deploy`` (admins and developers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from legato.api.deps import engine_of
from legato.errors import LegatoError, NotFoundError
from legato.runtime.diff import VersionDiff
from legato.security import DEPLOY, INSTANCES_READ, Principal
from legato.web.session import require_page
from legato.web.ui import redirect, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require_page(INSTANCES_READ))]
Changer = Annotated[Principal, Depends(require_page(DEPLOY))]


def _url(process_id: str) -> str:
    return f"/cockpit/processes/{quote(process_id, safe='')}/versions"


@router.get("/cockpit/processes/{process_id}/versions", response_model=None)
def versions_page(
    request: Request,
    process_id: str,
    principal: Reader,
    diff_from: Annotated[int | None, Query(alias="from", ge=1)] = None,
    diff_to: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> HTMLResponse:
    """The versions of a process, its rollout rule, and the diff of two versions when
    ``from`` and ``to`` are given."""
    engine = engine_of(request)
    try:
        versions = engine.process_versions(process_id)
    except NotFoundError as exc:
        return render(request, "error.html", {"status": 404, "message": str(exc)}, status=404)
    diff: VersionDiff | None = None
    diff_error = None
    if diff_from is not None and diff_to is not None:
        try:
            diff = engine.diff_versions(process_id, diff_from, diff_to)
        except NotFoundError as exc:
            diff_error = str(exc)
    rollout = engine.rollout(process_id)
    context = {
        "process_id": process_id,
        "versions": versions,
        "rollout": rollout,
        "split_text": ", ".join(f"{v}={p}" for v, p in rollout.split.items()) if rollout else "",
        "diff": diff,
        "diff_error": diff_error,
        "diff_from": diff_from or (versions[-2].version if len(versions) > 1 else 1),
        "diff_to": diff_to or versions[-1].version,
        "may_change": principal.may(DEPLOY),
    }
    return render(request, "versions.html", context)


def _act(request: Request, process_id: str, action: Callable[[], object], done: str) -> Response:
    try:
        action()
    except LegatoError as exc:
        return redirect(request, _url(process_id), flash=str(exc), kind="error")
    return redirect(request, _url(process_id), flash=done, kind="success")


@router.post("/cockpit/processes/{process_id}/rollout", response_model=None)
def change_rollout(
    request: Request,
    process_id: str,
    principal: Changer,
    mode: Annotated[str, Form()] = "split",
    split: Annotated[str, Form()] = "",
    rule: Annotated[str, Form()] = "",
) -> Response:
    """Set the rollout to a split (``1=90, 2=10``) or a FEEL rule, or clear it (``mode``
    ``split``, ``rule`` or ``clear``); a wrong one is named in the message shown."""
    engine = engine_of(request)
    if mode == "clear":
        return _act(
            request,
            process_id,
            lambda: engine.clear_rollout(process_id),
            "Rollout rule removed: new instances get the latest version.",
        )
    if mode == "rule":
        return _act(
            request,
            process_id,
            lambda: engine.set_rollout(process_id, rule=rule.strip(), by=principal.name),
            "Rollout rule set.",
        )
    shares = _split(split)
    if shares is None:
        message = f"Split: write VERSION=PERCENT pairs, e.g. 1=90, 2=10 (not {split!r})."
        return redirect(request, _url(process_id), flash=message, kind="error")
    return _act(
        request,
        process_id,
        lambda: engine.set_rollout(process_id, shares, by=principal.name),
        "Rollout split set.",
    )


def _split(text: str) -> dict[int, int] | None:
    shares: dict[int, int] = {}
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        version, sep, percent = item.partition("=")
        if not sep or not version.strip().isdigit() or not percent.strip().isdigit():
            return None
        shares[int(version)] = int(percent)
    return shares or None


@router.post("/cockpit/processes/{process_id}/versions/{version}/suspension", response_model=None)
def change_suspension(
    request: Request,
    process_id: str,
    version: int,
    principal: Changer,
    action: Annotated[str, Form()] = "suspend",
) -> Response:
    """Suspend a version (``action=suspend``) or resume it (``action=resume``)."""
    engine = engine_of(request)
    if action == "resume":
        return _act(
            request,
            process_id,
            lambda: engine.resume_version(process_id, version),
            f"Version {version} resumed.",
        )
    return _act(
        request,
        process_id,
        lambda: engine.suspend_version(process_id, version),
        f"Version {version} suspended: no new instances start on it.",
    )
