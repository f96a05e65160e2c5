"""The cockpit's instance list (``/cockpit/instances``): instances found by filters, paged by
cursor, with bulk cancel and bulk retry for operators.

The filters are a GET form, so a list is a shareable URL. Paging follows the engine's
cursors (:meth:`~legato.runtime.engine.Engine.search_instances`): ``after`` is the cursor of
the page shown and ``back`` the cursors of the pages before it (``_`` for the first page,
joined by ``.``), so "Previous" needs no query of its own.

A bulk operation takes the selected rows or every instance the filters find (at most
:data:`MAX_BULK`); it first shows what it would do (the engine's dry run) and acts only when
confirmed; the outcome comes back as a flash message on the list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict

from legato.api.deps import engine_of
from legato.errors import InvalidCommandError
from legato.runtime.cockpit import MAX_PAGE, InstancePage
from legato.runtime.engine import Engine
from legato.runtime.types import BatchResult
from legato.security import INSTANCES_MODIFY, INSTANCES_READ, Principal
from legato.security.sensitive import Viewer
from legato.store.records import INSTANCE_FILTER_STATUSES
from legato.web.session import require_page
from legato.web.ui import redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Instances per page of the list."""
COUNT_CAP = 10_000
"""How far the list counts what its filters find (beyond: ``10,000+``)."""
MAX_BULK = 10_000
"""The most instances one bulk operation takes (the engine's batch limit)."""
FIRST_PAGE = "_"
"""The first page's place in ``back`` (it has no cursor)."""
SHOWN_REASONS = 5
"""Skipped instances whose reasons a flash message names (the others are counted)."""
BULK_KINDS = {"cancel": ("Cancel", "cancelled"), "retry": ("Retry", "retried")}
"""A bulk operation's kind: its button's verb and its past tense."""

FILTER_FIELDS = (
    "process",
    "version",
    "state",
    "business_key",
    "variable",
    "value",
    "started_from",
    "started_before",
    "ended_from",
    "ended_before",
    "size",
)
"""The list's filter parameters (in the URL and in the bulk forms); ``size`` is the page
size (1 to 500, by default :data:`PAGE_SIZE`)."""


@dataclass
class InstanceFilters:
    """The filters of the list as the form sent them (``values``) and as the engine takes
    them (``arguments``), with a message per field it could not read (``errors``)."""

    values: dict[str, str] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def page_size(self) -> int:
        """The number of instances a page shows."""
        size = self.values.get("size", "")
        return int(size) if size.isdigit() and "size" not in self.errors else PAGE_SIZE


def parse_filters(params: ImmutableMultiDict[str, Any] | Mapping[str, Any]) -> InstanceFilters:
    """Read the filter fields of a query string or a posted form."""
    found = InstanceFilters()
    for name in FILTER_FIELDS:
        raw = params.get(name)
        found.values[name] = raw.strip() if isinstance(raw, str) else ""
    values, arguments, errors = found.values, found.arguments, found.errors
    if values["process"]:
        arguments["process_id"] = values["process"]
    if values["version"]:
        if not values["version"].isdigit() or int(values["version"]) < 1:
            errors["version"] = f"Version: {values['version']!r} is not a version number."
        else:
            arguments["version"] = int(values["version"])
    if values["state"]:
        if values["state"] not in INSTANCE_FILTER_STATUSES:
            errors["state"] = "State: choose one of " + ", ".join(INSTANCE_FILTER_STATUSES) + "."
        else:
            arguments["status"] = values["state"]
    if values["business_key"]:
        arguments["business_key"] = values["business_key"]
    if values["variable"] or values["value"]:
        if not values["variable"]:
            errors["variable"] = "Variable: give the name of the variable the value is for."
        else:
            arguments["variable"] = (values["variable"], variable_value(values["value"]))
    if values["size"] and (not values["size"].isdigit() or not 1 <= int(values["size"]) <= 500):
        errors["size"] = f"Page size: {values['size']!r} is not a number from 1 to 500."
    for name, argument in (
        ("started_from", "started_from"),
        ("started_before", "started_before"),
        ("ended_from", "ended_from"),
        ("ended_before", "ended_before"),
    ):
        if values[name]:
            moment = parse_moment(values[name])
            if moment is None:
                label = name.replace("_", " ").capitalize()
                errors[name] = f"{label}: {values[name]!r} is not a date and time."
            else:
                arguments[argument] = moment
    return found


def refuse_probe(engine: Engine, filters: InstanceFilters, principal: Principal) -> None:
    """Refuse, as an error of the variable field, a filter by the value of a variable that
    is sensitive and that the user may not see: the instances it finds would tell the value
    (see :meth:`~legato.runtime.engine.Engine.refused_filter`)."""
    refused = engine.refused_filter(
        filters.arguments.get("variable"),
        process_id=filters.arguments.get("process_id"),
        viewer=Viewer(principal),
    )
    if refused is not None:
        filters.errors["variable"] = f"Variable: {refused}."


def variable_value(text: str) -> Any:
    """A variable's value as typed: a number, ``true``/``false`` or a JSON string literal
    as such, any other text as a string."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if isinstance(parsed, str | int | float | bool) else text


def parse_moment(text: str) -> datetime | None:
    """A date (``2026-12-07``) or date and time (``2026-12-07T10:30``, with an optional
    offset) as a UTC time; a time without an offset is UTC. None when it is neither."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _engine(request: Request) -> Engine:
    engine = engine_of(request)
    return engine


def _back_trail(raw: str | None) -> list[str]:
    return [part for part in (raw or "").split(".") if part]


def _page_url(filters: InstanceFilters, after: str | None, back: list[str]) -> str:
    params = {k: v for k, v in filters.values.items() if v}
    if after:
        params["after"] = after
    if back:
        params["back"] = ".".join(back)
    return "/cockpit/instances" + (f"?{urlencode(params)}" if params else "")


@router.get("/cockpit/instances")
def instances_page(
    request: Request,
    principal: Annotated[Principal, Depends(require_page(INSTANCES_READ))],
) -> HTMLResponse:
    """The instance list: filters, one page of instances, paging, bulk operations."""
    filters = parse_filters(request.query_params)
    refuse_probe(_engine(request), filters, principal)
    after = request.query_params.get("after") or None
    back = _back_trail(request.query_params.get("back"))
    page: InstancePage | None = None
    if not filters.errors:
        try:
            page = _engine(request).search_instances(
                **filters.arguments,
                after=after,
                limit=filters.page_size,
                with_count=True,
                count_cap=COUNT_CAP,
            )
        except InvalidCommandError as exc:
            filters.errors["form"] = str(exc)
    previous_url = None
    if after:
        before = back[:-1]
        previous_after = back[-1] if back and back[-1] != FIRST_PAGE else None
        previous_url = _page_url(filters, previous_after, before)
    next_url = None
    if page is not None and page.next_cursor:
        next_url = _page_url(filters, page.next_cursor, [*back, after or FIRST_PAGE])
    context = {
        "filters": filters,
        "states": INSTANCE_FILTER_STATUSES,
        "page": page,
        "now": datetime.now(UTC),
        "previous_url": previous_url,
        "next_url": next_url,
        "here": _page_url(filters, after, back),
        "may_modify": principal.may(INSTANCES_MODIFY),
        "bulk_kinds": BULK_KINDS,
    }
    return render(request, "instances.html", context, status=400 if filters.errors else 200)


def matching_keys(engine: Engine, arguments: Mapping[str, Any], limit: int = MAX_BULK) -> list[int]:
    """The keys of every instance the filters find, newest first, reading page by page.

    Raises:
        InvalidCommandError: they find more than ``limit`` instances.
    """
    keys: list[int] = []
    after: str | None = None
    while True:
        page = engine.search_instances(**arguments, after=after, limit=MAX_PAGE)
        keys += [info.key for info in page.instances]
        if len(keys) > limit:
            raise InvalidCommandError(
                f"the filters find more than {limit:,} instances: narrow them "
                f"(at most {limit:,} per bulk operation)"
            )
        if page.next_cursor is None:
            return keys
        after = page.next_cursor


def outcome_text(result: BatchResult) -> str:
    """A bulk operation's outcome for a flash message: what was done, what was skipped and
    why (the first few reasons)."""
    verb = BULK_KINDS[result.kind][1]
    text = f"{verb.capitalize()} {_instances(len(result.done))}."
    if result.skipped:
        reasons = [reason for reason in result.skipped.values()][:SHOWN_REASONS]
        more = len(result.skipped) - len(reasons)
        text += f" Skipped {_instances(len(result.skipped))}: " + "; ".join(reasons)
        text += f"; and {more} more." if more else "."
    return text


def _instances(n: int) -> str:
    return f"{n:,} instance" + ("" if n == 1 else "s")


def _keys(raw: Iterable[Any]) -> list[int]:
    keys: list[int] = []
    for value in raw:
        text = str(value).strip()
        if not text.isdigit():
            raise InvalidCommandError(f"key: {text!r:.40} is not an instance key")
        keys.append(int(text))
    return keys


@router.post("/cockpit/instances/bulk")
async def bulk_operation(
    request: Request,
    principal: Annotated[Principal, Depends(require_page(INSTANCES_MODIFY))],
) -> Response:
    """Cancel or retry the selected instances (``key`` fields) or every instance the
    filters find: ``op`` is ``cancel:selected``, ``retry:all``, ... (or ``kind`` and
    ``scope`` apart); first the dry run to confirm, then (``confirmed=yes``)
    the operation, back to the list with its outcome."""
    form = await request.form()
    op = str(form.get("op") or f"{form.get('kind', '')}:{form.get('scope', '')}")
    kind, _, scope = op.partition(":")
    confirmed = form.get("confirmed") == "yes"
    filters = parse_filters(form)
    await run_in_threadpool(refuse_probe, _engine(request), filters, principal)
    back_to = str(form.get("back_to") or "")
    if not back_to.startswith("/cockpit/instances"):
        back_to = _page_url(filters, None, [])
    engine = _engine(request)
    try:
        if kind not in BULK_KINDS:
            raise InvalidCommandError(f"kind: choose one of {', '.join(BULK_KINDS)}")
        if scope == "all":
            if filters.errors:
                raise InvalidCommandError(" ".join(filters.errors.values()))
            keys = await run_in_threadpool(matching_keys, engine, filters.arguments)
        elif scope == "selected":
            keys = _keys(form.getlist("key"))
            if not keys:
                raise InvalidCommandError("select at least one instance")
        else:
            raise InvalidCommandError("scope: choose selected or all")
        result: BatchResult = await run_in_threadpool(
            lambda: engine.batch(kind, keys=keys, by=principal.name, dry_run=not confirmed)
        )
    except InvalidCommandError as exc:
        return redirect(request, back_to, flash=f"Nothing done: {exc}.", kind="error")
    if confirmed:
        flash_kind = "success" if not result.skipped else "info"
        return redirect(request, back_to, flash=outcome_text(result), kind=flash_kind)
    context = {
        "kind": kind,
        "verb": BULK_KINDS[kind][0],
        "scope": scope,
        "result": result,
        "skipped": list(result.skipped.items())[:50],
        "keys": keys,
        "filters": filters,
        "back_to": back_to,
    }
    return render(request, "instances_confirm.html", context)
