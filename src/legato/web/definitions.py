"""The BPMN XML of a deployed process version, for the diagrams of the pages
(``<div class="lg-diagram" data-xml-url="/definitions/{key}/xml">``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from legato.api.deps import engine_of
from legato.runtime.definitions import DECISION_PREFIX
from legato.security import DEFINITIONS_READ, Principal
from legato.web.session import require_page

router = APIRouter(include_in_schema=False)


def definition_xml_url(definition_key: int) -> str:
    """Where a page's diagram reads the XML of the process version ``definition_key``."""
    return f"/definitions/{definition_key}/xml"


@router.get("/definitions/{definition_key}/xml")
def definition_xml(
    request: Request,
    definition_key: int,
    principal: Annotated[Principal, Depends(require_page(DEFINITIONS_READ))],
) -> Response:
    """The XML the process version was deployed from (404 for an unknown key or a
    decision)."""
    with engine_of(request).store.transaction() as tx:
        record = tx.get_definition(definition_key)
    if record is None or record.process_id.startswith(DECISION_PREFIX):
        raise HTTPException(404, f"no process version with key {definition_key}")
    return Response(record.source, media_type="text/xml", headers={"Cache-Control": "private"})
