"""String functions; patterns are XML Schema / XPath regular expressions."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from legato.feel.builtins.regex import compile_pattern
from legato.feel.builtins.registry import builtin, fail


def _position(value: Decimal, what: str) -> int:
    if value != value.to_integral_value():
        raise fail(f"{what} must be an integer")
    return int(value)


@builtin("substring", "string: string", "start position: number", "length: number?")
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


@builtin("upper case", "string: string")
def upper_case(text: str) -> str:
    return text.upper()


@builtin("lower case", "string: string")
def lower_case(text: str) -> str:
    return text.lower()


@builtin("substring before", "string: string", "match: string")
def substring_before(text: str, match: str) -> str:
    index = text.find(match)
    return "" if index < 0 else text[:index]


@builtin("substring after", "string: string", "match: string")
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


_GROUP = re.compile(r"\d+")


def _replacement(template: str) -> str:
    """Turn an XPath replacement (``$1``, ``\\$``, ``\\\\``) into a Python template."""
    parts: list[str] = []
    index = 0
    while index < len(template):
        char = template[index]
        if char == "\\":
            escaped = template[index + 1 : index + 2]
            if escaped not in ("\\", "$"):
                raise fail(f"invalid replacement {template!r}")
            parts.append("\\\\" if escaped == "\\" else "$")
            index += 2
        elif char == "$":
            group = _GROUP.match(template, index + 1)
            if group is None:
                raise fail(f"invalid replacement {template!r}")
            parts.append(f"\\g<{group.group()}>")
            index = group.end()
        else:
            parts.append(char)
            index += 1
    return "".join(parts)


@builtin("replace", "input: string", "pattern: string", "replacement: string", "flags: string?")
def replace(text: str, pattern: str, replacement: str, flags: str | None = None) -> str:
    regex = compile_pattern(pattern, flags)
    if regex.search(""):
        raise fail("the pattern matches the empty string")
    if "q" in (flags or ""):
        return regex.sub(lambda match: replacement, text)
    try:
        return regex.sub(_replacement(replacement), text)
    except (re.error, IndexError) as error:
        raise fail(f"invalid replacement: {error}") from error


@builtin("split", "string: string", "delimiter: string")
def split(text: str, delimiter: str) -> list[str]:
    regex = compile_pattern(delimiter)
    if regex.search(""):
        raise fail("the delimiter matches the empty string")
    return regex.split(text)


@builtin("extract", "string: string", "pattern: string")
def extract(text: str, pattern: str) -> list[str]:
    return [match.group(0) for match in compile_pattern(pattern).finditer(text)]


@builtin("string join", "list: list", "delimiter: any?")
@builtin("string join", "list: list", "delimiter: any", "prefix: any", "suffix: any")
def string_join(
    items: list[Any], delimiter: Any = None, prefix: Any = None, suffix: Any = None
) -> str:
    if any(x is not None and not isinstance(x, str) for x in (delimiter, prefix, suffix)):
        raise fail("delimiter, prefix and suffix must be strings")
    if any(item is not None and not isinstance(item, str) for item in items):
        raise fail("the list must contain only strings")
    joined = (delimiter or "").join(item for item in items if item is not None)
    return (prefix or "") + joined + (suffix or "")
