"""String functions; patterns are XML Schema / XPath regular expressions."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from legato.feel.builtins.regex import compile_pattern
from legato.feel.builtins.registry import builtin, fail
from legato.feel.errors import abbreviate
from legato.feel.limits import SMALL_STRING
from legato.feel.runtime import Run


def _position(value: Decimal, what: str) -> int:
    if value != value.to_integral_value():
        raise fail(f"{what} must be an integer")
    return int(value)


@builtin("substring", "string: string", "start position: number", "length: number?", builds=True)
def substring(text: str, start: Decimal, length: Decimal | None = None) -> str:
    first = _position(start.to_integral_value(), "start position")
    if first == 0 or (abs(first) > len(text) and first < 0):
        raise fail(f"start position {first} out of range")
    begin = first - 1 if first > 0 else len(text) + first
    if length is None:
        return text[begin:]
    count = int(length)
    if count < 0:
        raise fail("length must not be negative")
    return text[begin : begin + count]


@builtin("string length", "string: string")
def string_length(text: str) -> Decimal:
    return Decimal(len(text))


@builtin("upper case", "string: string", builds=True)
def upper_case(text: str) -> str:
    return text.upper()


@builtin("lower case", "string: string", builds=True)
def lower_case(text: str) -> str:
    return text.lower()


@builtin("substring before", "string: string", "match: string", builds=True)
def substring_before(text: str, match: str) -> str:
    index = text.find(match)
    return "" if index < 0 else text[:index]


@builtin("substring after", "string: string", "match: string", builds=True)
def substring_after(text: str, match: str) -> str:
    index = text.find(match)
    return "" if index < 0 else text[index + len(match) :]


@builtin("contains", "string: string", "match: string")
def contains(text: str, match: str) -> bool:
    return match in text


@builtin("starts with", "string: string", "match: string")
def starts_with(text: str, match: str) -> bool:
    return text.startswith(match)


@builtin("ends with", "string: string", "match: string")
def ends_with(text: str, match: str) -> bool:
    return text.endswith(match)


@builtin("matches", "input: string", "pattern: string", "flags: any?")
def matches(text: str, pattern: str, flags: str | None = None) -> bool:
    return compile_pattern(pattern, flags).search(text) is not None


_REPLACEMENT = re.compile(r"\\(.?)|\$(\d*)|[^\\$]+", re.DOTALL)


def _replacement(template: str) -> list[str | int]:
    """An XPath replacement (``$1``, ``\\$``, ``\\\\``) as literal texts and group numbers."""
    parts: list[str | int] = []
    for token in _REPLACEMENT.finditer(template):
        escaped, group = token.group(1), token.group(2)
        if escaped in ("\\", "$"):
            parts.append(escaped)
        elif group:
            parts.append(int(group))
        elif escaped is None and group is None:
            parts.append(token.group())
        else:  # a backslash before another character, or a $ without a group number
            raise fail(f"invalid replacement {abbreviate(template)!r}")
    return parts


@builtin(
    "replace",
    "input: string",
    "pattern: string",
    "replacement: string",
    "flags: string?",
    needs_run=True,
)
def replace(run: Run, text: str, pattern: str, replacement: str, flags: str | None = None) -> str:
    regex = compile_pattern(pattern, flags)
    if regex.search(""):
        raise fail("the pattern matches the empty string")
    parts = [replacement] if "q" in (flags or "") else _replacement(replacement)
    for part in parts:
        if type(part) is int and part > regex.groups:
            raise fail(f"invalid replacement: invalid group reference {part}")
    budget = run.budget or run.open_budget()
    size = len(text)

    def substitute(match: re.Match[str]) -> str:
        nonlocal size
        pieces = [part if type(part) is str else match.group(part) or "" for part in parts]
        size += sum(map(len, pieces)) - (match.end() - match.start())
        if size > SMALL_STRING:
            budget.check_string(size)  # as it grows; counted once done
        return "".join(pieces)

    return budget.built(regex.sub(substitute, text))


@builtin("split", "string: string", "delimiter: string", builds=True)
def split(text: str, delimiter: str) -> list[str]:
    regex = compile_pattern(delimiter)
    if regex.search(""):
        raise fail("the delimiter matches the empty string")
    return regex.split(text)


@builtin("extract", "string: string", "pattern: string", builds=True)
def extract(text: str, pattern: str) -> list[str]:
    return [match.group(0) for match in compile_pattern(pattern).finditer(text)]


@builtin("string join", "list: list", "delimiter: any?", needs_run=True)
@builtin(
    "string join", "list: list", "delimiter: any", "prefix: any", "suffix: any", needs_run=True
)
def string_join(
    run: Run, items: list[Any], delimiter: Any = None, prefix: Any = None, suffix: Any = None
) -> str:
    if any(x is not None and not isinstance(x, str) for x in (delimiter, prefix, suffix)):
        raise fail("delimiter, prefix and suffix must be strings")
    if any(item is not None and not isinstance(item, str) for item in items):
        raise fail("the list must contain only strings")
    if None in items:
        items = [item for item in items if item is not None]
    separator, before, after = delimiter or "", prefix or "", suffix or ""
    size = sum(map(len, items)) + len(separator) * max(len(items) - 1, 0)
    if size + len(before) + len(after) > SMALL_STRING:
        (run.budget or run.open_budget()).string(size + len(before) + len(after))
    joined = separator.join(items)
    return before + joined + after if before or after else joined
