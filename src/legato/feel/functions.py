"""User-defined FEEL functions (``function(a, b) a + b``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from legato.feel.runtime import FeelFunction, Run, Scope
from legato.feel.semantics import type_name
from legato.feel.types import TypeTest

Evaluator = Callable[[Scope], Any]


class Lambda(FeelFunction):
    """A user-defined FEEL function; it closes over the scope it was defined in."""

    def __init__(
        self,
        params: Sequence[tuple[str, TypeTest | None]],
        body: Evaluator,
        scope: Scope,
    ) -> None:
        self.params = tuple(params)
        self.body = body
        self.scope = scope

    def invoke(self, run: Run, args: Sequence[Any], names: Sequence[str] | None = None) -> Any:
        """Bind the arguments to the parameters and evaluate the body (a call spends an
        iteration and a nesting level of the evaluation's budget)."""
        bound = self._bind(run, args, names)
        if bound is None:
            return None
        budget = run.budget or run.open_budget()
        budget.iterations -= 1
        budget.depth -= 1
        try:
            if budget.iterations < 0:
                raise budget.exceeded("iterations")
            if budget.depth < 0:
                raise budget.exceeded("depth")
            return self.body(Scope(run, bound, self.scope))
        finally:
            budget.depth += 1

    def _bind(
        self, run: Run, args: Sequence[Any], names: Sequence[str] | None
    ) -> dict[str, Any] | None:
        param_names = [name for name, _ in self.params]
        if names:
            unknown = [name for name in names if name not in param_names]
            if unknown:
                run.warn(f"function has no parameter named '{unknown[0]}'")
                return None
            bound = dict.fromkeys(param_names)
            bound.update(zip(names, args, strict=True))
        elif len(args) != len(param_names):
            expected = len(param_names)
            plural = "" if expected == 1 else "s"
            run.warn(f"function expects {expected} argument{plural}, got {len(args)}")
            return None
        else:
            bound = dict(
                zip(param_names, [*args, *[None] * (len(param_names) - len(args))], strict=True)
            )
        for name, test in self.params:
            if test is not None and bound[name] is not None and not test(bound[name]):
                run.warn(f"parameter '{name}' does not accept {type_name(bound[name])}")
                return None
        return bound
