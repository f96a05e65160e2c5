"""What every Camunda 7 route shares: its route class, bodies in, JSON out.

:class:`C7Route` renders every error a route raises as Camunda does
(``{"type", "message", "code"}``, exactly ``application/json``), so Camunda's exception
names (``MismatchingMessageCorrelationException``, ``TaskAlreadyClaimedException``) and
statuses survive; Legato's own errors map as Camunda maps the engine's: unknown ids to 404,
a command that does not fit the state to 400 or 500 as the route says.

Bodies are read by hand, leniently, as Camunda's Jackson does: unknown properties ignored,
``null`` for a number or boolean meaning the Java default, an empty body (the JS client's
``unlock``) or a ``{}`` on GET and DELETE (pycamunda) accepted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from legato.api.c7.errors import JSON, C7Error, bad_request, error_response
from legato.api.problems import ApiError
from legato.errors import InvalidCommandError, NotFoundError, StoreUnavailableError
from legato.runtime.arguments import MAX_MILLISECONDS


class C7Route(APIRoute):
    """A route whose errors are Camunda 7 error bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except C7Error as error:
                return error_response(error.status, error.detail, error.c7_type, **error.extra)
            except ApiError as error:
                return error_response(error.status, error.detail)
            except RequestValidationError as error:
                return error_response(400, _validation_message(error))
            except NotFoundError as error:
                return error_response(404, str(error))
            except StoreUnavailableError as error:
                return error_response(500, str(error), "ProcessEngineException")
            except InvalidCommandError as error:
                return error_response(400, str(error), "BadUserRequestException")

        return handle


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is invalid"


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} when the body is empty).

    Raises:
        C7Error: the body is not a JSON object (400).
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise bad_request(f"The request body is no JSON: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object")
    return data


def ok(data: Any, status: int = 200) -> Response:
    """A JSON answer with exactly ``Content-Type: application/json``."""
    return Response(json.dumps(data), status_code=status, media_type=JSON)


def no_content() -> Response:
    """Camunda's 204: no body, no content type."""
    return Response(status_code=204)


def text(body: Mapping[str, Any], name: str) -> str | None:
    """A string field of a body (None when absent or null).

    Raises:
        C7Error: the field is not a string (400).
    """
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise bad_request(f"'{name}' must be a string")


def integer(body: Mapping[str, Any], name: str, default: int | None = 0) -> int | None:
    """A whole-number field (``default`` when absent or null, as Java binds a primitive).

    Raises:
        C7Error: the field is not a whole number (400).
    """
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad_request(f"'{name}' must be a number")
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"'{name}' must be a number") from None
    if isinstance(value, float) and not value.is_integer():
        raise bad_request(f"'{name}' must be a whole number")
    if abs(number) > MAX_MILLISECONDS:
        # Durations in ms beyond this overflow the calendar; no count comes near it.
        raise bad_request(f"'{name}' must be at most {MAX_MILLISECONDS}")
    return number


FirstResult = Annotated[int, Query(ge=0, description="The first result of the page (from 0)")]
"""A list route's ``firstResult`` parameter (a negative one is refused with 400)."""
MaxResults = Annotated[int | None, Query(ge=0, description="The most results of the page")]
"""A list route's ``maxResults`` parameter (a negative one is refused with 400)."""


def page_of(params: Mapping[str, Any]) -> slice:
    """The page a query's ``firstResult`` and ``maxResults`` ask for (from the first result,
    unbounded when absent or empty).

    Raises:
        C7Error: either is not a whole number, or is negative (400, naming it).
    """
    bounds = []
    for name in ("firstResult", "maxResults"):
        raw = params.get(name)
        value = integer(params, name, None) if raw not in (None, "") else None
        if value is not None and value < 0:
            raise bad_request(f"'{name}' must not be negative")
        bounds.append(value)
    first = bounds[0] or 0
    return slice(first, None if bounds[1] is None else first + bounds[1])


def flag(value: Any) -> bool:
    """A boolean as Camunda binds one: null is false, strings case-insensitively."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def strings(body: Mapping[str, Any], name: str) -> list[str] | None:
    """A list-of-strings field (None when absent or null).

    Raises:
        C7Error: the field is not a list of strings (400).
    """
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"'{name}' must be a list of strings")
    return list(value)


def as_object(body: Any) -> dict[str, Any]:
    """A body FastAPI read (``Body()``) as a JSON object ({} when there was none).

    Raises:
        C7Error: the body is not a JSON object (400).
    """
    if body is None:
        return {}
    if isinstance(body, bytes | str):
        if not body.strip():
            return {}
        try:
            body = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise bad_request(f"The request body is no JSON: {error}") from None
        if body is None:
            return {}
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body
