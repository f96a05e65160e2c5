"""The public entry points: compile once, evaluate many times."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from legato.feel import ast
from legato.feel.builtins import BUILTINS
from legato.feel.calls import free_calls
from legato.feel.compiler import Compiler, Evaluator, Tester
from legato.feel.errors import FeelAssertionError, FeelLimitError, FeelSyntaxError
from legato.feel.limits import FeelLimits, check_result
from legato.feel.literals import known_names
from legato.feel.names import NameTable
from legato.feel.parser import parse_expression, parse_unary_tests
from legato.feel.predicates import Predicate, predicate
from legato.feel.runtime import Run, Scope
from legato.feel.types import TypeTest
from legato.feel.values import to_feel

_KNOWN = known_names(BUILTINS)


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """The value of an evaluation, with the warnings and errors explaining its nulls."""

    value: Any
    """The result (None for null)."""
    warnings: list[str] = field(default_factory=list)
    """Why parts of the evaluation failed, in order; empty when nothing failed."""
    errors: list[str] = field(default_factory=list)
    """Specification-level errors that yielded null, in order, such as a null operand of
    arithmetic (``null + 1``) or ``stddev([1])``. They are kept apart from :attr:`warnings`
    because a null flowing through an expression is usually expected; DMN counts them as
    decision errors."""


def _table(names: Iterable[str] | None) -> NameTable:
    if not names:
        return _KNOWN
    table = _KNOWN.copy()
    for name in names:
        table.add(name)
    return table


def _run_guarded(run: Run, action: Callable[[], Any], source: str) -> Any:
    """Run an evaluation: a failure becomes a warning and null, but passing a limit raises
    FeelLimitError naming ``source`` (the innermost expression, when evaluations nest).

    A result that is a list or context is checked in full (see ``check_result``) unless the
    evaluation built nothing that counts against the limits: then it is (part of) a value
    the caller gave."""
    try:
        value = action()
        if run.budget is not None and type(value) in _CONTAINERS:
            check_result(value, run)
        return value
    except FeelLimitError as error:
        if error.expression is None:
            error.expression = source
        raise
    except FeelAssertionError as error:  # assert() fails the whole evaluation
        run.warn(f"assert(): {error}")
    except RecursionError:  # Python's stack ran out before the nesting limit did
        raise FeelLimitError("depth", run.limits.depth, source, stack=True) from None
    except Exception as error:  # evaluation must never raise: report the failure instead
        run.warn(f"internal error: {type(error).__name__}: {error}")
    return None


_CONTAINERS = frozenset({list, dict})


def _root(run: Run, context: Mapping[str, Any] | None) -> Scope:
    return Scope(run, context if context is not None else {}, convert=True)


_NOT_CONSTANT: Any = object()


class CompiledExpression:
    """A FEEL expression compiled once into closures; evaluate it as often as needed."""

    __slots__ = ("_evaluator", "constant", "source", "unknown_functions", "variable")

    def __init__(
        self,
        source: str,
        evaluator: Evaluator,
        variable: str | None = None,
        constant: Any = _NOT_CONSTANT,
        unknown_functions: frozenset[str] = frozenset(),
    ) -> None:
        self.source = source
        """The expression text."""
        self.unknown_functions = unknown_functions
        """The names the expression calls as functions (``name(...)``) that are neither
        built-ins nor defined in the expression itself (parameters, context entries, ``for``
        names; calls inside filter conditions are not counted). Only the variables of an
        evaluation can supply them; where none can hold a function, each is an error that
        a model checks at deployment."""
        self._evaluator = evaluator
        self.variable = variable
        """The variable name when the expression is just a name (``Age``), else None."""
        self.constant = constant
        """The value when the expression is a plain literal (never warns); see
        :attr:`is_constant`."""

    @property
    def is_constant(self) -> bool:
        """Whether the expression is a plain literal, its value :attr:`constant`."""
        return self.constant is not _NOT_CONSTANT

    def evaluate(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
        limits: FeelLimits | None = None,
    ) -> Any:
        """Evaluate with the variables in ``context``; errors yield None.

        Args:
            context: Variable values by name (Python values; ints and floats become Decimal).
            now: The instant ``now()`` and ``today()`` return (default: the system clock).
            limits: What the evaluation may do at most (default: those of the enclosing
                :func:`~legato.feel.use_limits` block, else :data:`DEFAULT_LIMITS`).

        Raises:
            FeelLimitError: The evaluation passed one of its limits (it stops there).
        """
        return self.evaluate_detailed(context, now=now, limits=limits).value

    def evaluate_detailed(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
        limits: FeelLimits | None = None,
    ) -> EvaluationResult:
        """Evaluate and report the warnings and errors behind the nulls of the evaluation.

        Raises:
            FeelLimitError: The evaluation passed one of its limits (see :meth:`evaluate`).
        """
        run = Run(now, limits)
        scope = _root(run, context)
        value = _run_guarded(run, lambda: self._evaluator(scope), self.source)
        return EvaluationResult(value, run.warnings, run.errors)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


class CompiledUnaryTests:
    """Compiled unary tests (a decision table input entry such as ``< 10`` or ``"a","b"``)."""

    __slots__ = ("_tester", "assumes_unbound", "predicate", "source", "unknown_functions")

    def __init__(
        self,
        source: str,
        tester: Tester,
        predicate: Predicate | None = None,
        assumes_unbound: frozenset[str] = frozenset(),
        unknown_functions: frozenset[str] = frozenset(),
    ) -> None:
        self.source = source
        """The unary tests text."""
        self.unknown_functions = unknown_functions
        """As :attr:`CompiledExpression.unknown_functions`."""
        self._tester = tester
        self.predicate = predicate
        """For tests against constants only: a plain function telling whether a FEEL value
        passes (``matches(value) is True``), valid when no variable named in
        :attr:`assumes_unbound` is in the context. It may raise when it cannot decide; then
        use :meth:`passes`, which always decides."""
        self.assumes_unbound = assumes_unbound
        """Built-in function names the :attr:`predicate` assumes no variable shadows."""

    def passes(self, input_value: Any, context: Mapping[str, Any] | None = None) -> bool:
        """Whether ``input_value`` passes for certain: ``matches(...) is True``."""
        predicate = self.predicate
        if predicate is not None and not (
            self.assumes_unbound
            and context is not None
            and any(name in context for name in self.assumes_unbound)
        ):
            try:
                return predicate(to_feel(input_value))
            except Exception:  # undecided: the general tester decides
                pass
        return self.matches(input_value, context) is True

    def matches(self, input_value: Any, context: Mapping[str, Any] | None = None) -> bool | None:
        """Whether ``input_value`` passes; None when the tests could not be decided."""
        value = self.matches_detailed(input_value, context).value
        return value if isinstance(value, bool) else None

    def matches_detailed(
        self, input_value: Any, context: Mapping[str, Any] | None = None
    ) -> EvaluationResult:
        """Like :meth:`matches`, with the warnings and errors of the evaluation.

        Raises:
            FeelLimitError: The evaluation passed one of its limits (it stops there).
        """
        run = Run()
        scope = _root(run, context)
        value = _run_guarded(run, lambda: self._tester(scope, to_feel(input_value)), self.source)
        return EvaluationResult(value, run.warnings, run.errors)

    def __repr__(self) -> str:
        return f"CompiledUnaryTests({self.source!r})"


def _compile_tree(
    text: str, node: ast.Node, types: Mapping[str, TypeTest] | None = None
) -> Evaluator:
    try:
        return Compiler(text, BUILTINS, types).compile(node)
    except RecursionError as error:
        raise FeelSyntaxError("expression nested too deeply", text, 0) from error


def compile(
    text: str,
    names: Iterable[str] | None = None,
    types: Mapping[str, Callable[[Any], bool]] | None = None,
) -> CompiledExpression:
    """Compile a FEEL expression.

    Args:
        text: The expression.
        names: Variable names that may contain spaces or operators (``Monthly Salary``), so
            that the parser can recognise them; names without spaces need no declaring.
        types: Type names the model defines (DMN item definitions) for ``instance of`` and
            typed function parameters, each with a test telling whether a value conforms.

    Raises:
        FeelSyntaxError: If the text is not valid FEEL; the message names the position.
    """
    known = tuple(sorted(set(names))) if names else ()
    if types:
        return _compile_uncached(text, known, types)
    return _compile_cached(text, known)


@functools.lru_cache(maxsize=2048)
def _compile_cached(text: str, names: tuple[str, ...]) -> CompiledExpression:
    return _compile_uncached(text, names, None)


def _compile_uncached(
    text: str, names: tuple[str, ...], types: Mapping[str, TypeTest] | None
) -> CompiledExpression:
    try:
        node = parse_expression(text, _table(names))
    except RecursionError as error:
        raise FeelSyntaxError("expression nested too deeply", text, 0) from error
    evaluator = _compile_tree(text, node, types)
    variable = node.name if isinstance(node, ast.Name) else None
    unknown = _unknown_functions(node)
    return CompiledExpression(text, evaluator, variable, _literal_value(node), unknown)


def _unknown_functions(node: ast.Node) -> frozenset[str]:
    return frozenset(name for name in free_calls(node) if name not in BUILTINS)


def _literal_value(node: ast.Node) -> Any:
    """The value of a literal that evaluates without a run: a number, string, boolean, null."""
    if (
        isinstance(node, ast.Literal)
        and node.at_literal is None
        and (node.value is None or isinstance(node.value, bool | str | Decimal))
    ):
        return node.value
    return _NOT_CONSTANT


def compile_unary_tests(text: str, names: Iterable[str] | None = None) -> CompiledUnaryTests:
    """Compile unary tests: ``-``, ``< 10``, ``[1..5]``, ``"a", "b"``, ``not(...)``, ``? > 2``.

    Raises:
        FeelSyntaxError: If the text is not valid unary tests.
    """
    try:
        node = parse_unary_tests(text, _table(names))
        compiler = Compiler(text, BUILTINS)
        tester = compiler.unary_tests(node)
        fast = predicate(node, compiler.compile)
    except RecursionError as error:
        raise FeelSyntaxError("expression nested too deeply", text, 0) from error
    unknown = _unknown_functions(node)
    if fast is None:
        return CompiledUnaryTests(text, tester, unknown_functions=unknown)
    return CompiledUnaryTests(text, tester, fast[0], fast[1], unknown)


def evaluate(
    text: str,
    context: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
    limits: FeelLimits | None = None,
) -> Any:
    """Compile (cached) and evaluate ``text``; errors yield None.

    Raises:
        FeelSyntaxError: If the text is not valid FEEL.
        FeelLimitError: The evaluation passed one of its limits (see
            :meth:`CompiledExpression.evaluate`).
    """
    names = [key for key in context if " " in key] if context else None
    return compile(text, names).evaluate(context, now=now, limits=limits)
