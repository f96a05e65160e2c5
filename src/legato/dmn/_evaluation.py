"""The state one evaluation shares, and evaluating FEEL inside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from legato.dmn.model import LiteralExpression
from legato.dmn.result import RuleMatch
from legato.dmn.types import TypeRegistry, coerce
from legato.feel import FeelFunction
from legato.feel.runtime import Run
from legato.feel.semantics import type_name

MAX_CALL_DEPTH = 40
"""How deeply business knowledge models and functions may invoke each other."""

Env = Mapping[str, Any]


class Layers(Mapping[str, Any]):
    """Variables of an inner scope over those of an outer one (read-only)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, inner: Mapping[str, Any], outer: Mapping[str, Any]) -> None:
        self._inner = inner
        self._outer = outer

    def __getitem__(self, key: str) -> Any:
        if key in self._inner:
            return self._inner[key]
        return self._outer[key]

    def __contains__(self, key: object) -> bool:
        return key in self._inner or key in self._outer

    def __iter__(self) -> Iterator[str]:
        yield from self._inner
        yield from (key for key in self._outer if key not in self._inner)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one evaluation shares: the clock, where errors go, the rules matched, the types."""

    now: dt.datetime
    warn: Callable[[str], None]
    matches: list[RuleMatch]
    types: TypeRegistry
    label: str = ""
    depth: int = 0

    def within(self, label: str, types: TypeRegistry | None = None) -> Evaluation:
        """The same evaluation inside another element (named ``label``)."""
        return Evaluation(self.now, self.warn, self.matches, types or self.types, label, self.depth)

    def conform(self, value: Any, type_ref: str | None, what: str) -> Any:
        """``value`` converted to ``type_ref``; null and an error when it does not conform."""
        if type_ref is None or value is None:
            return value
        converted, ok = coerce(value, self.types.resolve(type_ref))
        if not ok:
            self.warn(f"{what}: a {type_name(value)} value does not conform to type '{type_ref}'")
        return converted


def evaluate_literal(expression: LiteralExpression, env: Env, ev: Evaluation) -> Any:
    """The value of a FEEL expression, its warnings and errors reported as errors."""
    if expression.problem is not None:
        ev.warn(expression.problem)
        return None
    if expression.compiled is None:
        return None
    result = expression.compiled.evaluate_detailed(env, now=ev.now)
    for problem in (*result.warnings, *result.errors):
        ev.warn(f"{ev.label}: {problem}" if ev.label else problem)
    return result.value


def invoke(function: Any, args: Sequence[Any], names: Sequence[str] | None, ev: Evaluation) -> Any:
    """Call a FEEL function value from a boxed expression."""
    if not isinstance(function, FeelFunction):
        ev.warn(f"{ev.label}: cannot invoke {type_name(function)}: not a function")
        return None
    run = Run(ev.now)
    value = function.invoke(run, list(args), list(names) if names is not None else None)
    for problem in (*run.warnings, *run.errors):
        ev.warn(f"{ev.label}: {problem}")
    return value
