"""The names a FEEL parser knows, and range literals read from strings (``range()``).

The built-in functions are passed in rather than imported, so the ``range()`` built-in can
read its argument with the full library without importing the package that assembles it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from legato.feel import ast
from legato.feel.compiler import Compiler
from legato.feel.errors import FeelSyntaxError
from legato.feel.names import NameTable
from legato.feel.parser import parse_unary_tests
from legato.feel.properties import PROPERTY_NAMES
from legato.feel.runtime import FeelFunction, Run, Scope
from legato.feel.semantics import compare
from legato.feel.types import TYPE_NAMES
from legato.feel.values import Range


def known_names(functions: Iterable[str]) -> NameTable:
    """The names of ``functions``, properties and types: multi-word names the parser knows.

    The table is cached and shared: copy it (:meth:`NameTable.copy`) before adding names.
    """
    return _known_names(frozenset(functions))


@functools.lru_cache(maxsize=4)
def _known_names(functions: frozenset[str]) -> NameTable:
    return NameTable([*sorted(functions), *PROPERTY_NAMES, *TYPE_NAMES])


def range_literal(text: str, builtins: Mapping[str, FeelFunction]) -> Range | None:
    """The range a string such as ``"[1..10)"`` denotes (for ``range()``); None for anything
    else, a comparison such as ``">= 10"`` included: that is a unary test, not a range
    literal (DMN TCK 1156). Its end points may call ``builtins`` with literal arguments
    (``[date("2020-01-01")..date("2021-01-01")]``)."""
    try:
        node = parse_unary_tests(text.strip(), known_names(builtins))
    except FeelSyntaxError:
        return None
    if len(node.tests) != 1 or node.negated or node.wildcard:
        return None
    test = node.tests[0]
    if test.op is not None or not _is_constant(test.operand, builtins):
        return None
    value = Compiler(text, builtins).compile(test.operand)(Scope(Run(), {}))
    if not isinstance(value, Range) or value.start is None or value.end is None:
        return None
    order = compare(value.start, value.end)
    if order is None or order > 0:
        return None
    return value


def _is_constant(node: ast.Node, builtins: Mapping[str, FeelFunction]) -> bool:
    if isinstance(node, ast.Literal):
        return True
    if isinstance(node, ast.RangeNode):
        return all(end is None or _is_constant(end, builtins) for end in (node.start, node.end))
    if isinstance(node, ast.Negation):
        return _is_constant(node.operand, builtins)
    if isinstance(node, ast.Call) and isinstance(node.function, ast.Name):
        return node.function.name in builtins and all(
            isinstance(arg, ast.Literal) for arg in node.args
        )
    return False
