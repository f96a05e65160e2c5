"""The state of one evaluation: variable scopes, warnings, errors and the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from legato.feel.values import to_feel

MISSING: Any = object()
"""Marks a name that no scope binds."""


class Run:
    """What one evaluation shares: the warnings and errors collected and the current instant.

    Two channels explain a null: ``warnings`` are failures of the expression itself (a type
    mismatch, an unknown name, a bad argument); ``errors`` are the cases the FEEL
    specification defines as errors yet which are ordinary in practice, chiefly a null
    operand (``null + 1``, ``2 between null and 3``, ``all(null)``, ``stddev([1])``). Both
    yield null; the DMN layer reports both as decision errors, while callers that only need
    to know whether an expression is broken look at the warnings alone.
    """

    __slots__ = ("_now", "errors", "warnings")

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self._now = now

    def warn(self, message: str) -> None:
        """Record a warning (the reason some value became null)."""
        self.warnings.append(message)

    def error(self, message: str) -> None:
        """Record a specification-level error that yielded null (see the class docstring)."""
        self.errors.append(message)

    @property
    def now(self) -> dt.datetime:
        """The current instant (injected, else the system clock), timezone-aware."""
        if self._now is None:
            self._now = dt.datetime.now(dt.UTC)
        return self._now


class Scope:
    """A frame of variable bindings chained to its enclosing frame."""

    __slots__ = ("_converted", "convert", "parent", "run", "vars")

    def __init__(
        self,
        run: Run,
        variables: Mapping[str, Any],
        parent: Scope | None = None,
        convert: bool = False,
    ) -> None:
        self.run = run
        self.vars = variables
        self.parent = parent
        self.convert = convert
        self._converted: dict[str, Any] = {}

    def lookup(self, name: str) -> Any:
        """The value bound to ``name``, or ``MISSING``."""
        scope: Scope | None = self
        while scope is not None:
            value = scope.vars.get(name, MISSING)
            if value is not MISSING:
                return scope._input(name, value) if scope.convert else value
            scope = scope.parent
        return MISSING

    def _input(self, name: str, value: Any) -> Any:
        """A caller's value in FEEL form, converted once per evaluation."""
        converted = self._converted.get(name, MISSING)
        if converted is MISSING:
            converted = self._converted[name] = to_feel(value)
        return converted

    def child(self, variables: dict[str, Any]) -> Scope:
        """A nested frame binding ``variables``."""
        return Scope(self.run, variables, self)


class FeelFunction:
    """A FEEL function value; Python code may call it like a function.

    Subclasses implement :meth:`invoke`.
    """

    name: str = "anonymous"

    def invoke(self, run: Run, args: Sequence[Any], names: Sequence[str] | None = None) -> Any:
        """Invoke with FEEL values; failures are warnings (or errors) on ``run`` and None."""
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call from Python: arguments are converted to FEEL values; errors give None."""
        run = Run()
        if kwargs:
            return self.invoke(run, [to_feel(v) for v in kwargs.values()], list(kwargs))
        return self.invoke(run, [to_feel(v) for v in args])

    def __repr__(self) -> str:
        return f"<FEEL function {self.name}>"
