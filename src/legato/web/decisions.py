"""The cockpit's decisions (``/cockpit/decisions``): the deployed DMN decisions, and for one
decision its table (the dmn-js viewer, fed by ``/cockpit/decisions/{id}/xml``) and its
recent evaluations by business rule tasks with the rules that matched, paged.

The engine records a decision's result and matched rules, not its inputs, so an
evaluation shows its outputs and the rows that gave them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from lxml import etree

from legato.api.deps import engine_of
from legato.api.v2.common import plain
from legato.engine.values import decode
from legato.errors import InvalidCommandError
from legato.runtime.cockpit import DecisionVersionInfo
from legato.runtime.engine import Engine
from legato.security import DEFINITIONS_READ, INSTANCES_READ, Principal
from legato.web.session import require_page
from legato.web.ui import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
"""Evaluations per page."""


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    """A decision with its latest version and how many versions are deployed."""

    latest: DecisionVersionInfo
    versions: int


def _engine(request: Request) -> Engine:
    engine = engine_of(request)
    return engine


def _versions(engine: Engine, decision_id: str) -> list[DecisionVersionInfo]:
    found = [d for d in engine.decision_definitions() if d.decision_id == decision_id]
    return sorted(found, key=lambda d: d.version)


def _not_found(request: Request, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": 404, "message": message}, status=404)


@router.get("/cockpit/decisions")
def decisions_page(
    request: Request,
    principal: Annotated[Principal, Depends(require_page(DEFINITIONS_READ))],
) -> HTMLResponse:
    """The deployed decisions, by id, each with its latest version."""
    summaries: dict[str, DecisionSummary] = {}
    for info in _engine(request).decision_definitions():
        known = summaries.get(info.decision_id)
        if known is None or info.version > known.latest.version:
            summaries[info.decision_id] = DecisionSummary(info, known.versions + 1 if known else 1)
        else:
            summaries[info.decision_id] = DecisionSummary(known.latest, known.versions + 1)
    ordered = [summaries[key] for key in sorted(summaries)]
    return render(request, "decisions.html", {"decisions": ordered})


@router.get("/cockpit/decisions/{decision_id}")
def decision_page(
    request: Request,
    decision_id: str,
    principal: Annotated[Principal, Depends(require_page(INSTANCES_READ))],
    version: int | None = None,
    after: str | None = None,
) -> HTMLResponse:
    """One decision: its table (a version, by default the latest) and its evaluations."""
    engine = _engine(request)
    versions = _versions(engine, decision_id)
    shown = _chosen(versions, version)
    if shown is None:
        return _not_found(request, f"No decision {decision_id!r} is deployed in that version.")
    try:
        page = engine.decision_evaluations(decision_id, after=after, limit=PAGE_SIZE)
    except InvalidCommandError as exc:
        return render(request, "error.html", {"status": 400, "message": str(exc)}, status=400)
    rows = {d.version: rule_rows(d.source, decision_id) for d in versions}
    context = {
        "decision": shown,
        "versions": versions,
        "page": page,
        "first_page": after is None,
        "rows": rows,
        "outputs": [output_items(plain(decode(e.result))) for e in page.evaluations],
    }
    return render(request, "decision.html", context)


@router.get("/cockpit/decisions/{decision_id}/xml")
def decision_xml(
    request: Request,
    decision_id: str,
    principal: Annotated[Principal, Depends(require_page(DEFINITIONS_READ))],
    version: int | None = None,
) -> Response:
    """The DMN XML of the resource that holds a decision (a version, by default the
    latest), for the decision table viewer."""
    shown = _chosen(_versions(_engine(request), decision_id), version)
    if shown is None:
        return Response("no such decision", status_code=404, media_type="text/plain")
    return Response(shown.source, media_type="application/xml")


def _chosen(versions: list[DecisionVersionInfo], version: int | None) -> DecisionVersionInfo | None:
    if not versions:
        return None
    if version is None:
        return versions[-1]
    return next((d for d in versions if d.version == version), None)


def rule_rows(source: str, decision_id: str) -> dict[str, int]:
    """The 1-based row of each rule (by id) of the decision table of ``decision_id`` in a
    DMN resource (empty when the decision is not a table or the XML cannot be read)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(source.encode(), parser)
    except etree.XMLSyntaxError:
        return {}
    for decision in root.iter("{*}decision"):
        if decision.get("id") != decision_id:
            continue
        table = decision.find("{*}decisionTable")
        if table is None:
            return {}
        rules = table.findall("{*}rule")
        return {rule.get("id", ""): n for n, rule in enumerate(rules, 1) if rule.get("id")}
    return {}


def output_items(result: Any) -> list[tuple[str, str]]:
    """An evaluation's result (plain JSON values) as (name, value as JSON text) pairs: a
    single output as one pair named ``result``, a context's entries by name, a list of
    them (COLLECT, RULE ORDER) numbered."""
    if isinstance(result, dict):
        return [(str(name), _json(value)) for name, value in result.items()]
    if isinstance(result, list):
        items: list[tuple[str, str]] = []
        for n, item in enumerate(result, 1):
            if isinstance(item, dict):
                items += [(f"{n}. {name}", _json(value)) for name, value in item.items()]
            else:
                items.append((f"{n}.", _json(item)))
        return items
    return [("result", _json(result))]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
