"""A Pratt parser from FEEL tokens to the syntax tree of :mod:`legato.feel.ast`."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from legato.feel import ast
from legato.feel.lexer import Kind, Token
from legato.feel.names import KEYWORDS, NameTable, normalize
from legato.feel.tokens import MAX_DEPTH, TokenStream, check_depth
from legato.feel.values import DECIMAL_CONTEXT as CTX

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
_RANGE_OPERATORS = frozenset({"<", "<=", ">", ">=", "="})
_TEST_OPERATORS = frozenset({"<", "<=", ">", ">=", "=", "!="})

__all__ = ["MAX_DEPTH", "parse_expression", "parse_unary_tests"]


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


class _Parser(TokenStream):
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
            right = self.expression(power)
            if isinstance(left, ast.Logical) and left.op == text:
                return ast.Logical(left.pos, text, (*left.operands, right))
            return ast.Logical(pos, text, (left, right))
        if text == "between":
            low = self.expression(_COMPARE)
            self.expect("and")
            return ast.Between(pos, left, low, self.expression(_COMPARE))
        if text == "in":
            return ast.In(pos, left, self.in_tests())
        if text == "instance":
            self.expect("of")
            return ast.InstanceOf(pos, left, self.type_ref())
        right = self.expression(power)
        if power == _COMPARE:
            return ast.Binary(pos, text, left, right)
        if isinstance(left, ast.Chain) and _BINARY[left.rest[0][0]] == power:
            return ast.Chain(left.pos, left.first, (*left.rest, (text, right)))
        return ast.Chain(pos, left, ((text, right),))

    def postfix(self, left: ast.Node, token: Token) -> ast.Node:
        if token.text == ".":
            return ast.Path(token.start, left, self.name())
        if token.text == "[":
            condition = self.nested(lambda: self.expression(0))
            self.expect("]")
            return ast.Filter(token.start, left, condition)
        return self.call(left, token)

    def number(self, token: Token) -> Decimal:
        """A number literal, within the range of FEEL numbers (decimal128)."""
        value = Decimal(token.text)
        if not CTX.Etiny() <= value.adjusted() <= CTX.Emax:
            if value and value.adjusted() > CTX.Emax:
                self.fail("number beyond the range of FEEL numbers", token.start)
            value = CTX.plus(value)  # too small (or a zero): 0, as arithmetic makes it
        return value

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
            return ast.Literal(token.start, self.number(token))
        if token.kind is Kind.STRING:
            self.advance()
            return ast.Literal(token.start, token.text)
        if token.kind is Kind.OP:
            return self.prefix_operator(token)
        if token.kind is Kind.NAME:
            return self.prefix_name(token)
        self.fail("unexpected end of expression")

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
            return ast.RangeNode(pos, bound, bound, True, True, op)
        if op.startswith("<"):
            return ast.RangeNode(pos, None, bound, False, op == "<=", op)
        return ast.RangeNode(pos, bound, None, op == ">=", False, op)

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
        if start.kind is Kind.END:
            return ast.UnaryTests(start.start, (), wildcard=True)
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
