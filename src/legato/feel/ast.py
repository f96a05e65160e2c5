"""The syntax tree produced by the parser; every node records its source offset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Node:
    """The base of every syntax tree node."""

    pos: int
    """The 0-based offset of the node in the source text."""


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant: number, string, boolean, null or a temporal ``@"..."`` literal."""

    value: Any
    at_literal: str | None = None


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A reference to a variable (possibly a multi-word name)."""

    name: str


@dataclass(frozen=True, slots=True)
class InputValue(Node):
    """The ``?`` of a unary test: the value being tested."""


@dataclass(frozen=True, slots=True)
class Negation(Node):
    """Arithmetic negation ``-e``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """An arithmetic or comparison operation ``left op right``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical(Node):
    """``a and b and c`` / ``a or b or c`` (three-valued); chains are kept flat."""

    op: str
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """Left-associative arithmetic of one precedence level, kept flat: ``a + b - c``."""

    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Between(Node):
    """``value between low and high``."""

    value: Node
    low: Node
    high: Node


@dataclass(frozen=True, slots=True)
class UnaryTest(Node):
    """One test against an implicit input: ``< 5``, ``[1..3]``, ``"a"``, ``? > 2``."""

    op: str | None
    """The comparison operator, or None for a plain expression test."""
    operand: Node


@dataclass(frozen=True, slots=True)
class UnaryTests(Node):
    """A comma-separated disjunction of unary tests, possibly negated (``not(...)``)."""

    tests: tuple[UnaryTest, ...]
    negated: bool = False
    wildcard: bool = False


@dataclass(frozen=True, slots=True)
class In(Node):
    """``value in tests``."""

    value: Node
    tests: UnaryTests


@dataclass(frozen=True, slots=True)
class TypeRef(Node):
    """A type in ``instance of`` or a typed parameter: ``list<number>``, ``context<a: x>``."""

    name: str
    args: tuple[TypeRef, ...] = ()
    fields: tuple[tuple[str, TypeRef], ...] = ()
    result: TypeRef | None = None


@dataclass(frozen=True, slots=True)
class InstanceOf(Node):
    """``value instance of type``."""

    value: Node
    type: TypeRef


@dataclass(frozen=True, slots=True)
class If(Node):
    """``if condition then a else b``."""

    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Iteration(Node):
    """One ``name in source`` (or ``name in start..end``) of a for or quantifier."""

    name: str
    source: Node
    end: Node | None = None


@dataclass(frozen=True, slots=True)
class For(Node):
    """``for x in a, y in b return e``."""

    iterations: tuple[Iteration, ...]
    body: Node


@dataclass(frozen=True, slots=True)
class Quantified(Node):
    """``some/every x in a satisfies e``."""

    every: bool
    iterations: tuple[Iteration, ...]
    condition: Node


@dataclass(frozen=True, slots=True)
class ListNode(Node):
    """A list literal ``[a, b]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ContextNode(Node):
    """A context literal ``{a: 1, "b c": 2}``; later entries see earlier ones."""

    entries: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class RangeNode(Node):
    """A range literal ``[a..b)``; a None endpoint is unbounded."""

    start: Node | None
    end: Node | None
    start_included: bool
    end_included: bool
    comparison: str | None = None
    """The operator of a range written as a comparison, ``(= 10)`` or ``(< 10)``."""


@dataclass(frozen=True, slots=True)
class Path(Node):
    """``base.name``: a context entry, a property, or a mapping over a list."""

    base: Node
    name: str


@dataclass(frozen=True, slots=True)
class Filter(Node):
    """``base[condition]`` or ``base[index]``."""

    base: Node
    condition: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function invocation with positional or named arguments."""

    function: Node
    args: tuple[Node, ...]
    names: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Parameter(Node):
    """A formal parameter of a function definition."""

    name: str
    type: TypeRef | None = None


@dataclass(frozen=True, slots=True)
class FunctionDef(Node):
    """``function(a, b) body``."""

    params: tuple[Parameter, ...]
    body: Node
    external: bool = False
