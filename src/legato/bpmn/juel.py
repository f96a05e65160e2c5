"""Translation of Camunda 7 style JUEL expressions (``${...}``, ``#{...}``) to FEEL.

Only the common subset is understood: literals, variables and properties, the arithmetic,
comparison and logical operators (symbolic and word forms), ``empty``, the conditional
operator, list and map indexing, ``execution.getVariable("x")``, a few string and
collection methods, and Camunda Spin's ``prop("name")``, ``numberValue()``, ``stringValue()``
and ``boolValue()`` on JSON variables (which are FEEL contexts here). Anything else (bean
calls, lambdas, ``instanceof``) raises :class:`JuelTranslationError`, so the reader can report
it instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["JuelTranslationError", "is_juel", "translate_juel"]


class JuelTranslationError(ValueError):
    """A JUEL expression uses something that has no FEEL translation here."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]])
    """,
    re.VERBOSE,
)

_WORD_OPERATORS = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
}
_FEEL_COMPARISON = {"==": "=", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_LITERALS = {"true": "true", "false": "false", "null": "null"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def is_juel(text: str) -> bool:
    """True when ``text`` holds a JUEL expression (``${...}`` or ``#{...}``)."""
    return "${" in text or "#{" in text


def translate_juel(text: str) -> str:
    """Translate a JUEL template to a FEEL expression.

    A text that is exactly one ``${...}`` becomes the translated expression; text mixed with
    literal parts becomes a FEEL string concatenation.

    Args:
        text: the attribute or element text, e.g. ``${amount > 1000 && !approved}``.

    Returns:
        The FEEL expression, e.g. ``((amount > 1000) and not(approved))``.

    Raises:
        JuelTranslationError: when the expression uses something not translated here.
    """
    parts = _split_template(text.strip())
    if len(parts) == 1 and parts[0][0]:
        return _translate_expression(parts[0][1])
    pieces = [
        f"string({_translate_expression(body)})" if is_expr else _feel_string(body)
        for is_expr, body in parts
    ]
    return " + ".join(pieces) if pieces else '""'


def _split_template(text: str) -> list[tuple[bool, str]]:
    """Split ``a ${x} b`` into literal and expression parts (True marks an expression)."""
    parts: list[tuple[bool, str]] = []
    position = 0
    while position < len(text):
        start = _find_opening(text, position)
        if start < 0:
            parts.append((False, text[position:]))
            break
        if start > position:
            parts.append((False, text[position:start]))
        end = _find_closing(text, start + 2)
        parts.append((True, text[start + 2 : end]))
        position = end + 1
    return parts


def _find_opening(text: str, position: int) -> int:
    candidates = [i for i in (text.find("${", position), text.find("#{", position)) if i >= 0]
    return min(candidates) if candidates else -1


def _find_closing(text: str, position: int) -> int:
    """The index of the ``}`` closing an expression, skipping string literals."""
    quote: str | None = None
    index = position
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "}":
            return index
        index += 1
    raise JuelTranslationError(f"unclosed expression in {text!r}")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise JuelTranslationError(f"unexpected character {source[position]!r} in {source!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind == "ws":
            continue
        text = match.group()
        if kind == "name" and text in _WORD_OPERATORS:
            kind, text = "op", _WORD_OPERATORS[text]
        elif kind == "name" and text == "empty":
            kind = "op"
        tokens.append(_Token(kind, text))
    return tokens


def _translate_expression(source: str) -> str:
    if not source.strip():
        raise JuelTranslationError("empty expression")
    parser = _Parser(_tokenize(source), source)
    result = parser.expression()
    if not parser.at_end():
        raise JuelTranslationError(f"unexpected {parser.peek().text!r} in {source!r}")
    return result


def _feel_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _empty_test(operand: str) -> str:
    return (
        f"({operand} = null or ({operand} instance of string and string length({operand}) = 0)"
        f" or ({operand} instance of list and count({operand}) = 0))"
    )


_METHODS: dict[str, Callable[[str, list[str]], str]] = {
    "contains": lambda target, args: f"contains({target}, {args[0]})" if len(args) == 1 else "",
    "startsWith": lambda target, args: (
        f"starts with({target}, {args[0]})" if len(args) == 1 else ""
    ),
    "endsWith": lambda target, args: f"ends with({target}, {args[0]})" if len(args) == 1 else "",
    "equals": lambda target, args: f"({target} = {args[0]})" if len(args) == 1 else "",
    "matches": lambda target, args: f"matches({target}, {args[0]})" if len(args) == 1 else "",
    "toUpperCase": lambda target, args: "" if args else f"upper case({target})",
    "toLowerCase": lambda target, args: "" if args else f"lower case({target})",
    "length": lambda target, args: "" if args else f"string length({target})",
    "size": lambda target, args: "" if args else f"count({target})",
    "isEmpty": lambda target, args: "" if args else _empty_test(target),
    # Camunda Spin's JSON API: a JSON variable is a FEEL context (or list, or value) here.
    "prop": lambda target, args: f"get value({target}, {args[0]})" if len(args) == 1 else "",
    "numberValue": lambda target, args: "" if args else _typed(target, "number"),
    "stringValue": lambda target, args: "" if args else _typed(target, "string"),
    "boolValue": lambda target, args: "" if args else _typed(target, "boolean"),
}


def _typed(operand: str, type_name: str) -> str:
    """Spin's ``numberValue()`` and the like: the value when it has the type, else null."""
    return f"(if {operand} instance of {type_name} then {operand} else null)"


class _Parser:
    """Recursive descent over JUEL tokens, emitting FEEL text with explicit parentheses."""

    def __init__(self, tokens: list[_Token], source: str) -> None:
        self._tokens = tokens
        self._source = source
        self._index = 0

    def at_end(self) -> bool:
        return self._index >= len(self._tokens)

    def peek(self) -> _Token:
        if self.at_end():
            raise JuelTranslationError(f"unexpected end of {self._source!r}")
        return self._tokens[self._index]

    def _accept(self, *texts: str) -> str | None:
        if not self.at_end() and self.peek().kind == "op" and self.peek().text in texts:
            self._index += 1
            return self._tokens[self._index - 1].text
        return None

    def _expect(self, text: str) -> None:
        if self._accept(text) is None:
            raise JuelTranslationError(f"expected {text!r} in {self._source!r}")

    def expression(self) -> str:
        condition = self._binary(0)
        if self._accept("?") is None:
            return condition
        then = self.expression()
        self._expect(":")
        otherwise = self.expression()
        return f"(if {condition} then {then} else {otherwise})"

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("==", "!="),
        ("<", ">", "<=", ">="),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def _binary(self, level: int) -> str:
        if level == len(self._LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while (operator := self._accept(*self._LEVELS[level])) is not None:
            right = self._binary(level + 1)
            left = self._combine(operator, left, right)
        return left

    @staticmethod
    def _combine(operator: str, left: str, right: str) -> str:
        if operator == "||":
            return f"({left} or {right})"
        if operator == "&&":
            return f"({left} and {right})"
        if operator == "%":
            return f"modulo({left}, {right})"
        return f"({left} {_FEEL_COMPARISON.get(operator, operator)} {right})"

    def _unary(self) -> str:
        if self._accept("!") is not None:
            return f"not({self._unary()})"
        if self._accept("empty") is not None:
            return _empty_test(self._unary())
        if self._accept("-") is not None:
            return f"(-{self._unary()})"
        return self._value()

    def _value(self) -> str:
        result, name = self._primary()
        while True:
            if self._accept(".") is not None:
                member = self.peek()
                if member.kind != "name":
                    raise JuelTranslationError(f"expected a name after '.' in {self._source!r}")
                self._index += 1
                if self._accept("(") is not None:
                    result = self._method(result, name, member.text, self._arguments())
                else:
                    result = f"{result}.{member.text}"
                name = None
            elif self._accept("[") is not None:
                result = self._index_into(result, self.expression())
                self._expect("]")
                name = None
            else:
                return result

    def _primary(self) -> tuple[str, str | None]:
        token = self.peek()
        self._index += 1
        if token.kind == "number":
            return token.text, None
        if token.kind == "string":
            return _feel_string(_unquote(token.text)), None
        if token.kind == "name":
            if token.text in _LITERALS:
                return _LITERALS[token.text], None
            if self._accept("(") is not None:
                raise JuelTranslationError(f"function {token.text!r} has no FEEL translation")
            return token.text, token.text
        if token.kind == "op" and token.text == "(":
            inner = self.expression()
            self._expect(")")
            return f"({inner})", None
        raise JuelTranslationError(f"unexpected {token.text!r} in {self._source!r}")

    def _arguments(self) -> list[str]:
        arguments: list[str] = []
        if self._accept(")") is not None:
            return arguments
        arguments.append(self.expression())
        while self._accept(",") is not None:
            arguments.append(self.expression())
        self._expect(")")
        return arguments

    def _method(self, target: str, name: str | None, method: str, args: list[str]) -> str:
        if name == "execution" and method == "getVariable" and len(args) == 1:
            variable = args[0]
            if re.fullmatch(r'"[A-Za-z_][A-Za-z0-9_]*"', variable):
                return variable[1:-1]
        translate = _METHODS.get(method)
        result = translate(target, args) if translate else ""
        if not result:
            raise JuelTranslationError(f"method {method!r} has no FEEL translation")
        return result

    @staticmethod
    def _index_into(target: str, index: str) -> str:
        if index.isdigit():
            return f"{target}[{int(index) + 1}]"
        if index.startswith('"'):
            return f"get value({target}, {index})"
        return f"{target}[({index}) + 1]"
