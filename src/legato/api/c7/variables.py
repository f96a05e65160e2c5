"""The Camunda 7 typed-variable codec: ``{name: {"type", "value", "valueInfo"}}``.

**In** (lenient; what every client sends must be read):

- no ``type`` or ``"type": null`` (the Python external-task client, pycamunda): the value's
  own JSON type decides: a string, a boolean, a number, null, and an object or array is kept
  as JSON (Camunda would try Java serialisation there and fail);
- the type name in any case (``Integer``, ``integer``, ``INTEGER``);
- ``Json`` (and ``Object`` with ``valueInfo.serializationDataFormat`` ``application/json``):
  the value is JSON text, parsed into native values; an object or array is accepted too;
- ``Date``: ISO 8601 with ``+0000``, ``+00:00`` or ``Z`` (:func:`~legato.api.c7.dates.parse_date`);
- ``File``, ``Bytes``, ``Xml`` and Java-serialised ``Object``: 400
  ``Unsupported value type 'File'``; Legato stores none of them.

**Out**: every variable has ``type``, ``value`` and ``valueInfo`` (the JS client lowercases
``type``; pycamunda reads all three). ``Json`` values are JSON **text**, as Camunda with Spin
returns them; integers are ``Integer`` within 32 bits and ``Long`` within 64; datetimes
``Date`` as ``yyyy-MM-dd'T'HH:mm:ss.SSS+0000``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from legato.api.c7.dates import format_date, parse_date
from legato.api.c7.errors import C7Error, bad_request

log = logging.getLogger(__name__)

_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)
_UNSUPPORTED = {"file": "File", "bytes": "Bytes", "xml": "Xml"}
_JSON_FORMATS = {"application/json", "json"}


class VariableError(C7Error):
    """A variable that cannot be read (400, naming the variable)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(400, f"Cannot convert value of variable '{name}': {problem}")
        self.name = name


def decode_variables(variables: Any) -> dict[str, Any]:
    """The native values of a typed-variable map (None or ``{}`` give ``{}``).

    Raises:
        VariableError: a variable has a type Legato does not store or a value that does not
            fit its type; the message names it (400).
        C7Error: ``variables`` is not a JSON object (400).
    """
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise bad_request("variables must be a JSON object of typed values")
    return {str(name): decode_value(str(name), typed) for name, typed in variables.items()}


def decode_value(name: str, typed: Any) -> Any:
    """The native value of one typed variable ``{"value", "type", "valueInfo"}``.

    Raises:
        VariableError: see :func:`decode_variables`.
    """
    if not isinstance(typed, Mapping):
        raise VariableError(name, "a variable must be an object with 'value' and 'type'")
    value = typed.get("value")
    kind = typed.get("type")
    if kind is None:
        return _untyped(name, value)
    if not isinstance(kind, str):
        raise VariableError(name, f"Unsupported value type '{kind}'")
    info = typed.get("valueInfo")
    return _typed(name, kind, value, info if isinstance(info, Mapping) else {})


def _untyped(name: str, value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float | list | dict):
        return value
    raise VariableError(name, f"cannot store a value of type {type(value).__name__}")


def _typed(name: str, kind: str, value: Any, info: Mapping[str, Any]) -> Any:
    key = kind.lower()
    if key in _UNSUPPORTED:
        raise VariableError(name, f"Unsupported value type '{_UNSUPPORTED[key]}'")
    if value is None and key != "object":
        return None
    try:
        reader = _READERS[key]
    except KeyError:
        raise VariableError(name, f"Unsupported value type '{kind}'") from None
    try:
        return reader(value, info)
    except (ValueError, TypeError) as error:
        raise VariableError(name, f"{error}") from None


def _string(value: Any, info: Mapping[str, Any]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{value}' is not a String")
    return json.dumps(value)


def _boolean(value: Any, info: Mapping[str, Any]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"'{value}' is not a Boolean")


def _integer(bits: int) -> Any:
    limits = range(-(2 ** (bits - 1)), 2 ** (bits - 1))
    label = {16: "Short", 32: "Integer", 64: "Long"}[bits]

    def read(value: Any, info: Mapping[str, Any]) -> int:
        number: int
        if isinstance(value, bool):
            raise ValueError(f"'{value}' is not a {label}")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            number = int(value.strip())
        else:
            raise ValueError(f"'{value}' is not a {label}")
        if number not in limits:
            raise ValueError(f"'{value}' does not fit a {label}")
        return number

    return read


def _double(value: Any, info: Mapping[str, Any]) -> float:
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a Double")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a Double") from None
    raise ValueError(f"'{value}' is not a Double")


def _date(value: Any, info: Mapping[str, Any]) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a Date")
    try:
        return parse_date(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a Date (yyyy-MM-dd'T'HH:mm:ss.SSSZ)") from None


def _null(value: Any, info: Mapping[str, Any]) -> None:
    return None


def _json(value: Any, info: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"the value is no JSON text: {error.msg}") from None
    if isinstance(value, list | dict | bool | int | float):
        return value
    raise ValueError("Must provide 'null' or String value for value of SerializableValue type")


def _object(value: Any, info: Mapping[str, Any]) -> Any:
    data_format = str(info.get("serializationDataFormat") or "").lower()
    if data_format not in _JSON_FORMATS:
        shown = info.get("serializationDataFormat") or "application/x-java-serialized-object"
        raise ValueError(f"Unsupported value type 'Object' in format '{shown}'")
    return None if value is None else _json(value, info)


_READERS: dict[str, Any] = {
    "string": _string,
    "boolean": _boolean,
    "short": _integer(16),
    "integer": _integer(32),
    "long": _integer(64),
    "double": _double,
    "date": _date,
    "null": _null,
    "json": _json,
    "object": _object,
}


def encode_variables(variables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Native values as a typed-variable map, every entry with ``type``, ``value`` and
    ``valueInfo``."""
    return {name: encode_value(value) for name, value in variables.items()}


def encode_value(value: Any) -> dict[str, Any]:
    """One native value as ``{"type", "value", "valueInfo"}``."""
    kind, shown = _typed_out(value)
    return {"type": kind, "value": shown, "valueInfo": {}}


def _typed_out(value: Any) -> tuple[str, Any]:
    if value is None:
        return "Null", None
    if isinstance(value, bool):
        return "Boolean", value
    if isinstance(value, str):
        return "String", value
    if isinstance(value, int):
        return _integer_out(value)
    if isinstance(value, float):
        return "Double", value
    if isinstance(value, Decimal):
        return _decimal_out(value)
    if isinstance(value, dt.datetime):
        return "Date", format_date(value)
    if isinstance(value, bytes):
        return "Bytes", base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.date | dt.time):
        return "String", value.isoformat()
    if isinstance(value, dt.timedelta):
        return "String", _duration_text(value)
    if isinstance(value, Mapping | list | tuple):
        return "Json", json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)
    return "String", str(value)


def _integer_out(value: int) -> tuple[str, Any]:
    if value in _INT32:
        return "Integer", value
    if value in _INT64:
        return "Long", value
    log.warning("an integer beyond 64 bits is shown as a String on the Camunda 7 API")
    return "String", str(value)


def _decimal_out(value: Decimal) -> tuple[str, Any]:
    if value == value.to_integral_value():
        number = int(value)
        if number in _INT64:
            return _integer_out(number)
        log.warning("a number beyond 64 bits is shown as a String on the Camunda 7 API")
        return "String", str(value)
    return "Double", float(value)


def _duration_text(value: dt.timedelta) -> str:
    seconds = value.total_seconds()
    return f"PT{seconds:g}S"


def _plain(value: Any) -> Any:
    """A value with every non-JSON leaf (dates, decimals, …) made JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return format_date(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    return value
