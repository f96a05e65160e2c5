"""Compiles the syntax tree once into a tree of Python closures.

Each node becomes a function ``Scope -> value``; evaluation never looks at the tree again.
Errors inside an evaluation become null plus a warning on the scope's ``Run``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from legato.feel import ast, temporal
from legato.feel.errors import FeelEvaluationError, describe
from legato.feel.functions import Lambda
from legato.feel.iteration import (
    Items,
    Source,
    combinations,
    number_sequence,
    range_items,
    spend,
)
from legato.feel.limits import ITEM_BYTES, SMALL_STRING
from legato.feel.operators import BINARY, negate
from legato.feel.properties import get_property
from legato.feel.runtime import MISSING, FeelFunction, Scope
from legato.feel.semantics import compare, equals, range_contains, type_name
from legato.feel.types import TypeTest, compile_type
from legato.feel.values import Range

Evaluator = Callable[[Scope], Any]
"""A compiled expression: evaluates in a scope."""
Tester = Callable[[Scope, Any], bool | None]
"""Compiled unary tests: whether a value passes, in a scope."""


_RECOVERABLE = (FeelEvaluationError, ArithmeticError, OverflowError, ValueError)


QUIET_VALUE = frozenset({"is defined", "get or else"})
"""Built-ins whose ``value`` argument is evaluated without reporting its failures."""

ARITHMETIC = frozenset({"+", "-", "*", "/", "**"})
"""The operators for which a null operand is an error (null, reported in ``Run.errors``)."""


def _warn(scope: Scope, error: Exception) -> None:
    scope.run.warn(describe(error))


def _concatenate(scope: Scope, left: str, right: str) -> str:
    """``left + right``, counted against the limits before it is built."""
    size = len(left) + len(right)
    if size > SMALL_STRING:
        run = scope.run
        (run.budget or run.open_budget()).string(size)
    return left + right


def _null_operand(scope: Scope, op: str) -> None:
    scope.run.error(f"null operand of '{op}'")


def contains_input(node: object) -> bool:
    """Whether a tree uses ``?`` (the input value of a unary test)."""
    stack: list[object] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.InputValue):
            return True
        if isinstance(current, tuple):
            stack.extend(current)
        elif isinstance(current, ast.Node):
            stack.extend(getattr(current, f) for f in current.__dataclass_fields__)
    return False


class Compiler:
    """Turns syntax trees into closures; ``builtins`` are the functions known by name."""

    def __init__(
        self,
        text: str,
        builtins: Mapping[str, FeelFunction],
        types: Mapping[str, TypeTest] | None = None,
    ) -> None:
        self.text = text
        self.builtins = builtins
        self.types = types or {}
        self._dispatch: dict[type, Callable[[Any], Evaluator]] = {
            ast.Literal: self._literal,
            ast.Name: self._name,
            ast.InputValue: self._input_value,
            ast.Negation: self._negation,
            ast.Binary: self._binary,
            ast.Logical: self._logical,
            ast.Chain: self._chain,
            ast.Between: self._between,
            ast.In: self._in,
            ast.InstanceOf: self._instance_of,
            ast.If: self._if,
            ast.For: self._for,
            ast.Quantified: self._quantified,
            ast.ListNode: self._list,
            ast.ContextNode: self._context,
            ast.RangeNode: self._range,
            ast.Path: self._path,
            ast.Filter: self._filter,
            ast.Call: self._call,
            ast.FunctionDef: self._function,
        }

    def compile(self, node: ast.Node) -> Evaluator:
        """The closure evaluating ``node``."""
        return self._dispatch[type(node)](node)

    # -- leaves --------------------------------------------------------------------------

    def _literal(self, node: ast.Literal) -> Evaluator:
        value = node.value
        if node.at_literal is not None:
            value = temporal.parse_temporal(node.at_literal)
            if value is None:
                return self._invalid_literal(node.at_literal)
        return lambda scope: value

    @staticmethod
    def _invalid_literal(text: str) -> Evaluator:
        def evaluate(scope: Scope) -> None:
            scope.run.warn(f"invalid or unsupported temporal literal @{text!r}")

        return evaluate

    def _name(self, node: ast.Name) -> Evaluator:
        key = node.name
        builtin = self.builtins.get(key)

        def evaluate(scope: Scope) -> Any:
            value = scope.lookup(key)
            if value is MISSING:
                if builtin is not None:
                    return builtin
                scope.run.warn(f"no variable named '{key}'")
                return None
            return value

        return evaluate

    def _input_value(self, node: ast.InputValue) -> Evaluator:
        def evaluate(scope: Scope) -> Any:
            value = scope.lookup("?")
            if value is MISSING:
                scope.run.warn("'?' used outside of a unary test")
                return None
            return value

        return evaluate

    # -- operators -----------------------------------------------------------------------

    def _negation(self, node: ast.Negation) -> Evaluator:
        operand = self.compile(node.operand)

        def evaluate(scope: Scope) -> Any:
            value = operand(scope)
            if value is None:
                _null_operand(scope, "-")
                return None
            try:
                return negate(value)
            except _RECOVERABLE as error:
                _warn(scope, error)
                return None

        return evaluate

    def _binary(self, node: ast.Binary) -> Evaluator:
        op = node.op
        operator, arithmetic = BINARY[op], op in ARITHMETIC
        left, right = self.compile(node.left), self.compile(node.right)

        def evaluate(scope: Scope) -> Any:
            a, b = left(scope), right(scope)
            if arithmetic and (a is None or b is None):
                _null_operand(scope, op)
                return None
            try:
                return operator(a, b)
            except _RECOVERABLE as error:
                _warn(scope, error)
                return None

        return evaluate

    def _chain(self, node: ast.Chain) -> Evaluator:
        first = self.compile(node.first)
        rest = [(op, BINARY[op], self.compile(operand), op == "+") for op, operand in node.rest]

        def evaluate(scope: Scope) -> Any:
            value = first(scope)
            reported = False
            try:
                for op, operator, operand, plus in rest:
                    other = operand(scope)
                    if (value is None or other is None) and not reported:
                        _null_operand(scope, op)
                        reported = True
                    if plus and type(value) is str and type(other) is str:
                        value = _concatenate(scope, value, other)  # counted before it is built
                    else:
                        value = operator(value, other)
            except _RECOVERABLE as error:
                _warn(scope, error)
                return None
            return value

        return evaluate

    def _logical(self, node: ast.Logical) -> Evaluator:
        operands = [self.compile(operand) for operand in node.operands]
        decisive = node.op == "or"
        op = node.op

        def operand(scope: Scope, value: Any) -> bool | None:
            if value is not None and not isinstance(value, bool):
                scope.run.warn(f"'{op}' expects booleans, got {type_name(value)}")
                return None
            return value

        def evaluate(scope: Scope) -> bool | None:
            undecided = False
            for evaluator in operands:
                value = operand(scope, evaluator(scope))
                if value is decisive:
                    return decisive
                undecided = undecided or value is None
            return None if undecided else not decisive

        return evaluate

    def _between(self, node: ast.Between) -> Evaluator:
        value, low, high = (self.compile(n) for n in (node.value, node.low, node.high))

        def evaluate(scope: Scope) -> bool | None:
            subject, lower, upper = value(scope), low(scope), high(scope)
            if subject is None or lower is None or upper is None:
                scope.run.error("null operand of 'between'")
                return None
            above, below = compare(subject, lower), compare(subject, upper)
            if above is None or below is None:
                scope.run.warn(f"can't compare {type_name(subject)} in 'between'")
                return None
            return above >= 0 and below <= 0

        return evaluate

    def _in(self, node: ast.In) -> Evaluator:
        value, tests = self.compile(node.value), self.unary_tests(node.tests)

        def evaluate(scope: Scope) -> bool | None:
            subject = value(scope)
            result = tests(scope, subject)
            if result is None and subject is None:
                scope.run.error("null operand of 'in'")
            return result

        return evaluate

    def _instance_of(self, node: ast.InstanceOf) -> Evaluator:
        value, test = self.compile(node.value), compile_type(node.type, self.types)
        return lambda scope: test(value(scope))

    def _if(self, node: ast.If) -> Evaluator:
        condition = self.compile(node.condition)
        then, otherwise = self.compile(node.then), self.compile(node.otherwise)
        return lambda scope: then(scope) if condition(scope) is True else otherwise(scope)

    # -- iteration -----------------------------------------------------------------------

    def _iterations(self, nodes: tuple[ast.Iteration, ...]) -> list[Source]:
        return [self._iteration(node) for node in nodes]

    def _iteration(self, node: ast.Iteration) -> Source:
        source = self.compile(node.source)
        end = self.compile(node.end) if node.end is not None else None

        def items(scope: Scope) -> Items | None:
            value = source(scope)
            if end is not None:
                return number_sequence(scope, value, end(scope), True)
            if isinstance(value, Range):
                return range_items(scope, value)
            if value is None:
                scope.run.warn(f"can't iterate over null ('{node.name}')")
                return None
            return value if isinstance(value, list) else [value]

        return items

    def _for(self, node: ast.For) -> Evaluator:
        sources = self._iterations(node.iterations)
        names = [iteration.name for iteration in node.iterations]
        body = self.compile(node.body)
        if len(names) == 1:
            return self._simple_for(names[0], sources[0], body)

        def evaluate(scope: Scope) -> list[Any] | None:
            results: list[Any] = []
            for bound in combinations(scope, names, sources, results):
                if bound is None:
                    return None
                results.append(body(bound))
            run = scope.run
            (run.budget or run.open_budget()).collection(len(results))
            return results

        return evaluate

    @staticmethod
    def _simple_for(name: str, source: Source, body: Evaluator) -> Evaluator:
        """``for`` over one name (the usual case), without the generator of combinations."""

        def evaluate(scope: Scope) -> list[Any] | None:
            items = source(scope)
            if items is None:
                return None
            run = scope.run
            budget = run.budget or run.open_budget()
            budget.collection(spend(budget, items))
            results: list[Any] = []
            child = scope.child
            for item in items:
                results.append(body(child({name: item, "partial": results})))
            return results

        return evaluate

    def _quantified(self, node: ast.Quantified) -> Evaluator:
        sources = self._iterations(node.iterations)
        names = [iteration.name for iteration in node.iterations]
        condition = self.compile(node.condition)
        every = node.every
        if len(names) == 1:
            return self._simple_quantified(names[0], sources[0], condition, every)

        def evaluate(scope: Scope) -> bool | None:
            undecided = False
            for bound in combinations(scope, names, sources, None):
                if bound is None:
                    return None
                holds = condition(bound)
                if holds is (not every):
                    return not every
                undecided = undecided or _not_boolean(scope, holds)
            return None if undecided else every

        return evaluate

    @staticmethod
    def _simple_quantified(
        name: str, source: Source, condition: Evaluator, every: bool
    ) -> Evaluator:
        """``some``/``every`` over one name; the iterations not needed are given back."""

        def evaluate(scope: Scope) -> bool | None:
            items = source(scope)
            if items is None:
                return None
            run = scope.run
            budget = run.budget or run.open_budget()
            left = spend(budget, items)
            child = scope.child
            undecided = False
            for item in items:
                left -= 1
                holds = condition(child({name: item}))
                if holds is (not every):
                    budget.iterations += left
                    return not every
                undecided = undecided or _not_boolean(scope, holds)
            return None if undecided else every

        return evaluate

    # -- structures ----------------------------------------------------------------------

    def _list(self, node: ast.ListNode) -> Evaluator:
        items = [self.compile(item) for item in node.items]
        size = len(items) * ITEM_BYTES
        if not items:
            return lambda scope: []

        def evaluate(scope: Scope) -> list[Any]:
            run = scope.run
            budget = run.budget or run.open_budget()
            budget.memory -= size
            if budget.memory < 0:
                raise budget.exceeded("memory")
            return [item(scope) for item in items]

        return evaluate

    def _context(self, node: ast.ContextNode) -> Evaluator:
        entries = [(key, self.compile(value)) for key, value in node.entries]
        size = len(entries) * ITEM_BYTES
        if not entries:
            return lambda scope: {}

        def evaluate(scope: Scope) -> dict[str, Any] | None:
            run = scope.run
            budget = run.budget or run.open_budget()
            budget.memory -= size
            if budget.memory < 0:
                raise budget.exceeded("memory")
            values: dict[str, Any] = {}
            inner = scope.child(values)
            for key, value in entries:
                if key in values:
                    scope.run.warn(f"duplicate context entry '{key}'")
                    return None
                values[key] = value(inner)
            return dict(values)

        return evaluate

    def _range(self, node: ast.RangeNode) -> Evaluator:
        start = self.compile(node.start) if node.start is not None else None
        end = self.compile(node.end) if node.end is not None else None
        included = node.start_included, node.end_included
        comparison = node.comparison

        def evaluate(scope: Scope) -> Range | None:
            low = start(scope) if start else None
            high = end(scope) if end else None
            if (start and low is None) or (end and high is None):
                scope.run.warn("a range endpoint is null (write an open range as '< x' or '> x')")
                return None
            if low is not None and high is not None and compare(low, high) is None:
                scope.run.warn(f"range endpoints {type_name(low)} and {type_name(high)} differ")
                return None
            return Range(low, high, *included, comparison)

        return evaluate

    def _path(self, node: ast.Path) -> Evaluator:
        base, name = self.compile(node.base), node.name

        def evaluate(scope: Scope) -> Any:
            value = base(scope)
            if isinstance(value, list):
                run = scope.run
                (run.budget or run.open_budget()).collection(len(value))
                return [_member(scope, item, name) for item in value]
            return _member(scope, value, name)

        return evaluate

    def _filter(self, node: ast.Filter) -> Evaluator:
        base, condition = self.compile(node.base), self.compile(node.condition)

        def evaluate(scope: Scope) -> Any:
            value = base(scope)
            if value is None:
                return None
            items = value if isinstance(value, list) else [value]
            if not items:
                return []
            first = condition(_item_scope(scope, items[0]))
            if isinstance(first, Decimal):
                return _index(scope, items, first)
            run = scope.run
            budget = run.budget or run.open_budget()
            budget.iterate(len(items))
            budget.collection(len(items))  # at most
            return [
                item
                for position, item in enumerate(items)
                if (first if position == 0 else condition(_item_scope(scope, item))) is True
            ]

        return evaluate

    # -- functions -----------------------------------------------------------------------

    def _call(self, node: ast.Call) -> Evaluator:
        args = [self.compile(arg) for arg in node.args]
        names = node.names or None
        if isinstance(node.function, ast.Name):
            callee = self._function_name(node.function.name)
            builtin = self.builtins.get(node.function.name)
            if node.function.name in QUIET_VALUE and builtin is not None:
                quiet = names.index("value") if names and "value" in names else 0
                if not names or names[quiet] == "value":
                    return self._quiet_call(callee, builtin, args, names, quiet)
        else:
            callee = self.compile(node.function)

        def evaluate(scope: Scope) -> Any:
            function = callee(scope)
            if function is MISSING:
                return None
            if not isinstance(function, FeelFunction):
                return _not_a_function(scope, function)
            return function.invoke(scope.run, [arg(scope) for arg in args], names)

        return evaluate

    @staticmethod
    def _quiet_call(
        callee: Evaluator,
        builtin: FeelFunction,
        args: list[Evaluator],
        names: tuple[str, ...] | None,
        quiet: int,
    ) -> Evaluator:
        """A call of ``is defined`` or ``get or else`` (unless a variable shadows it): the
        failures of its ``value`` argument, such as a missing variable or context entry, are
        what the function handles, so they are not reported."""

        def evaluate(scope: Scope) -> Any:
            function = callee(scope)
            if function is not builtin:  # a variable of the same name
                if not isinstance(function, FeelFunction):
                    return _not_a_function(scope, function)
                return function.invoke(scope.run, [arg(scope) for arg in args], names)
            run = scope.run
            values = [
                arg(Scope(run.quiet(), {}, scope)) if index == quiet else arg(scope)
                for index, arg in enumerate(args)
            ]
            return builtin.invoke(run, values, names)

        return evaluate

    def _function_name(self, key: str) -> Evaluator:
        builtin = self.builtins.get(key)

        def evaluate(scope: Scope) -> Any:
            value = scope.lookup(key)
            if value is MISSING:
                if builtin is None:
                    scope.run.warn(f"no function named '{key}'")
                    return MISSING
                return builtin
            return value

        return evaluate

    def _function(self, node: ast.FunctionDef) -> Evaluator:
        if node.external:

            def external(scope: Scope) -> Any:
                scope.run.warn("external functions are not supported")
                return None

            return external
        params = [
            (p.name, compile_type(p.type, self.types) if p.type else None) for p in node.params
        ]
        body = self.compile(node.body)
        return lambda scope: Lambda(params, body, scope)

    # -- unary tests ---------------------------------------------------------------------

    def unary_tests(self, node: ast.UnaryTests) -> Tester:
        """The closure telling whether a value passes the tests."""
        if node.wildcard:
            return lambda scope, value: True
        tests = [self._unary_test(test) for test in node.tests]
        negated = node.negated

        def evaluate(scope: Scope, value: Any) -> bool | None:
            result: bool | None = False
            for test in tests:
                outcome = test(scope, value)
                if outcome is True:
                    result = True
                    break
                if outcome is None:
                    result = None
            if negated and result is not None:
                return not result
            return result

        return evaluate

    def _unary_test(self, node: ast.UnaryTest) -> Tester:
        operand = self.compile(node.operand)
        if node.op is not None:
            return _comparison_test(BINARY[node.op], operand)
        uses_input = contains_input(node.operand)
        is_range = isinstance(node.operand, ast.RangeNode)

        def evaluate(scope: Scope, value: Any) -> bool | None:
            expected = operand(scope.child({"?": value}))
            if uses_input and isinstance(expected, bool):
                return expected
            if is_range and expected is None:
                return None
            return _value_test(value, expected)

        return evaluate


def _not_boolean(scope: Scope, holds: Any) -> bool:
    """Whether a ``satisfies`` value leaves a quantified expression undecided (null): as with
    ``and`` and ``or``, null does; any other value that is not a boolean is an error too."""
    if isinstance(holds, bool):
        return False
    if holds is not None:
        scope.run.error(f"satisfies gave {type_name(holds)}, not a boolean")
    return True


def _not_a_function(scope: Scope, value: Any) -> None:
    """Report the call of a value that is no function (it gives null)."""
    if value is not None:
        scope.run.warn(f"{type_name(value)} is not a function")
    else:
        scope.run.error("null is not a function")


def _comparison_test(operator: Callable[[Any, Any], Any], operand: Evaluator) -> Tester:
    def evaluate(scope: Scope, value: Any) -> bool | None:
        try:
            result = operator(value, operand(scope.child({"?": value})))
        except _RECOVERABLE as error:
            _warn(scope, error)
            return None
        return result if isinstance(result, bool) else None

    return evaluate


def _value_test(value: Any, expected: Any) -> bool | None:
    if isinstance(expected, Range):
        return range_contains(expected, value)
    if isinstance(expected, list):
        return (
            any(_value_test(value, item) is True for item in expected)
            or equals(value, expected) is True
        )
    if isinstance(expected, bool) and not isinstance(value, bool):
        return expected
    return equals(value, expected) is True


def _member(scope: Scope, value: Any, name: str) -> Any:
    if value is None:
        scope.run.error(f"null has no member '{name}'")
        return None
    if isinstance(value, dict):
        if name in value:
            return value[name]
        scope.run.warn(f"no entry '{name}' in context")
        return None
    member = get_property(value, name)
    if member is MISSING:
        scope.run.warn(f"{type_name(value)} has no property '{name}'")
        return None
    return member


def _item_scope(scope: Scope, item: Any) -> Scope:
    inner = scope.child({"item": item})
    return inner.child(item) if isinstance(item, dict) else inner


def _index(scope: Scope, items: list[Any], position: Decimal) -> Any:
    if position != position.to_integral_value():
        scope.run.warn(f"list index {position} is not an integer")
        return None
    index = int(position)
    if index == 0 or abs(index) > len(items):
        scope.run.warn(f"list index {index} out of range for {len(items)} items")
        return None
    return items[index - 1] if index > 0 else items[index]
