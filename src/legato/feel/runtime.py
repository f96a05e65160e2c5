"""The state of one evaluation: variable scopes, warnings, errors and the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from legato.feel.limits import Budget, FeelLimits, budget_for, current_limits
from legato.feel.values import to_feel

MISSING: Any = object()
"""Marks a name that no scope binds."""

MAX_MESSAGES = 100
"""The most warnings (and, apart, errors) one evaluation keeps; the rest are left out."""
MAX_MESSAGE_LENGTH = 2_000
"""Warnings and errors longer than this are cut (they may quote values)."""


def _kept(messages: list[str], message: str) -> None:
    if len(messages) < MAX_MESSAGES:
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[: MAX_MESSAGE_LENGTH - 4] + " ..."
        messages.append(message)
    elif len(messages) == MAX_MESSAGES:
        messages.append("... (more left out)")


class Run:
    """What one evaluation shares: the warnings and errors collected, the current instant
    and the budget of its limits.

    Two channels explain a null: ``warnings`` are failures of the expression itself (a type
    mismatch, an unknown name, a bad argument); ``errors`` are the cases the FEEL
    specification defines as errors yet which are ordinary in practice, chiefly a null
    operand (``null + 1``, ``2 between null and 3``, ``all(null)``, ``stddev([1])``). Both
    yield null; the DMN layer reports both as decision errors, while callers that only need
    to know whether an expression is broken look at the warnings alone.
    """

    __slots__ = ("_limits", "_now", "budget", "errors", "warnings")

    def __init__(self, now: dt.datetime | None = None, limits: FeelLimits | None = None) -> None:
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self._now = now
        self._limits = limits
        self.budget: Budget | None = None
        """What is left of the limits, once :meth:`open_budget` made it."""

    def open_budget(self) -> Budget:
        """The budget of this evaluation (see :mod:`legato.feel.limits`), made on first use:
        most evaluations never need one. Hot paths write ``run.budget or run.open_budget()``.
        """
        budget = self.budget
        if budget is None:
            budget = self.budget = budget_for(self._limits)
        return budget

    @property
    def limits(self) -> FeelLimits:
        """The limits of this evaluation."""
        if self.budget is not None:
            return self.budget.limits
        return self._limits or current_limits()

    def quiet(self) -> Run:
        """A run for a part of this evaluation whose warnings and errors are dropped: it
        shares the budget, the limits and the current instant."""
        quiet = Run(self._now, self._limits)
        quiet.budget = self.budget or self.open_budget()
        return quiet

    def warn(self, message: str) -> None:
        """Record a warning (the reason some value became null)."""
        _kept(self.warnings, message)

    def error(self, message: str) -> None:
        """Record a specification-level error that yielded null (see the class docstring)."""
        _kept(self.errors, message)

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
        """Call from Python: arguments are converted to FEEL values; errors give None, but
        passing a limit raises :class:`~legato.feel.errors.FeelLimitError`."""
        run = Run()
        if kwargs:
            return self.invoke(run, [to_feel(v) for v in kwargs.values()], list(kwargs))
        return self.invoke(run, [to_feel(v) for v in args])

    def __repr__(self) -> str:
        return f"<FEEL function {self.name}>"
