"""Unary tests against constants, compiled into plain Python predicates.

Most decision table input entries are ``-``, a comparison with a literal (``< 10``,
``>= date("2025-04-01")``), a literal (``"gold"``, ``true``, ``null``), a list of literals
(``"DE","FR"``), a range of literals (``[6..24)``) or the negation of such tests. For those,
:func:`predicate` builds a function ``value -> bool`` giving exactly what the general tester
gives (``matches(value) is True``) for a FEEL value, without scopes, runs or closures per
node. A predicate raises when it cannot decide cheaply (an unusual value type, a NaN); the
caller then falls back to the general tester, which decides (and never raises).

A constant may call a built-in function (``date("...")``); a variable of the same name would
shadow it, so a predicate comes with the names it assumes unbound.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from legato.feel import ast
from legato.feel.runtime import FeelFunction, Run, Scope
from legato.feel.semantics import compare
from legato.feel.values import Range

Predicate = Callable[[Any], bool]
"""Whether a FEEL value passes; may raise when undecided (use the general tester then)."""
Outcome = Callable[[Any], "bool | None"]
"""One test's three-valued outcome (True, False, or None when undecided in FEEL)."""

_PURE_FUNCTIONS = frozenset({"date"})
"""Built-in functions whose value depends only on literal arguments (folded at compile time)."""
_ORDERED = (Decimal, str, dt.date)
"""The constant types predicates compare directly (dates exactly ``datetime.date``)."""


class Undecided(Exception):
    """The predicate cannot decide cheaply: evaluate with the general tester instead."""


def always(value: Any) -> bool:
    """The predicate of ``-``: every value passes."""
    return True


def predicate(
    node: ast.UnaryTests, evaluator: Callable[[ast.Node], Callable[[Scope], Any]]
) -> tuple[Predicate, frozenset[str]] | None:
    """A fast predicate for ``node`` and the function names it assumes unbound, or None.

    ``evaluator`` compiles a node (the FEEL compiler); constants are evaluated with it once.
    """
    if node.wildcard:
        return always, frozenset()
    names: set[str] = set()
    builder = _Builder(evaluator, names)
    tests = [builder.test(test) for test in node.tests]
    if any(test is None for test in tests):
        return None
    built = [test for test in tests if test is not None]
    return _combine(built, node.negated), frozenset(names)


class _Test:
    """One unary test: whether it holds, its three-valued outcome, the constant of an equality."""

    __slots__ = ("equal_to", "holds", "outcome")

    def __init__(self, holds: Predicate, outcome: Outcome, equal_to: Any = None) -> None:
        self.holds = holds
        """Whether the outcome is true (may raise: undecided)."""
        self.outcome = outcome
        """True, False or None (may raise: undecided)."""
        self.equal_to = equal_to
        """The string or number a plain equality test compares with (else None)."""


_NO_CONSTANT: Any = object()


class _Builder:
    def __init__(
        self, evaluator: Callable[[ast.Node], Callable[[Scope], Any]], names: set[str]
    ) -> None:
        self.evaluator = evaluator
        self.names = names

    def test(self, node: ast.UnaryTest) -> _Test | None:
        operand = node.operand
        if isinstance(operand, ast.RangeNode):
            if node.op is not None:
                return None
            return self._range(operand)
        value = self.constant(operand)
        if value is _NO_CONSTANT:
            return None
        if node.op is None:
            return _equality(value)
        return _comparison(node.op, value)

    def constant(self, node: ast.Node) -> Any:
        """The value of a constant node (no variables, no warnings), else ``_NO_CONSTANT``."""
        if not self._is_constant(node):
            return _NO_CONSTANT
        run = Run()
        try:
            value = self.evaluator(node)(Scope(run, {}))
        except Exception:  # the general tester reports it; no shortcut for such a test
            return _NO_CONSTANT
        if run.warnings or run.errors or isinstance(value, FeelFunction):
            return _NO_CONSTANT
        return value

    def _is_constant(self, node: ast.Node) -> bool:
        if isinstance(node, ast.Literal):
            return True
        if isinstance(node, ast.Negation):
            return isinstance(node.operand, ast.Literal)
        if isinstance(node, ast.Call) and isinstance(node.function, ast.Name):
            name = node.function.name
            if name not in _PURE_FUNCTIONS or node.names:
                return False
            if not all(isinstance(arg, ast.Literal) for arg in node.args):
                return False
            self.names.add(name)
            return True
        return False

    def _range(self, node: ast.RangeNode) -> _Test | None:
        ends = [self.constant(end) if end is not None else None for end in (node.start, node.end)]
        if any(end is _NO_CONSTANT for end in ends):
            return None
        start, end = ends
        if start is None or end is None:
            return None  # a null endpoint: the general tester warns and gives null
        kind = type(start)
        if kind not in _ORDERED or type(end) is not kind or compare(start, end) is None:
            return None
        return _range_test(Range(start, end, node.start_included, node.end_included))


def _kind_of(value: Any) -> type | None:
    kind = type(value)
    return kind if kind in _ORDERED else None


def _equality(expected: Any) -> _Test | None:
    """``expected`` as a test: FEEL equality, with booleans matching any non-boolean value."""
    if expected is True:
        holds: Predicate = _not_false
        return _Test(holds, holds)
    if expected is False:
        holds = _is_false
        return _Test(holds, holds)
    if expected is None:
        holds = _is_none
        return _Test(holds, holds)
    kind = _kind_of(expected)
    if kind is None:
        return None
    if kind is Decimal:

        def decimal_equal(value: Any) -> bool:
            if isinstance(value, Decimal):
                if value == expected:
                    return True
                if value.is_nan():
                    raise Undecided
            return False

        return _Test(decimal_equal, decimal_equal, expected)
    if kind is str:

        def string_equal(value: Any) -> bool:
            return isinstance(value, str) and value == expected

        return _Test(string_equal, string_equal, expected)

    def date_equal(value: Any) -> bool:
        if type(value) is dt.date:
            return bool(value == expected)
        if value is None:
            return False
        raise Undecided

    return _Test(date_equal, date_equal)


def _not_false(value: Any) -> bool:
    return value is not False


def _is_false(value: Any) -> bool:
    return value is False


def _is_none(value: Any) -> bool:
    return value is None


_ORDER_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _comparison(op: str, expected: Any) -> _Test | None:
    """``op expected``: null for a null or incomparable value."""
    kind = _kind_of(expected)
    if kind is None:
        return None
    if op in ("=", "!="):
        outcome = _equal_operator(expected, kind, negated=op == "!=")
        return _Test(_holds(outcome), outcome)
    order = _ORDER_OPERATORS[op]
    if kind is Decimal:

        def decimal_holds(value: Any) -> bool:
            if isinstance(value, Decimal):
                if order(value, expected):
                    return True
                if value.is_nan():
                    raise Undecided
            return False

        return _Test(decimal_holds, _decimal_outcome(decimal_holds))
    if kind is str:

        def string_holds(value: Any) -> bool:
            return isinstance(value, str) and bool(order(value, expected))

        return _Test(string_holds, _typed_outcome(str, string_holds))

    def date_holds(value: Any) -> bool:
        if type(value) is dt.date:
            return bool(order(value, expected))
        if value is None:
            return False
        raise Undecided

    return _Test(date_holds, _date_outcome(date_holds))


def _equal_operator(expected: Any, kind: type, negated: bool) -> Outcome:
    """``= expected`` / ``!= expected``: null compares unequal; other kinds are undecided."""

    def outcome(value: Any) -> bool | None:
        if value is None:
            return negated
        if type(value) is kind and not (isinstance(value, Decimal) and value.is_nan()):
            return bool(value != expected) if negated else bool(value == expected)
        raise Undecided

    return outcome


def _holds(outcome: Outcome) -> Predicate:
    return lambda value: outcome(value) is True


def _range_test(bounds: Range) -> _Test:
    low, high = bounds.start, bounds.end
    low_in, high_in = bounds.start_included, bounds.end_included
    kind = type(low)

    def inside(value: Any) -> bool:
        return bool(
            (value >= low if low_in else value > low)
            and (value <= high if high_in else value < high)
        )

    if kind is Decimal:

        def decimal_holds(value: Any) -> bool:
            if isinstance(value, Decimal):
                if (value >= low if low_in else value > low) and (
                    value <= high if high_in else value < high
                ):
                    return True
                if value.is_nan():
                    raise Undecided
            return False

        return _Test(decimal_holds, _decimal_outcome(decimal_holds))
    if kind is str:

        def string_holds(value: Any) -> bool:
            return isinstance(value, str) and inside(value)

        return _Test(string_holds, _typed_outcome(str, string_holds))

    def date_holds(value: Any) -> bool:
        if type(value) is dt.date:
            return inside(value)
        if value is None:
            return False
        raise Undecided

    return _Test(date_holds, _date_outcome(date_holds))


def _decimal_outcome(holds: Predicate) -> Outcome:
    """A comparison's outcome for numbers: null for values that are not numbers."""
    return _typed_outcome(Decimal, holds)


def _typed_outcome(kind: type, holds: Predicate) -> Outcome:
    def outcome(value: Any) -> bool | None:
        return holds(value) if isinstance(value, kind) else None

    return outcome


def _date_outcome(holds: Predicate) -> Outcome:
    def outcome(value: Any) -> bool | None:
        return None if value is None else holds(value)

    return outcome


def _combine(tests: list[_Test], negated: bool) -> Predicate:
    """The disjunction of the tests (negated for ``not(...)``), true only when decided true."""
    members = _members(tests)
    if members is not None:
        kind, values = members
        return _membership(kind, values, negated)
    if negated:
        outcomes = [test.outcome for test in tests]

        def none_holds(value: Any) -> bool:
            return all(outcome(value) is False for outcome in outcomes)

        return none_holds
    if len(tests) == 1:
        return tests[0].holds
    holds = [test.holds for test in tests]

    def any_holds(value: Any) -> bool:
        return any(test(value) for test in holds)

    return any_holds


def _members(tests: list[_Test]) -> tuple[type, frozenset[Any]] | None:
    """The kind and the constants when every test is an equality with a string or number."""
    kinds = {type(test.equal_to) for test in tests}
    if len(kinds) != 1 or any(test.equal_to is None for test in tests):
        return None
    kind = kinds.pop()
    if kind is not str and kind is not Decimal:
        return None
    try:
        return kind, frozenset(test.equal_to for test in tests)
    except TypeError:
        return None


def _membership(kind: type, values: frozenset[Any], negated: bool) -> Predicate:
    if len(values) == 1:
        (only,) = values
        if kind is str:
            if negated:
                return lambda value: not (isinstance(value, str) and value == only)
            return lambda value: isinstance(value, str) and value == only
    if kind is str:
        if negated:
            return lambda value: not (isinstance(value, str) and value in values)
        return lambda value: isinstance(value, str) and value in values

    def number_in(value: Any) -> bool:
        if isinstance(value, Decimal):
            if value in values:
                return True
            if value.is_nan():
                raise Undecided
        return False

    if negated:
        return lambda value: not number_in(value)
    return number_in
