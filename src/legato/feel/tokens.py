"""The token cursor under the parser: token helpers, limits, names and type references."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from legato.feel import ast
from legato.feel.errors import FeelSyntaxError
from legato.feel.lexer import Kind, Token, tokenize
from legato.feel.names import NAME_BREAKS, NameTable, normalize

MAX_DEPTH = 200
"""The deepest nesting of sub-expressions accepted."""

_STRUCTURE = frozenset({"(", ")", "[", "]", "{", "}", ","})


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


class TokenStream:
    """A cursor over the tokens of one text, with the helpers every parsing rule uses."""

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

    def fail(self, message: str, position: int | None = None) -> NoReturn:
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

    # -- names ---------------------------------------------------------------------------

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
            if self.token.text in NAME_BREAKS:
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
            token = self.token
            if token.kind in (Kind.END, Kind.STRING) or token.text in _STRUCTURE:
                expected = " or ".join(f"'{stop}'" for stop in sorted(stops))
                self.fail(f"expected {expected} but found {self.describe(token)}")
            end = self.advance()
        if end is start and start.kind is not Kind.NAME:
            self.fail(f"expected a name but found {self.describe(start)}")
        name = normalize(self.text[start.start : end.end])
        self.names.add(name)
        return name

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
