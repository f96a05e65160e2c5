"""Declaring built-in functions: parameters with FEEL types, overloads, invocation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from legato.feel import temporal
from legato.feel.errors import FeelEvaluationError, FeelNullError, describe
from legato.feel.runtime import FeelFunction, Run
from legato.feel.semantics import type_name
from legato.feel.values import FarDate, Range, YearsMonthsDuration

_NO: Any = object()


def _to_datetime(value: Any) -> Any:
    if isinstance(value, dt.date | FarDate):
        return temporal.at_midnight(value)
    return _NO


_KINDS: dict[str, Callable[[Any], Any]] = {
    "any": lambda v: v,
    "object": lambda v: _NO if v is None else v,
    "number": lambda v: v if isinstance(v, Decimal) else _NO,
    "string": lambda v: v if isinstance(v, str) else _NO,
    "boolean": lambda v: v if isinstance(v, bool) else _NO,
    "date": lambda v: v if isinstance(v, dt.date | FarDate) else _NO,
    "datetime": _to_datetime,
    "time": lambda v: v if isinstance(v, dt.time) else _NO,
    "duration": lambda v: v if isinstance(v, dt.timedelta | YearsMonthsDuration) else _NO,
    "list": lambda v: v if isinstance(v, list) else _NO,
    "context": lambda v: v if isinstance(v, dict) else _NO,
    "range": lambda v: v if isinstance(v, Range) else _NO,
    "point": lambda v: _NO if v is None or isinstance(v, Range | list) else v,
    "function": lambda v: v if isinstance(v, FeelFunction) else _NO,
}


def coerce(kind: str, value: Any) -> Any:
    """``value`` converted for a parameter of ``kind``, or the ``_NO`` marker.

    Applies the FEEL implicit conversions: a single value where a list is expected becomes
    a singleton list; a singleton list where a single value is expected is unwrapped.
    """
    if kind == "list":
        if value is None:
            return _NO
        return value if isinstance(value, list) else [value]
    converted = _KINDS[kind](value)
    if converted is _NO and isinstance(value, list) and len(value) == 1 and kind != "any":
        return _KINDS[kind](value[0])
    return converted


@dataclass(frozen=True, slots=True)
class Param:
    """A formal parameter: its FEEL name and kind, optional or variadic."""

    name: str
    kind: str
    optional: bool = False
    variadic: bool = False


def parse_params(specs: Sequence[str]) -> tuple[Param, ...]:
    """Parameters from ``"name: kind"`` specs; ``kind?`` is optional, ``kind...`` variadic."""
    params = []
    for spec in specs:
        name, _, kind = spec.rpartition(":")
        kind = kind.strip()
        optional, variadic = kind.endswith("?"), "..." in kind
        params.append(Param(name.strip(), kind.rstrip("?."), optional, variadic))
    return tuple(params)


@dataclass(frozen=True, slots=True)
class Overload:
    """One signature of a built-in function and the Python code implementing it."""

    params: tuple[Param, ...]
    impl: Callable[..., Any]
    needs_run: bool
    builds: bool = False
    """Whether the result is a new string, list or context, to count against the limits."""

    def bind(self, args: Sequence[Any], names: Sequence[str] | None) -> list[Any] | None:
        """The Python arguments for ``impl``, or None if the arguments do not fit."""
        slots = self._positional(args) if not names else self._named(args, names)
        if slots is None:
            return None
        bound: list[Any] = []
        for param, value in zip(self.params, slots, strict=True):
            if value is _NO:
                if not param.optional:
                    return None
                break
            if param.variadic:
                converted = [coerce(param.kind, item) for item in value]
                if _NO in converted:
                    return None
                bound.extend(converted)
                continue
            converted = coerce(param.kind, value)
            if converted is _NO:
                return None
            bound.append(converted)
        return bound

    def _positional(self, args: Sequence[Any]) -> list[Any] | None:
        params = self.params
        if params and params[-1].variadic:
            fixed = len(params) - 1
            if len(args) < fixed or (len(args) == fixed and not params[-1].optional):
                return None
            return [*args[:fixed], list(args[fixed:])]
        if len(args) > len(params):
            return None
        return [*args, *[_NO] * (len(params) - len(args))]

    def _named(self, args: Sequence[Any], names: Sequence[str]) -> list[Any] | None:
        by_name = dict(zip(names, args, strict=True))
        if any(name not in {p.name for p in self.params} for name in by_name):
            return None
        slots = [by_name.get(p.name, _NO) for p in self.params]
        seen_missing = False
        for index, slot in enumerate(slots):
            if slot is _NO and not self.params[index].optional:
                slots[index] = None
            elif slot is _NO:
                seen_missing = True
            elif seen_missing:
                return None
        return slots


class BuiltinFunction(FeelFunction):
    """A built-in function with one or more overloads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.overloads: list[Overload] = []

    def invoke(self, run: Run, args: Sequence[Any], names: Sequence[str] | None = None) -> Any:
        """Call the first overload the arguments fit; errors become warnings and None."""
        for overload in self.overloads:
            bound = overload.bind(args, names)
            if bound is None:
                continue
            if overload.needs_run:
                bound.insert(0, run)
            try:
                result = overload.impl(*bound)
            except FeelEvaluationError as error:
                run.warn(f"{self.name}(): {error}")
            except FeelNullError as error:
                run.error(f"{self.name}(): {error}")
            except ArithmeticError as error:
                run.warn(f"{self.name}(): {describe(error)}")
            except (ValueError, OverflowError, TypeError) as error:
                run.warn(f"{self.name}(): {type(error).__name__}: {error}")
            else:
                if overload.builds:
                    (run.budget or run.open_budget()).built(result)
                return result
            return None
        run.warn(f"{self.name}() can't be invoked with {_describe_args(args, names)}")
        return None

    def signatures(self) -> list[str]:
        """Human-readable signatures, for documentation and messages."""
        return [
            f"{self.name}({', '.join(p.name for p in overload.params)})"
            for overload in self.overloads
        ]


def _describe_args(args: Sequence[Any], names: Sequence[str] | None) -> str:
    if names:
        parts = [f"{n}: {type_name(v)}" for n, v in zip(names, args, strict=True)]
    else:
        parts = [type_name(v) for v in args]
    return f"({', '.join(parts)})"


REGISTRY: dict[str, BuiltinFunction] = {}
"""Every built-in function by its FEEL name."""

_F = TypeVar("_F", bound=Callable[..., Any])


def builtin(
    name: str, *params: str, needs_run: bool = False, builds: bool = False
) -> Callable[[_F], _F]:
    """Register the decorated Python function as an overload of the built-in ``name``.

    Args:
        name: The FEEL name, e.g. ``"string length"``.
        *params: Parameter specs ``"name: kind"`` (kinds: any, object, number, string,
            boolean, date, datetime, time, duration, list, context, range, function; a
            trailing ``?`` marks an optional parameter, ``...`` a variadic one).
        needs_run: Pass the current :class:`Run` as the first argument.
        builds: The result is a new string, list or context no larger than the arguments
            taken together: count it against the limits of the evaluation (a function whose
            result can be larger checks the limits itself, before building it).
    """

    def register(impl: _F) -> _F:
        function = REGISTRY.setdefault(name, BuiltinFunction(name))
        function.overloads.append(Overload(parse_params(params), impl, needs_run, builds))
        return impl

    return register


def fail(message: str) -> FeelEvaluationError:
    """An error to raise from a built-in: the call yields null with this warning."""
    return FeelEvaluationError(message)


def null_error(message: str) -> FeelNullError:
    """A specification-level error to raise from a built-in: null with this error."""
    return FeelNullError(message)
