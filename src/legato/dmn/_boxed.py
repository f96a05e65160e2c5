"""Evaluating boxed expressions: contexts, invocations, lists, relations, iterators, ..."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, MutableMapping, Sequence
from decimal import Decimal
from typing import Any

from legato.dmn._evaluation import (
    MAX_CALL_DEPTH,
    Env,
    Evaluation,
    Layers,
    evaluate_literal,
    invoke,
)
from legato.dmn._tables import evaluate_table
from legato.dmn.model import (
    BoxedContext,
    BoxedFilter,
    BoxedIterator,
    BoxedList,
    Conditional,
    DecisionTable,
    Expression,
    FunctionDefinition,
    Invocation,
    IteratorKind,
    LiteralExpression,
    Relation,
)
from legato.dmn.types import coerce
from legato.feel import FeelFunction, Range
from legato.feel.runtime import Run
from legato.feel.semantics import type_name


def evaluate(expression: Expression | None, env: Env, ev: Evaluation) -> Any:
    """The value of a boxed expression in ``env``; failures become null and an error."""
    if expression is None:
        return None
    return _DISPATCH[type(expression)](expression, env, ev)


class DmnFunction(FeelFunction):
    """A function defined by a boxed function definition or a business knowledge model."""

    def __init__(self, name: str, definition: FunctionDefinition, env: Env, ev: Evaluation) -> None:
        self.name = name
        self.definition = definition
        self.env = env
        self.ev = ev

    def invoke(self, run: Run, args: Sequence[Any], names: Sequence[str] | None = None) -> Any:
        """Bind and check the arguments, then evaluate the body."""
        definition = self.definition
        if definition.kind.upper() != "FEEL":
            run.warn(f"{self.name}: {definition.kind} functions are not supported")
            return None
        if self.ev.depth >= MAX_CALL_DEPTH:
            run.warn(f"{self.name}: invocations nested too deeply (limit {MAX_CALL_DEPTH})")
            return None
        (run.budget or run.open_budget()).iterate()  # a call counts as an iteration, as in FEEL
        ev = dataclasses.replace(
            self.ev, now=run.now, warn=run.warn, label=self.name, depth=self.ev.depth + 1
        )
        bound = self._bind(args, names, ev)
        if bound is None:
            return None
        value = evaluate(definition.body, Layers(_nest_dotted(bound), self.env), ev)
        return ev.conform(value, definition.type_ref, f"{self.name} result")

    def _bind(
        self, args: Sequence[Any], names: Sequence[str] | None, ev: Evaluation
    ) -> dict[str, Any] | None:
        params = self.definition.parameters
        param_names = [p.name for p in params]
        if names:
            unknown = [name for name in names if name not in param_names]
            if unknown:
                ev.warn(f"{self.name}: no parameter named '{unknown[0]}'")
                return None
            bound: dict[str, Any] = dict.fromkeys(param_names)
            bound.update(zip(names, args, strict=True))
        elif len(args) != len(params):
            ev.warn(f"{self.name}: expects {len(params)} arguments, got {len(args)}")
            return None
        else:
            bound = dict(zip(param_names, args, strict=True))
        for param in params:
            value = bound[param.name]
            if value is None or param.type_ref is None:
                continue
            converted, ok = coerce(value, ev.types.resolve(param.type_ref))
            if not ok:
                ev.warn(
                    f"{self.name}: argument '{param.name}' ({type_name(value)}) does not "
                    f"conform to type '{param.type_ref}'"
                )
                return None
            bound[param.name] = converted
        return bound


def _nest_dotted(bound: dict[str, Any]) -> dict[str, Any]:
    """Also bind a parameter named ``a.b`` as entry ``b`` of a context ``a`` (a path)."""
    for name in [name for name in bound if "." in name]:
        *path, last = name.split(".")
        scope = bound
        for step in path:
            inner = scope.get(step)
            if not isinstance(inner, dict):
                inner = scope[step] = {}
            scope = inner
        scope[last] = bound[name]
    return bound


def _literal(expression: LiteralExpression, env: Env, ev: Evaluation) -> Any:
    value = evaluate_literal(expression, env, ev)
    return ev.conform(value, expression.type_ref, ev.label or "expression")


def _context(expression: BoxedContext, env: Env, ev: Evaluation) -> Any:
    values: MutableMapping[str, Any] = {}
    scope = Layers(values, env)
    for entry in expression.entries:
        value = evaluate(entry.expression, scope, ev)
        if entry.name is None:
            return value
        values[entry.name] = ev.conform(value, entry.type_ref, f"{ev.label}: entry '{entry.name}'")
    return dict(values)


def _invocation(expression: Invocation, env: Env, ev: Evaluation) -> Any:
    function = evaluate_literal(expression.callee, env, ev)
    args = [evaluate(binding.expression, env, ev) for binding in expression.bindings]
    names = [binding.parameter for binding in expression.bindings]
    value = invoke(function, args, names, ev)
    return ev.conform(value, expression.type_ref, f"{ev.label}: invocation")


def _list(expression: BoxedList, env: Env, ev: Evaluation) -> Any:
    return [evaluate(item, env, ev) for item in expression.items]


def _relation(expression: Relation, env: Env, ev: Evaluation) -> Any:
    rows = []
    for row in expression.rows:
        if len(row) != len(expression.columns):
            ev.warn(f"{ev.label}: a relation row has {len(row)} cells for a row of columns")
            return None
        rows.append(
            {
                name: evaluate(cell, env, ev)
                for name, cell in zip(expression.columns, row, strict=True)
            }
        )
    return rows


def _conditional(expression: Conditional, env: Env, ev: Evaluation) -> Any:
    condition = evaluate(expression.condition, env, ev)
    if condition is not None and not isinstance(condition, bool):
        ev.warn(f"{ev.label}: the condition of a conditional is not a boolean")
        return None
    return evaluate(expression.then if condition is True else expression.otherwise, env, ev)


def _filter(expression: BoxedFilter, env: Env, ev: Evaluation) -> Any:
    source = evaluate(expression.source, env, ev)
    if source is None:
        return None
    items = source if isinstance(source, list) else [source]
    kept = []
    for item in items:
        scope: dict[str, Any] = dict(item) if isinstance(item, dict) else {}
        scope["item"] = item
        matched = evaluate(expression.match, Layers(scope, env), ev)
        if matched is not None and not isinstance(matched, bool):
            ev.warn(f"{ev.label}: the filter condition is not a boolean")
            return None
        if matched is True:
            kept.append(item)
    return kept


def _iterator(expression: BoxedIterator, env: Env, ev: Evaluation) -> Any:
    items = _iteration_items(evaluate(expression.source, env, ev), ev)
    if items is None:
        return None
    results = [
        evaluate(expression.body, Layers({expression.variable: item}, env), ev) for item in items
    ]
    if expression.kind is IteratorKind.FOR:
        return results
    wanted = expression.kind is IteratorKind.SOME
    if any(result is wanted for result in results):
        return wanted
    if all(isinstance(result, bool) for result in results):
        return not wanted
    return None


def _iteration_items(source: Any, ev: Evaluation) -> list[Any] | None:
    if isinstance(source, list):
        return source
    if isinstance(source, Range) and isinstance(source.start, Decimal):
        start, end = source.start, source.end
        if isinstance(end, Decimal) and start == int(start) and end == int(end):
            step = 1 if end >= start else -1
            return [Decimal(n) for n in range(int(start), int(end) + step, step)]
    if source is None:
        return None
    return [source]


def _function(expression: FunctionDefinition, env: Env, ev: Evaluation) -> Any:
    return DmnFunction(ev.label or "anonymous", expression, env, ev)


_DISPATCH: dict[type, Callable[[Any, Env, Evaluation], Any]] = {
    LiteralExpression: _literal,
    DecisionTable: evaluate_table,
    BoxedContext: _context,
    Invocation: _invocation,
    BoxedList: _list,
    Relation: _relation,
    Conditional: _conditional,
    BoxedFilter: _filter,
    BoxedIterator: _iterator,
    FunctionDefinition: _function,
}
