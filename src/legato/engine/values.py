"""JSON encoding of variable values that keeps decimals, dates, times and durations exact.

Plain JSON values (str, bool, int, None, lists, objects) stay as they are. Other values become
one-key objects tagged with ``$``: ``{"$decimal": "0.1"}``, ``{"$date": "2024-02-29"}``,
``{"$datetime": "2024-02-29T10:00:00+01:00"}``, ``{"$time": "10:00:00"}``,
``{"$duration": 3600.5}`` (seconds). An object that happens to have a single key starting with
``$`` is wrapped as ``{"$object": {...}}`` so decoding is never ambiguous.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

JsonValue = Any

_MIN_INT = -(2**63)
_MAX_INT = 2**63 - 1


def encode(value: Any) -> JsonValue:
    """Encode a variable value for JSON.

    Raises:
        TypeError: for a value that is not one of the supported kinds.
    """
    kind = type(value)
    # Exact-type fast paths first: most values are plain, and this runs for every event
    # field and every variable written. Subclasses take the general path below.
    if kind is str or kind is bool or value is None:
        return value
    if kind is int and _MIN_INT <= value <= _MAX_INT:
        return value
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        # JSON documents are stored with 64-bit integers; larger ones stay exact as decimals.
        return value if _MIN_INT <= value <= _MAX_INT else {"$decimal": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"cannot store the number {value!r}: not finite")
        return {"$decimal": repr(value)}
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"cannot store the number {value}: not finite")
        return {"$decimal": str(value)}
    if isinstance(value, Mapping):
        encoded = {str(k): encode(v) for k, v in value.items()}
        if len(encoded) == 1 and next(iter(encoded)).startswith("$"):
            return {"$object": encoded}
        return encoded
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return _encode_temporal(value)


def _encode_temporal(value: Any) -> JsonValue:
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$duration": value.total_seconds()}
    raise TypeError(f"cannot store a value of type {type(value).__name__}: {value!r}")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$decimal": Decimal,
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$time": dt.time.fromisoformat,
    "$duration": lambda seconds: dt.timedelta(seconds=seconds),
}


def decode(value: JsonValue) -> Any:
    """Decode what :func:`encode` produced."""
    if isinstance(value, dict):
        if len(value) == 1:
            tag, inner = next(iter(value.items()))
            if tag == "$object":
                return {k: decode(v) for k, v in inner.items()}
            decoder = _DECODERS.get(tag)
            if decoder is not None:
                return decoder(inner)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def normalize(value: Any) -> Any:
    """A value as the engine keeps it: floats become exact decimals, tuples lists.

    Raises:
        TypeError: for a value that cannot be stored.
    """
    kind = type(value)
    if (
        kind is str
        or kind is bool
        or value is None
        or (kind is int and _MIN_INT <= value <= _MAX_INT)
    ):
        return value
    return decode(encode(value))
