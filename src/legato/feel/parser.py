"""A Pratt parser from FEEL tokens to the syntax tree of :mod:`legato.feel.ast`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeVar

from legato.feel import ast
from legato.feel.errors import FeelSyntaxError
from legato.feel.lexer import Kind, Token, tokenize
from legato.feel.names import KEYWORDS, NameTable, normalize

MAX_DEPTH = 200
"""The deepest nesting of sub-expressions accepted."""

_T = TypeVar("_T")

_OR, _AND, _COMPARE, _ADD, _MUL, _POW, _PREFIX, _POSTFIX = range(1, 9)
_BINARY = {
    "+": _ADD,
    "-": _ADD,
    "*": _MUL,
    "/": _MUL,
    "**": _POW,
    "=": _COMPARE,
    "!=": _COMPARE,
    "<": _COMPARE,
    "<=": _COMPARE,
    ">": _COMPARE,
    ">=": _COMPARE,
}
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_RANGE_OPERATORS = frozenset({"<", "<=", ">", ">=", "="})
_TEST_OPERATORS = frozenset({"<", "<=", ">", ">=", "=", "!="})


def parse_expression(text: str, names: NameTable) -> ast.Node:
    """Parse a whole FEEL expression.

    Raises:
        FeelSyntaxError: If the text is not a valid expression, naming the position.
    """
    parser = _Parser(text, names)
    node = parser.expression(0)
    parser.expect_end()
    check_depth(node, text)
    return node


def parse_unary_tests(text: str, names: NameTable) -> ast.UnaryTests:
    """Parse the unary tests of a decision table input entry (``-``, ``< 5, > 10``, ...)."""
    parser = _Parser(text, names)
    node = parser.unary_tests()
    parser.expect_end()
    check_depth(node, text)
    return node


def check_depth(root: ast.Node, text: str) -> None:
    """Reject a tree deeper than ``MAX_DEPTH`` (walked without recursion)."""
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            position = node.pos if isinstance(node, ast.Node) else 0
            raise FeelSyntaxError(
                f"expression nested too deeply (limit {MAX_DEPTH})", text, position
            )
        stack.extend((child, depth + 1) for child in _children(node))


def _children(node: object) -> Iterable[object]:
    if isinstance(node, tuple):
        return node
    if not isinstance(node, ast.Node):
        return ()
    values = (getattr(node, slot) for cls in type(node).__mro__ for slot in _slots(cls))
    return [value for value in values if isinstance(value, ast.Node | tuple)]


def _slots(cls: type) -> tuple[str, ...]:
    slots = cls.__dict__.get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(slots)


class _Parser:
    def __init__(self, text: str, names: NameTable) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.names = names.copy()
        self.index = 0
        self.depth = 0
        self.no_filter = False

    # -- token helpers -------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def at(self, text: str) -> bool:
        token = self.token
        return token.text == text and token.kind in (Kind.OP, Kind.NAME) and not token.quoted

    def advance(self) -> Token:
        token = self.token
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> Token:
        if not self.at(text):
            self.fail(f"expected '{text}' but found {self.describe(self.token)}")
        return self.advance()

    def expect_end(self) -> None:
        if self.token.kind is not Kind.END:
            self.fail(f"unexpected {self.describe(self.token)}")

    def fail(self, message: str, position: int | None = None) -> None:
        where = self.token.start if position is None else position
        raise FeelSyntaxError(message, self.text, where)

    @staticmethod
    def describe(token: Token) -> str:
        if token.kind is Kind.END:
            return "end of expression"
        return f"{token.kind.value} '{token.text}'"

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expression nested too deeply (limit {MAX_DEPTH})")

    # -- expressions ---------------------------------------------------------------------

    def expression(self, min_power: int) -> ast.Node:
        self.enter()
        left = self.prefix()
        while True:
            power = self.infix_power()
            if power is None or power <= min_power:
                break
            left = self.infix(left, power)
        self.depth -= 1
        return left

    def infix_power(self) -> int | None:
        token = self.token
        if token.kind is Kind.OP:
            if token.text in _BINARY:
                return _BINARY[token.text]
            if token.text in (".", "(") or (token.text == "[" and not self.no_filter):
                return _POSTFIX
            return None
        if token.kind is Kind.NAME and not token.quoted:
            return {"or": _OR, "and": _AND, "between": _COMPARE, "in": _COMPARE}.get(
                token.text, _COMPARE if token.text == "instance" else None
            )
        return None

    def infix(self, left: ast.Node, power: int) -> ast.Node:
        token = self.advance()
        text, pos = token.text, token.start
        if power == _POSTFIX:
            return self.postfix(left, token)
        if text in ("and", "or"):
            return ast.Logical(pos, text, left, self.expression(power))
        if text == "between":
            low = self.expression(_COMPARE)
            self.expect("and")
            return ast.Between(pos, left, low, self.expression(_COMPARE))
        if text == "in":
            return ast.In(pos, left, self.in_tests())
        if text == "instance":
            self.expect("of")
            return ast.InstanceOf(pos, left, self.type_ref())
        return ast.Binary(pos, text, left, self.expression(power))

    def postfix(self, left: ast.Node, token: Token) -> ast.Node:
        if token.text == ".":
            return ast.Path(token.start, left, self.name())
        if token.text == "[":
            condition = self.nested(lambda: self.expression(0))
            self.expect("]")
            return ast.Filter(token.start, left, condition)
        return self.call(left, token)

    def nested(self, parse: Callable[[], _T]) -> _T:
        saved, self.no_filter = self.no_filter, False
        try:
            return parse()
        finally:
            self.no_filter = saved

    def prefix(self) -> ast.Node:
        token = self.token
        if token.kind is Kind.NUMBER:
            self.advance()
            return ast.Literal(token.start, Decimal(token.text))
        if token.kind is Kind.STRING:
            self.advance()
            return ast.Literal(token.start, token.text)
        if token.kind is Kind.OP:
            return self.prefix_operator(token)
        if token.kind is Kind.NAME:
            return self.prefix_name(token)
        self.fail("unexpected end of expression")
        raise AssertionError  # pragma: no cover

    def prefix_operator(self, token: Token) -> ast.Node:
        text = token.text
        if text == "-":
            self.advance()
            return ast.Negation(token.start, self.expression(_PREFIX))
        if text == "(":
            return self.parenthesized()
        if text == "[":
            return self.list_or_range()
        if text == "]":
            self.advance()
            return self.range_rest(token.start, start_included=False)
        if text == "{":
            return self.context()
        if text == "@":
            self.advance()
            literal = self.token
            if literal.kind is not Kind.STRING:
                self.fail("expected a string after '@'")
            self.advance()
            return ast.Literal(token.start, literal.text, at_literal=literal.text)
        self.fail(f"unexpected {self.describe(token)}")
        raise AssertionError  # pragma: no cover

    def prefix_name(self, token: Token) -> ast.Node:
        known = None if token.quoted else self.names.match(self.tokens, self.index)
        if known is None and not token.quoted:
            keyword = self.keyword_expression(token)
            if keyword is not None:
                return keyword
        if token.text == "?" and not token.quoted:
            self.advance()
            return ast.InputValue(token.start)
        return ast.Name(token.start, self.name())

    def keyword_expression(self, token: Token) -> ast.Node | None:
        text = token.text
        if text in ("true", "false", "null"):
            self.advance()
            return ast.Literal(token.start, {"true": True, "false": False, "null": None}[text])
        handlers = {
            "if": self.if_expression,
            "for": self.for_expression,
            "some": self.quantified,
            "every": self.quantified,
            "function": self.function_definition,
        }
        handler = handlers.get(text)
        if handler is None:
            if text in KEYWORDS:
                self.fail(f"unexpected keyword '{text}'")
            return None
        return handler()

    def name(self) -> str:
        """Read a (possibly multi-word) name: the longest known one, else joined words."""
        token = self.token
        if token.kind is not Kind.NAME:
            self.fail(f"expected a name but found {self.describe(token)}")
        if token.quoted:
            self.advance()
            return token.text
        known = self.names.match(self.tokens, self.index)
        if known is not None:
            self.index = known[1]
            return known[0]
        words = [self.advance().text]
        while self.token.kind is Kind.NAME and not self.token.quoted:
            if self.token.text in KEYWORDS:
                break
            words.append(self.advance().text)
        return " ".join(words)

    def words_until(self, stops: frozenset[str]) -> str:
        """Read a free-form name (context key, parameter) up to one of ``stops``."""
        start = self.token
        if start.kind is Kind.STRING or start.quoted:
            self.advance()
            return start.text
        end = start
        while not (self.token.kind is Kind.OP and self.token.text in stops):
            if self.token.kind in (Kind.END, Kind.STRING):
                self.fail(f"expected a name but found {self.describe(self.token)}")
            end = self.advance()
        if end is start and start.kind is not Kind.NAME:
            self.fail(f"expected a name but found {self.describe(start)}")
        name = normalize(self.text[start.start : end.end])
        self.names.add(name)
        return name

    # -- compound forms ------------------------------------------------------------------

    def parenthesized(self) -> ast.Node:
        open_token = self.advance()
        if self.token.kind is Kind.OP and self.token.text in _RANGE_OPERATORS:
            return self.comparison_range(open_token.start)
        inner = self.nested(lambda: self.expression(0))
        if self.at(".."):
            return self.range_tail(open_token.start, inner, start_included=False)
        self.expect(")")
        return inner

    def comparison_range(self, pos: int) -> ast.Node:
        """``(< 10)``, ``(>= x)``, ``(= 5)``: a range written as a comparison."""
        op = self.advance().text
        bound = self.nested(lambda: self.expression(_COMPARE))
        self.expect(")")
        if op == "=":
            return ast.RangeNode(pos, bound, bound, True, True)
        if op.startswith("<"):
            return ast.RangeNode(pos, None, bound, False, op == "<=")
        return ast.RangeNode(pos, bound, None, op == ">=", False)

    def list_or_range(self) -> ast.Node:
        open_token = self.advance()
        if self.accept("]"):
            return ast.ListNode(open_token.start, ())
        first = self.nested(lambda: self.expression(0))
        if self.at(".."):
            return self.range_tail(open_token.start, first, start_included=True)
        items = [first]
        while self.accept(","):
            items.append(self.nested(lambda: self.expression(0)))
        self.expect("]")
        return ast.ListNode(open_token.start, tuple(items))

    def range_rest(self, pos: int, start_included: bool) -> ast.Node:
        start = self.nested(lambda: self.expression(0))
        if not self.at(".."):
            self.fail("expected '..' in range")
        return self.range_tail(pos, start, start_included)

    def range_tail(self, pos: int, start: ast.Node, start_included: bool) -> ast.Node:
        self.expect("..")
        saved, self.no_filter = self.no_filter, True
        try:
            end = self.expression(0)
        finally:
            self.no_filter = saved
        close = self.advance()
        if close.text not in ("]", ")", "[") or close.kind is not Kind.OP:
            self.fail("expected ']', ')' or '[' to close the range", close.start)
        return ast.RangeNode(pos, start, end, start_included, close.text == "]")

    def context(self) -> ast.Node:
        open_token = self.advance()
        entries: list[tuple[str, ast.Node]] = []
        if not self.accept("}"):
            while True:
                key = self.words_until(frozenset({":"}))
                self.expect(":")
                entries.append((key, self.nested(lambda: self.expression(0))))
                if self.accept("}"):
                    break
                self.expect(",")
        return ast.ContextNode(open_token.start, tuple(entries))

    def call(self, function: ast.Node, open_token: Token) -> ast.Node:
        args: list[ast.Node] = []
        names: list[str] | None = [] if self.is_named_argument() else None
        if not self.accept(")"):
            while True:
                if names is not None:
                    names.append(self.words_until(frozenset({":"})))
                    self.expect(":")
                args.append(self.nested(lambda: self.expression(0)))
                if self.accept(")"):
                    break
                self.expect(",")
        return ast.Call(open_token.start, function, tuple(args), tuple(names or ()))

    def is_named_argument(self) -> bool:
        offset = 0
        while self.peek(offset).kind is Kind.NAME or self.peek(offset).text in ("-", "."):
            offset += 1
        return offset > 0 and self.peek(offset).text == ":" and self.peek(offset).kind is Kind.OP

    def if_expression(self) -> ast.Node:
        start = self.advance()
        condition = self.expression(0)
        self.expect("then")
        then = self.expression(0)
        self.expect("else")
        return ast.If(start.start, condition, then, self.expression(0))

    def iterations(self) -> tuple[ast.Iteration, ...]:
        items: list[ast.Iteration] = []
        while True:
            pos = self.token.start
            name = self.iteration_name()
            self.expect("in")
            source = self.expression(0)
            end = self.expression(0) if self.accept("..") else None
            items.append(ast.Iteration(pos, name, source, end))
            if not self.accept(","):
                return tuple(items)

    def iteration_name(self) -> str:
        start = self.token
        end = start
        while not self.at("in") or (end is start and self.token is start):
            if self.token.kind is not Kind.NAME:
                self.fail(f"expected a name but found {self.describe(self.token)}")
            end = self.advance()
        name = normalize(self.text[start.start : end.end])
        self.names.add(name)
        return name

    def for_expression(self) -> ast.Node:
        start = self.advance()
        iterations = self.iterations()
        self.expect("return")
        return ast.For(start.start, iterations, self.expression(0))

    def quantified(self) -> ast.Node:
        start = self.advance()
        iterations = self.iterations()
        self.expect("satisfies")
        return ast.Quantified(start.start, start.text == "every", iterations, self.expression(0))

    def function_definition(self) -> ast.Node:
        start = self.advance()
        self.expect("(")
        params: list[ast.Parameter] = []
        if not self.accept(")"):
            while True:
                pos = self.token.start
                name = self.words_until(frozenset({",", ")", ":"}))
                param_type = self.type_ref() if self.accept(":") else None
                params.append(ast.Parameter(pos, name, param_type))
                if self.accept(")"):
                    break
                self.expect(",")
        external = self.accept("external")
        return ast.FunctionDef(start.start, tuple(params), self.expression(0), external)

    # -- unary tests ---------------------------------------------------------------------

    def unary_tests(self) -> ast.UnaryTests:
        start = self.token
        if self.at("-") and self.peek().kind is Kind.END:
            self.advance()
            return ast.UnaryTests(start.start, (), wildcard=True)
        if self.at("not") and self.peek().text == "(" and self.is_whole_negation():
            self.advance()
            self.expect("(")
            tests = self.positive_tests()
            self.expect(")")
            return ast.UnaryTests(start.start, tests, negated=True)
        return ast.UnaryTests(start.start, self.positive_tests())

    def is_whole_negation(self) -> bool:
        depth = 0
        for offset in range(1, len(self.tokens) - self.index):
            token = self.peek(offset)
            if token.kind is Kind.OP and token.text in "([{":
                depth += 1
            elif token.kind is Kind.OP and token.text in ")]}":
                depth -= 1
                if depth == 0:
                    return self.peek(offset + 1).kind is Kind.END
        return False

    def positive_tests(self) -> tuple[ast.UnaryTest, ...]:
        tests = [self.positive_test(0)]
        while self.accept(","):
            tests.append(self.positive_test(0))
        return tuple(tests)

    def positive_test(self, min_power: int) -> ast.UnaryTest:
        token = self.token
        if token.kind is Kind.OP and token.text in _TEST_OPERATORS:
            self.advance()
            return ast.UnaryTest(token.start, token.text, self.expression(_COMPARE))
        return ast.UnaryTest(token.start, None, self.expression(min_power))

    def in_tests(self) -> ast.UnaryTests:
        start = self.token
        if self.at("("):
            saved = self.index
            self.advance()
            tests = [self.nested(lambda: self.positive_test(0))]
            if self.at(",") or self.at(")"):
                while self.accept(","):
                    tests.append(self.nested(lambda: self.positive_test(0)))
                self.expect(")")
                return ast.UnaryTests(start.start, tuple(tests))
            self.index = saved
        return ast.UnaryTests(start.start, (self.positive_test(_COMPARE),))

    # -- types ---------------------------------------------------------------------------

    def type_ref(self) -> ast.TypeRef:
        self.enter()
        token = self.token
        if self.at("function") and self.peek().text == "<":
            self.advance()
            result = self.function_type(token.start)
        else:
            name = self.type_name()
            result = self.type_arguments(token.start, name)
        self.depth -= 1
        return result

    def type_name(self) -> str:
        if self.at("null"):
            self.advance()
            return "Null"
        name = self.name()
        while self.accept("."):
            name += "." + self.name()
        return name

    def type_arguments(self, pos: int, name: str) -> ast.TypeRef:
        if not self.at("<"):
            return ast.TypeRef(pos, name)
        self.advance()
        if self.accept(">"):
            return ast.TypeRef(pos, name)
        if name == "context":
            fields: list[tuple[str, ast.TypeRef]] = []
            while True:
                key = self.words_until(frozenset({":"}))
                self.expect(":")
                fields.append((key, self.type_ref()))
                if not self.accept(","):
                    break
            self.expect(">")
            return ast.TypeRef(pos, name, fields=tuple(fields))
        args = [self.type_ref()]
        while self.accept(","):
            args.append(self.type_ref())
        self.expect(">")
        return ast.TypeRef(pos, name, tuple(args))

    def function_type(self, pos: int) -> ast.TypeRef:
        self.expect("<")
        params: list[ast.TypeRef] = []
        if not self.accept(">"):
            params.append(self.type_ref())
            while self.accept(","):
                params.append(self.type_ref())
            self.expect(">")
        self.expect("->")
        return ast.TypeRef(pos, "function", tuple(params), result=self.type_ref())
