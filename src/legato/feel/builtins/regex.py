"""XML Schema / XPath regular expressions (as FEEL uses them) mapped onto Python's ``re``."""

from __future__ import annotations

import re

from legato.feel.builtins.registry import fail

_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_BLOCKS = {"IsBasicLatin": "\\x00-\\x7f", "IsLatin-1Supplement": "\\x80-\\xff"}
_CATEGORIES = {
    "L": "[^\\W\\d_]",
    "Lu": "(?-i:[^\\W\\d_])(?<=[A-Z\\u00c0-\\u00de\\u0391-\\u03a9\\u0410-\\u042f])",
    "Ll": "(?-i:[^\\W\\d_])(?<=[a-z\\u00df-\\u00ff\\u03b1-\\u03c9\\u0430-\\u044f])",
    "N": "\\d",
    "Nd": "\\d",
    "P": "[^\\w\\s]",
    "S": "[^\\w\\s]",
    "Z": "\\s",
}
_PROPERTY = re.compile(r"\\([pP])\{([^}]*)\}")


def compile_pattern(pattern: str, flags: str | None = None) -> re.Pattern[str]:
    """Compile an XPath regular expression with XPath flags (``i m s x q``).

    Raises:
        FeelEvaluationError: On an invalid pattern or flag.
    """
    options = 0
    if flags is not None and not isinstance(flags, str):
        raise fail("flags must be a string")
    flags = flags or ""
    for flag in flags:
        if flag not in "imsxq":
            raise fail(f"invalid regular expression flag {flag!r}")
        options |= _FLAGS.get(flag, 0)
    if "q" in flags:
        return re.compile(re.escape(pattern), options)
    if "x" in flags:
        pattern = _strip_whitespace(pattern)
    try:
        return re.compile(_translate(pattern, dot_all="s" in flags), options)
    except re.error as error:
        raise fail(f"invalid regular expression {pattern!r}: {error}") from error


def _strip_whitespace(pattern: str) -> str:
    """The ``x`` flag: drop white space outside character classes."""
    out: list[str] = []
    depth = 0
    escaped = False
    for char in pattern:
        if char.isspace() and not depth:
            continue
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        out.append(char)
    return "".join(out)


def _translate(pattern: str, dot_all: bool) -> str:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            text, index = _escape(pattern, index, in_class=False)
            out.append(text)
        elif char == "[":
            text, index = _char_class(pattern, index)
            out.append(text)
        elif char == "." and not dot_all:
            out.append("[^\\n\\r]")
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    match = _PROPERTY.match(pattern, index)
    if match:
        return _property(match, in_class), match.end()
    code = pattern[index + 1 : index + 2]
    if in_class and code.isdigit():
        raise fail("back-references are not allowed in character classes")
    if code == "i":
        return ("[\\w:]" if not in_class else "\\w:"), index + 2
    if code == "c":
        return ("[\\w:.\\-]" if not in_class else "\\w:.\\-"), index + 2
    return pattern[index : index + 2], index + 2


def _property(match: re.Match[str], in_class: bool) -> str:
    # White space inside the braces is an error, unless the x flag has removed it already.
    negated, name = match[1] == "P", match[2]
    if name in _BLOCKS:
        if in_class:
            if negated:
                raise fail(f"negated block \\P{{{name}}} inside a class is not supported")
            return _BLOCKS[name]
        return f"[{'^' if negated else ''}{_BLOCKS[name]}]"
    category = _CATEGORIES.get(name) or _CATEGORIES.get(name[:1])
    if category is None or not name.isalnum():
        raise fail(f"invalid or unsupported character property {match[0]!r}")
    if in_class:
        raise fail(f"character property {match[0]!r} inside a class is not supported")
    return f"(?!{category})[\\s\\S]" if negated else category


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    """Translate ``[...]``, including XPath class subtraction ``[a-z-[aeiou]]``."""
    parts: list[str] = []
    index = start + 1
    if pattern.startswith("^", index):
        parts.append("^")
        index += 1
    while index < len(pattern):
        char = pattern[index]
        if char == "]" and len(parts) > (1 if parts[:1] == ["^"] else 0):
            return "[" + "".join(parts) + "]", index + 1
        if char == "-" and pattern.startswith("[", index + 1):
            subtracted, end = _char_class(pattern, index + 1)
            if not pattern.startswith("]", end):
                raise fail("a class subtraction must end the character class")
            return f"(?:(?!{subtracted})[{''.join(parts)}])", end + 1
        if char == "\\":
            text, index = _escape(pattern, index, in_class=True)
            parts.append(text)
            continue
        if char in "[&~|" or (char == "-" and parts and parts[-1] == "-"):
            parts.append("\\" + char)
        else:
            parts.append(char)
        index += 1
    raise fail("unterminated character class")
