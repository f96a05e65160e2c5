"""Exceptions of the FEEL package (standalone: nothing here imports the rest of Legato).

```
FeelError
├── FeelSyntaxError     the text is not a valid FEEL expression (carries the position)
├── FeelEvaluationError raised inside built-ins; turned into null plus a warning
└── FeelNullError       raised inside built-ins; turned into null plus an error
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
