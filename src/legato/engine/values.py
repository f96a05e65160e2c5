"""JSON encoding of variable values that keeps decimals, dates, times and durations exact.

Plain JSON values (str, bool, int, None, lists, objects) stay as they are. Other values become
one-key objects tagged with ``$``: ``{"$decimal": "0.1"}``, ``{"$date": "2024-02-29"}``,
``{"$datetime": "2024-02-29T10:00:00+01:00"}``, ``{"$time": "10:00:00"}``,
``{"$duration": 3600.5}`` (seconds). An object that happens to have a single key starting with
``$`` is wrapped as ``{"$object": {...}}`` so decoding is never ambiguous.

:func:`normalize` and :func:`normalize_variables` are where values enter the engine: they
refuse what the store, JSON and FEEL cannot hold and give back, so that nothing stored can make
a reader fail or hang:

- numbers must be finite and within the range of a 64-bit float: zero, or a magnitude
  from about 5e-324 to 1.8e308 (:data:`MAX_NUMBER`). Floats always are; a ``Decimal`` or an
  ``int`` beyond (``1e5000``, ``10 ** 400``) is refused. Integers beyond 64 bits are kept
  exact, as decimals (they come back as ``Decimal``);
- text must be valid Unicode (no lone surrogates);
- mapping keys must be strings;
- lists and mappings may be nested at most :data:`MAX_DEPTH` deep;
- only ``None``, ``bool``, ``int``, ``float``, ``Decimal``, ``str``, lists, tuples, mappings,
  dates, times, datetimes and durations (``timedelta``) are values.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from legato.errors import InvalidCommandError

JsonValue = Any

_MIN_INT = -(2**63)
_MAX_INT = 2**63 - 1

MAX_NUMBER = sys.float_info.max
"""The largest magnitude of a number variable (that of a 64-bit float, about 1.8e308)."""
MAX_DEPTH = 100
"""How deep lists and mappings may be nested in a variable (the stored JSON holds each
single-``$``-key mapping wrapped once more, and must stay within the JSON encoder's limit)."""

_MAX_INT_MAGNITUDE = int(MAX_NUMBER)
_DECIMAL_MAX = Decimal(MAX_NUMBER)
_CHECKED_EXPONENTS = range(-307, 308)
"""Decimals whose leading digit has one of these exponents are in range without a closer
look; beyond them :func:`number_problem` compares (or converts) the value itself."""


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


def _duration(seconds: float) -> dt.timedelta:
    try:
        return dt.timedelta(seconds=seconds)
    except OverflowError:
        # Stored before durations were checked (timedelta.max does not survive its seconds):
        # the nearest duration, rather than an instance no reader can load.
        return dt.timedelta.max if seconds > 0 else dt.timedelta.min


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$decimal": Decimal,
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$time": dt.time.fromisoformat,
    "$duration": _duration,
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


class UnstorableValueError(TypeError):
    """A value the engine cannot store, with where in the value the problem is.

    A ``TypeError``, as :func:`encode` raises for what it cannot encode.
    """

    def __init__(self, reason: str, path: str = "", variable: str | None = None) -> None:
        where = f" at {_shortened(path)}" if path else ""
        prefix = f"variable '{variable}'{where}: " if variable is not None else ""
        if variable is None and path:
            prefix = f"{_shortened(path)}: "
        super().__init__(prefix + reason)
        self.reason = reason
        self.path = path
        self.variable = variable

    def inside(self, step: str) -> UnstorableValueError:
        """The same problem, one level further out (``step`` is the key or the index, in
        brackets, it was found under)."""
        joined = step + self.path if not self.path or self.path.startswith("[") else None
        return UnstorableValueError(self.reason, joined or f"{step}.{self.path}")

    def of_variable(self, name: str) -> UnstorableValueError:
        """The same problem, found in the variable ``name``."""
        return UnstorableValueError(self.reason, self.path, name)


def _shortened(path: str) -> str:
    return path if len(path) <= 60 else path[:60] + "…"


def normalize(value: Any) -> Any:
    """A value as the engine keeps it: floats become exact decimals, tuples lists.

    Raises:
        UnstorableValueError: for a value that cannot be stored (see the module's rules).
    """
    kind = type(value)
    if kind is str:
        _check_text(value)
        return value
    if kind is bool or value is None or (kind is int and _MIN_INT <= value <= _MAX_INT):
        return value
    return _normalized(value, 0)


def normalize_variables(variables: Mapping[Any, Any]) -> dict[str, Any]:
    """Normalize every value of a mapping of variables (see :func:`normalize`).

    Raises:
        UnstorableValueError: a name is not a string, or a value cannot be stored; the message
            names the variable (and where in its value the problem is).
    """
    normalized: dict[str, Any] = {}
    for name, value in variables.items():
        if not isinstance(name, str):
            raise UnstorableValueError(
                f"cannot store a variable named {name!r} ({type(name).__name__}): "
                "names must be strings"
            )
        try:
            normalized[name] = normalize(value)
        except UnstorableValueError as exc:
            raise exc.of_variable(name) from None
    return normalized


def checked_variables(variables: Mapping[Any, Any]) -> dict[str, Any]:
    """:func:`normalize_variables` for the variables of a command from outside.

    Raises:
        InvalidCommandError: a name or a value cannot be stored (the message says which).
    """
    try:
        return normalize_variables(variables)
    except UnstorableValueError as exc:
        raise InvalidCommandError(str(exc)) from None


def _normalized(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        _check_text(value)
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_INT_MAGNITUDE:
            raise UnstorableValueError(
                _out_of_range(f"an integer of about {_digits(value)} digits")
            )
        # JSON documents are stored with 64-bit integers; larger ones stay exact as decimals.
        return value if _MIN_INT <= value <= _MAX_INT else Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnstorableValueError(f"cannot store the number {value!r}: it is not finite")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        problem = number_problem(value)
        if problem is not None:
            raise UnstorableValueError(problem)
        return value if type(value) is Decimal else Decimal(str(value))
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise UnstorableValueError(f"cannot store values nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            return _normalized_mapping(value, depth + 1)
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_normalized(item, depth + 1))
            except UnstorableValueError as exc:
                raise exc.inside(f"[{index}]") from None
        return items
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        # As they come back from the database (a duration is kept in seconds).
        try:
            return decode(_encode_temporal(value))
        except (OverflowError, ValueError):
            raise UnstorableValueError(f"cannot store {value!r}: it does not read back") from None
    raise UnstorableValueError(f"cannot store a value of type {type(value).__name__}")


def _normalized_mapping(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    normalized: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise UnstorableValueError(
                f"cannot store a mapping key {key!r} ({type(key).__name__}): keys must be strings"
            )
        _check_text(key)
        try:
            normalized[key] = _normalized(item, depth)
        except UnstorableValueError as exc:
            raise exc.inside(key) from None
    return normalized


def number_problem(value: Decimal) -> str | None:
    """Why a decimal cannot be stored, or None (it is finite and within :data:`MAX_NUMBER`)."""
    if not value.is_finite():
        return f"cannot store the number {value}: it is not finite"
    if value.is_zero() or value.adjusted() in _CHECKED_EXPONENTS:
        return None
    if value.adjusted() > 0:
        if value.copy_abs() <= _DECIMAL_MAX:
            return None
    elif float(value) != 0.0:
        return None
    return _out_of_range(f"the number {_short(value)}")


def _out_of_range(what: str) -> str:
    return f"cannot store {what}: out of range (numbers must lie within ±1.8e308, as 64-bit floats)"


def _short(value: Decimal) -> str:
    """A decimal for a message: its exponent form when the digits are many."""
    digits = value.as_tuple().digits
    if len(digits) <= 20:
        return str(value)
    sign = "-" if value.is_signed() else ""
    return f"{sign}{digits[0]}.{''.join(map(str, digits[1:6]))}…E{value.adjusted():+d}"


def _digits(value: int) -> int:
    """How many decimal digits an integer has (without writing them out)."""
    return max(1, math.floor(abs(value).bit_length() * math.log10(2)) + 1)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnstorableValueError(
            f"cannot store text that is not valid Unicode (a lone surrogate at {exc.start})"
        ) from None
