"""The functions an expression calls by a name it does not define itself.

A model checks these names at deployment against the functions that can exist where the
expression runs (the built-ins, and in DMN the names the model defines), so that a misspelt
or unsupported function is refused before anything runs instead of giving null at run time.
"""

from __future__ import annotations

from collections.abc import Iterable

from legato.feel import ast

_OPEN: frozenset[str] | None = None
"""Marks a scope where any name may be bound (a filter condition sees the entries of each
item, which no one knows before the evaluation): no call there is reported."""


def free_calls(node: ast.Node) -> frozenset[str]:
    """The names ``node`` calls as functions (``name(...)``) without binding them itself: not
    parameters of a function it defines, entries of a context around the call, or names of
    ``for``, ``some`` and ``every``. Calls inside a filter condition are left out."""
    found: set[str] = set()
    _walk(node, frozenset(), found)
    return frozenset(found)


def _walk(node: object, bound: frozenset[str] | None, found: set[str]) -> None:
    if isinstance(node, ast.Call):
        callee = node.function
        if isinstance(callee, ast.Name):
            if bound is not None and callee.name not in bound:
                found.add(callee.name)
        else:
            _walk(callee, bound, found)
        for arg in node.args:
            _walk(arg, bound, found)
    elif isinstance(node, ast.ContextNode):
        inner = _bind(bound, (key for key, _ in node.entries))
        for _, value in node.entries:
            _walk(value, inner, found)
    elif isinstance(node, ast.FunctionDef):
        _walk(node.body, _bind(bound, (p.name for p in node.params)), found)
    elif isinstance(node, ast.For | ast.Quantified):
        _walk_iterations(node, bound, found)
    elif isinstance(node, ast.Filter):
        _walk(node.base, bound, found)
        _walk(node.condition, _OPEN, found)
    elif isinstance(node, ast.Node):
        for name in node.__dataclass_fields__:
            _walk(getattr(node, name), bound, found)
    elif isinstance(node, tuple):
        for item in node:
            _walk(item, bound, found)


def _walk_iterations(
    node: ast.For | ast.Quantified, bound: frozenset[str] | None, found: set[str]
) -> None:
    inner = bound
    for iteration in node.iterations:
        _walk(iteration.source, inner, found)
        if iteration.end is not None:
            _walk(iteration.end, inner, found)
        inner = _bind(inner, (iteration.name,))
    if isinstance(node, ast.For):
        _walk(node.body, _bind(inner, ("partial",)), found)
    else:
        _walk(node.condition, inner, found)


def _bind(bound: frozenset[str] | None, names: Iterable[str]) -> frozenset[str] | None:
    if bound is None:
        return None
    return bound.union(names)
