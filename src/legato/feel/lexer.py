"""Splits FEEL text into tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from legato.feel.errors import FeelSyntaxError

MAX_LENGTH = 100_000
"""The longest expression text accepted, in characters."""


class Kind(Enum):
    """The kinds of token."""

    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    OP = "operator"
    END = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text (decoded for strings) and its span in the source."""

    kind: Kind
    text: str
    start: int
    end: int
    quoted: bool = False


_OPERATORS = (
    "**",
    "..",
    "!=",
    "<=",
    ">=",
    "->",
    "+",
    "-",
    "*",
    "/",
    "=",
    "<",
    ">",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    "@",
)
_NUMBER = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[^\W\d]|[_?]|[^\x00-\x7f\s]", re.UNICODE)
_NAME_PART = re.compile(r"(?:[\w?']|[^\x00-\x7f\s])+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "'": "'", '"': '"', "\\": "\\"}


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an END token.

    Raises:
        FeelSyntaxError: On an unknown character, an unterminated string or comment, or a
            text longer than ``MAX_LENGTH``.
    """
    if len(text) > MAX_LENGTH:
        raise FeelSyntaxError(
            f"expression too long ({len(text)} characters, limit {MAX_LENGTH})", text, 0
        )
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        while self._skip_space_and_comments():
            self.tokens.append(self._next())
        self.tokens.append(Token(Kind.END, "", len(self.text), len(self.text)))
        return self.tokens

    def _skip_space_and_comments(self) -> bool:
        text = self.text
        while self.pos < len(text):
            space = _SPACE.match(text, self.pos)
            if space:
                self.pos = space.end()
            elif text.startswith("//", self.pos):
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline < 0 else newline + 1
            elif text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                if close < 0:
                    raise FeelSyntaxError("unterminated comment", text, self.pos)
                self.pos = close + 2
            else:
                return True
        return False

    def _next(self) -> Token:
        text, start = self.text, self.pos
        char = text[start]
        if char == '"':
            return self._string()
        if char == "`":
            return self._backtick_name()
        number = _NUMBER.match(text, start)
        if number and not text.startswith("..", start):
            self.pos = number.end()
            return Token(Kind.NUMBER, number.group(), start, self.pos)
        if _NAME.match(char):
            part = _NAME_PART.match(text, start)
            self.pos = part.end() if part else start + 1
            return Token(Kind.NAME, text[start : self.pos], start, self.pos)
        for operator in _OPERATORS:
            if text.startswith(operator, start):
                self.pos = start + len(operator)
                return Token(Kind.OP, operator, start, self.pos)
        raise FeelSyntaxError(f"unexpected character {char!r}", text, start)

    def _backtick_name(self) -> Token:
        start = self.pos
        close = self.text.find("`", start + 1)
        if close < 0:
            raise FeelSyntaxError("unterminated quoted name", self.text, start)
        self.pos = close + 1
        return Token(Kind.NAME, self.text[start + 1 : close], start, self.pos, quoted=True)

    def _string(self) -> Token:
        text, start = self.text, self.pos
        chars: list[str] = []
        pos = start + 1
        while pos < len(text):
            char = text[pos]
            if char == '"':
                self.pos = pos + 1
                return Token(Kind.STRING, "".join(chars), start, self.pos)
            if char == "\\":
                decoded, pos = self._escape(pos)
                chars.append(decoded)
                continue
            chars.append(char)
            pos += 1
        raise FeelSyntaxError("unterminated string", text, start)

    def _escape(self, pos: int) -> tuple[str, int]:
        text = self.text
        code = text[pos + 1 : pos + 2]
        if code in _ESCAPES:
            return _ESCAPES[code], pos + 2
        width = {"u": 4, "U": 6}.get(code)
        digits = text[pos + 2 : pos + 2 + width] if width else ""
        if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
            if int(digits, 16) > 0x10FFFF:
                raise FeelSyntaxError(f"invalid code point '\\{code}{digits}'", text, pos)
            decoded, end = chr(int(digits, 16)), pos + 2 + width
            return self._join_surrogates(decoded, end)
        return "\\" + code, pos + 2

    def _join_surrogates(self, high: str, pos: int) -> tuple[str, int]:
        text = self.text
        if not 0xD800 <= ord(high) <= 0xDBFF or not text.startswith("\\u", pos):
            return high, pos
        digits = text[pos + 2 : pos + 6]
        try:
            low = int(digits, 16)
        except ValueError:
            return high, pos
        if 0xDC00 <= low <= 0xDFFF:
            joined = 0x10000 + ((ord(high) - 0xD800) << 10) + (low - 0xDC00)
            return chr(joined), pos + 6
        return high, pos
