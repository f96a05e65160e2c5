"""Exceptions of the FEEL package (standalone: nothing here imports the rest of Legato).

```
FeelError
├── FeelSyntaxError     the text is not a valid FEEL expression (carries the position)
├── FeelEvaluationError raised inside built-ins; turned into null plus a warning
├── FeelNullError       raised inside built-ins; turned into null plus an error
├── FeelAssertionError  a failed assert(): the whole evaluation fails (null plus a warning)
└── FeelLimitError      an evaluation passed one of its limits: it stops and this is raised
```
"""

from __future__ import annotations

import decimal


class FeelError(Exception):
    """The base of every error the FEEL package raises."""


class FeelSyntaxError(FeelError):
    """The text is not valid FEEL, or is too large or too deeply nested to compile.

    Attributes:
        position: The 0-based offset of the problem in the expression text.
        line: The 1-based line of the problem.
        column: The 1-based column of the problem.
    """

    def __init__(self, message: str, text: str = "", position: int = 0) -> None:
        self.position = position
        self.line = text.count("\n", 0, position) + 1
        self.column = position - (text.rfind("\n", 0, position) + 1) + 1
        self.reason = message
        super().__init__(f"{message} at line {self.line}, column {self.column}")


class FeelEvaluationError(FeelError):
    """A failure while evaluating; FEEL turns it into null plus a warning."""


class FeelNullError(FeelError):
    """A case the FEEL specification defines as an error, such as ``stddev([1])``.

    FEEL turns it into null plus an entry in ``Run.errors`` (not a warning).
    """


class FeelAssertionError(FeelError):
    """A failed ``assert()`` (a Camunda extension): not the call but the whole evaluation
    fails, so it becomes null with this message as a warning (an incident in a process)."""


_LIMITS = {
    "iterations": ("iteration", "loop iterations and function calls"),
    "collection_size": ("collection size", "items"),
    "string_length": ("string length", "characters"),
    "memory": ("memory", "bytes of strings, lists and contexts"),
    "depth": ("nesting", "levels"),
}


class FeelLimitError(FeelError):
    """An evaluation passed one of its limits (see ``FeelLimits``).

    Unlike other failures it does not become null: the evaluation stops and this error is
    raised out of it, so that a runaway expression cannot quietly change a result.

    Attributes:
        limit: The name of the limit passed, a field of ``FeelLimits`` (``"iterations"``,
            ``"collection_size"``, ``"string_length"``, ``"memory"`` or ``"depth"``).
        maximum: The value of that limit.
        expression: The text of the expression evaluated (None until it is known).
        stack: Whether Python's stack ran out before the nesting limit was reached (each
            level of nesting takes several Python frames).
    """

    def __init__(
        self, limit: str, maximum: int, expression: str | None = None, *, stack: bool = False
    ) -> None:
        super().__init__(limit, maximum)
        self.limit = limit
        self.maximum = maximum
        self.expression = expression
        self.stack = stack

    def __str__(self) -> str:
        name, unit = _LIMITS.get(self.limit, (self.limit, ""))
        subject = "the evaluation"
        if self.expression is not None:
            subject = f"expression `{abbreviate(self.expression)}`"
        if self.stack:
            return (
                f"{subject} is nested too deeply: Python's stack ran out before the "
                f"{name} limit ({self.maximum:,} {unit})"
            )
        return f"{subject} exceeded the {name} limit ({self.maximum:,} {unit})"


def abbreviate(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to about ``width`` characters (for messages)."""
    flat = " ".join(text[: width * 4].split())
    if len(flat) <= width and len(text) <= width * 4:
        return flat
    return flat[: width - 4].rstrip() + " ..."


def describe(error: Exception) -> str:
    """A readable message for a failure of an operation (decimal signals have none)."""
    if isinstance(error, decimal.DecimalException):
        for signal, message in _DECIMAL_MESSAGES:
            if isinstance(error, signal):
                return message
    return str(error)


_DECIMAL_MESSAGES: tuple[tuple[type[decimal.DecimalException], str], ...] = (
    (decimal.Overflow, "number overflow: the result is beyond the range of FEEL numbers"),
    (decimal.DivisionByZero, "division by zero"),
    (decimal.InvalidOperation, "invalid arithmetic: the result is not a number"),
    (decimal.DecimalException, "invalid arithmetic"),
)
