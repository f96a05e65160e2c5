"""Multi-word names: matching the longest known name over a run of tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable

from legato.feel.errors import FeelSyntaxError
from legato.feel.lexer import Kind, Token, tokenize

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "if",
        "then",
        "else",
        "for",
        "in",
        "return",
        "some",
        "every",
        "satisfies",
        "between",
        "instance",
        "of",
        "function",
        "external",
        "true",
        "false",
        "null",
    }
)
"""Reserved words of FEEL (they cannot start a name)."""

NAME_BREAKS = frozenset(
    {"and", "or", "in", "then", "else", "return", "satisfies", "between", "instance"}
)
"""Words that end an unknown multi-word name (those that may follow a name in FEEL)."""

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Collapse runs of white space in a name to single spaces."""
    return _SPACES.sub(" ", text.strip())


class NameTable:
    """Known names, indexed by their first token for longest-match lookup."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for name in names:
            self.add(name)

    def copy(self) -> NameTable:
        """A table with the same names that can grow independently."""
        table = NameTable()
        table._by_first = {first: list(entries) for first, entries in self._by_first.items()}
        return table

    def add(self, name: str) -> None:
        """Learn ``name`` (only multi-token names need learning; others are free)."""
        parts = _token_texts(name)
        if len(parts) < 2:
            return
        entries = self._by_first.setdefault(parts[0], [])
        if all(existing != parts for existing, _ in entries):
            entries.append((parts, normalize(name)))
            entries.sort(key=lambda entry: -len(entry[0]))

    def match(self, tokens: list[Token], index: int) -> tuple[str, int] | None:
        """The longest known multi-token name starting at ``index`` and the index after it."""
        for parts, name in self._by_first.get(tokens[index].text, ()):
            end = index + len(parts)
            if end < len(tokens) and all(
                tokens[index + k].text == part and tokens[index + k].kind is not Kind.STRING
                for k, part in enumerate(parts)
            ):
                return name, end
        return None


def _token_texts(name: str) -> tuple[str, ...]:
    try:
        tokens = tokenize(name)
    except FeelSyntaxError:
        return ()
    if any(token.kind is Kind.STRING for token in tokens):
        return ()
    return tuple(token.text for token in tokens[:-1])
