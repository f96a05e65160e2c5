"""What every ``/v2`` route shares: keys, dates, JSON values, and search requests and pages.

Camunda 8's conventions (CAMUNDA.md §1.3): keys are int64 as decimal strings, dates ISO 8601
with ``Z``, the tenant ``<default>``, and searches ``{filter, page: {from, limit}, sort:
[{field, order}]}`` answered with ``{items, page: {totalItems, hasMoreTotalItems,
startCursor, endCursor}}``. Request bodies are validated strictly (a wrong type is a 400
naming the field) and unknown members are ignored, as Camunda does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from legato.api.audit import note_audit
from legato.api.problems import BadRequest
from legato.engine.values import checked_variables, decode
from legato.errors import InvalidCommandError, LegatoError
from legato.runtime.engine import Engine
from legato.security.audit import variable_changes

DEFAULT_TENANT = "<default>"
"""The one tenant Legato has, as Camunda 8 names it."""
TENANT_PATTERN = r"^(<default>|[A-Za-z0-9_@.+-]+)$"

T = TypeVar("T")


class Strict(BaseModel):
    """A request body: strict types, unknown members ignored, names as Camunda spells them."""

    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class Out(BaseModel):
    """A response body."""

    model_config = ConfigDict(populate_by_name=True)


def _key(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a key is a decimal string")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 25:
        return int(value)
    raise ValueError('a key is a decimal string such as "2251799813685249"')


Key = Annotated[
    int,
    BeforeValidator(_key),
    WithJsonSchema({"type": "string", "pattern": "^-?[0-9]+$", "maxLength": 25}),
]
"""A key in a request body: a decimal string (a JSON number is accepted too)."""


def _storable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        checked_variables(value)
    except InvalidCommandError as exc:
        raise ValueError(str(exc)) from None
    return value


Variables = Annotated[dict[str, Any] | None, AfterValidator(_storable)]
"""Variables in a request body: a JSON object whose values Legato can store as they are
(a value it cannot, such as NaN or nesting deeper than 100, is a 400 naming it)."""

KeyText = Annotated[str, Field(pattern="^-?[0-9]+$", examples=["2251799813685249"])]
"""A key in a response body."""

Tenant = Annotated[str, Field(pattern=TENANT_PATTERN)]


def parse_key(value: str, name: str) -> int:
    """A key from a path parameter; 400 naming the parameter when it is no decimal."""
    try:
        result = _key(value)
    except ValueError:
        raise BadRequest(f"{name}: '{value}' is not a key (a decimal string)") from None
    assert isinstance(result, int)
    return result


def key_text(key: int | None) -> str | None:
    """A key as Camunda writes it (None stays None)."""
    return None if key is None else str(key)


def iso(moment: dt.datetime | None) -> str | None:
    """A date as ISO 8601 in UTC with milliseconds and ``Z``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    text = moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def epoch_ms(moment: dt.datetime | None) -> int:
    """A date as milliseconds since the epoch (0 for None)."""
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def plain(value: Any) -> Any:
    """A variable value as plain JSON: exact decimals become ints or floats, dates and times
    ISO text, durations ISO 8601 durations."""
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value() and value.adjusted() < 19:
            return int(value)
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, dt.datetime):
        return iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _duration(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    seconds = value.seconds + value.microseconds / 1_000_000
    text = f"{sign}P{value.days}DT{seconds:g}S" if value.days else f"{sign}PT{seconds:g}S"
    return text


def ms(value: int | None, default: dt.timedelta) -> dt.timedelta:
    """Milliseconds from a body as a duration (``default`` when absent)."""
    return default if value is None else dt.timedelta(milliseconds=value)


def echo_tenant(tenant: str | None) -> str:
    """The tenant of an answer: the one asked for, which can only be ``<default>``."""
    if tenant not in (None, DEFAULT_TENANT):
        raise BadRequest(f"tenantId: unknown tenant '{tenant}' (Legato has '<default>' only)")
    return DEFAULT_TENANT


# -- searches --------------------------------------------------------------------------------

FilterValue = str | int | float | bool | dict[str, Any] | list[Any]
"""A filter member: a value to equal, or Camunda's advanced filter object (``$eq``, ``$neq``,
``$in``, ``$notIn``, ``$like``, ``$exists``, ``$gt``, ``$gte``, ``$lt``, ``$lte``)."""


class SearchPage(Strict):
    """Which part of the result: an offset and a limit, or a cursor from an earlier page."""

    from_: int = Field(default=0, alias="from", ge=0)
    limit: int = Field(default=100, ge=0, le=10_000)
    after: str | None = None
    """The ``endCursor`` of the page before."""
    before: str | None = None
    """The ``startCursor`` of the page after."""


class SearchSort(Strict):
    """One sort criterion."""

    field: str
    order: str = "ASC"

    @field_validator("order")
    @classmethod
    def _order(cls, value: str) -> str:
        upper = value.upper()
        if upper not in ("ASC", "DESC"):
            raise ValueError("order is ASC or DESC")
        return upper


class SearchRequest(Strict):
    """A search without a filter of its own (the base of every search request)."""

    page: SearchPage = Field(default_factory=lambda: SearchPage())
    sort: list[SearchSort] = Field(default_factory=list)


class PageInfo(Out):
    """Where a page of results stands."""

    totalItems: int
    hasMoreTotalItems: bool = False
    startCursor: str | None = None
    endCursor: str | None = None


class SearchResult(Out, Generic[T]):
    """A page of results."""

    items: list[T]
    page: PageInfo


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _offset(cursor: str, name: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith("o:"):
            return int(text[2:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadRequest(f"page.{name}: not a cursor of this server")


Sortable = Callable[[T], Any]


def paginate(
    items: Sequence[T],
    request: SearchRequest,
    sort_keys: Mapping[str, Sortable[T]],
    *,
    capped: bool = False,
) -> tuple[list[T], PageInfo]:
    """Sort ``items`` as the request asks (by the fields ``sort_keys`` knows) and cut its
    page out of them. ``capped`` says the items were cut at a search limit: then
    ``hasMoreTotalItems`` tells the caller that ``totalItems`` is a lower bound.

    Raises:
        BadRequest: a sort field this search does not know.
    """
    ordered = list(items)
    for criterion in reversed(request.sort):
        key = sort_keys.get(criterion.field)
        if key is None:
            known = ", ".join(sorted(sort_keys))
            raise BadRequest(f"sort.field: cannot sort by '{criterion.field}' (known: {known})")
        ordered.sort(key=_nones_last(key), reverse=criterion.order == "DESC")
    page = request.page
    start = page.from_
    if page.after is not None:
        start = _offset(page.after, "after")
    elif page.before is not None:
        start = max(_offset(page.before, "before") - page.limit, 0)
    chosen = ordered[start : start + page.limit]
    info = PageInfo(
        totalItems=len(ordered),
        hasMoreTotalItems=capped,
        startCursor=_cursor(start) if chosen else None,
        endCursor=_cursor(start + len(chosen)) if chosen else None,
    )
    return chosen, info


def _nones_last(key: Sortable[T]) -> Callable[[T], tuple[bool, Any]]:
    def wrapped(item: T) -> tuple[bool, Any]:
        value = key(item)
        return (value is None, value if value is not None else 0)

    return wrapped


def matches(actual: Any, wanted: FilterValue | None) -> bool:
    """Whether ``actual`` passes one filter member (None: no condition)."""
    if wanted is None:
        return True
    if not isinstance(wanted, dict):
        return _same(actual, wanted)
    return all(_operator(actual, op, operand) for op, operand in wanted.items())


def _same(actual: Any, wanted: Any) -> bool:
    numbers = (int,)
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return bool(actual == wanted)
    if isinstance(actual, numbers) and isinstance(wanted, str):
        return str(actual) == wanted
    if isinstance(actual, str) and isinstance(wanted, numbers):
        return actual == str(wanted)
    return bool(actual == wanted)


def _operator(actual: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return _same(actual, operand)
    if op == "$neq":
        return not _same(actual, operand)
    if op == "$in":
        return any(_same(actual, o) for o in _listed(op, operand))
    if op == "$notIn":
        return not any(_same(actual, o) for o in _listed(op, operand))
    if op == "$exists":
        return (actual is not None) == bool(operand)
    if op == "$like":
        return actual is not None and fnmatch.fnmatchcase(str(actual), str(operand))
    if op in _COMPARISONS:
        if actual is None:
            return False
        left, right = _comparable(actual, operand)
        return _COMPARISONS[op](left, right)
    raise BadRequest(f"filter: unknown operator '{op}'")


def _listed(op: str, operand: Any) -> list[Any]:
    if not isinstance(operand, list):
        raise BadRequest(f"filter: {op} takes a list")
    return operand


def _comparable(actual: Any, operand: Any) -> tuple[Any, Any]:
    if isinstance(actual, dt.datetime) and isinstance(operand, str):
        try:
            parsed = dt.datetime.fromisoformat(operand.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"filter: '{operand}' is not an ISO 8601 date") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return actual, parsed
    if isinstance(actual, int) and isinstance(operand, str) and operand.lstrip("-").isdigit():
        return actual, int(operand)
    return actual, operand


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: bool(a > b),
    "$gte": lambda a, b: bool(a >= b),
    "$lt": lambda a, b: bool(a < b),
    "$lte": lambda a, b: bool(a <= b),
}


def all_match(pairs: Iterable[tuple[Any, FilterValue | None]]) -> bool:
    """Whether every ``(actual, wanted)`` filter member passes."""
    return all(matches(actual, wanted) for actual, wanted in pairs)


def exact(wanted: FilterValue | None) -> Any:
    """The single value a filter member asks for (plain or ``$eq``), else None: lets a
    search push an equality down to the engine's query."""
    if isinstance(wanted, dict):
        return wanted.get("$eq") if set(wanted) == {"$eq"} else None
    return wanted


SortOrder = Literal["ASC", "DESC"]


def note_variables(
    request: Request, engine: Engine, instance_key: int, values: Mapping[str, Any]
) -> None:
    """Note a variable change of an instance's root scope for the audit trail: the names,
    and the old values (read now, before the change) and the new ones, each as the API shows
    it and through :func:`~legato.security.audit.mask_for_audit`."""
    try:
        state = engine.state(instance_key)
    except LegatoError:
        state = None
    scope = {} if state is None else state.variables.get(instance_key, {})
    old = {name: plain(decode(scope[name])) for name in values if name in scope}
    new = {name: plain(value) for name, value in values.items()}
    process_id = "" if state is None else state.process_id
    details = variable_changes(old, new, selector=engine.sensitive, process_id=process_id)
    note_audit(request, details=details)
