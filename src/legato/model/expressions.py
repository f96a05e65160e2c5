"""Expressions in a process model, compiled once at deploy time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from legato import feel
from legato.errors import ExpressionError


@dataclass(frozen=True, slots=True)
class Expression:
    """A FEEL expression, compiled when the model is built.

    Sources written the Zeebe way (``=a > 1``) and plain FEEL (``a > 1``) mean the same.
    """

    source: str
    """The text as written in the model."""
    compiled: feel.CompiledExpression | None = field(compare=False, repr=False)
    """The compiled form (None for a constant); evaluation never re-parses."""
    constant: Any = field(default=None, compare=False, repr=False)
    """The value of a constant (a static attribute such as a Zeebe job type ``noop``)."""

    @classmethod
    def static(cls, value: Any, source: str | None = None) -> Expression:
        """A constant: evaluating it gives ``value``."""
        return cls(source if source is not None else str(value), None, value)

    @classmethod
    def from_attribute(cls, text: str) -> Expression:
        """An attribute the Zeebe way: FEEL when it starts with ``=``, else the text itself."""
        stripped = text.strip()
        if stripped.startswith("="):
            return cls.compile(stripped)
        return cls.static(stripped, text)

    @property
    def is_static(self) -> bool:
        """True for a constant."""
        return self.compiled is None

    @classmethod
    def compile(cls, source: str) -> Expression:
        """Compile ``source``; raise :class:`ExpressionError` naming the position if it fails."""
        text = source.strip()
        if text.startswith("="):
            text = text[1:]
        try:
            compiled = feel.compile(text)
        except feel.FeelSyntaxError as exc:
            raise ExpressionError(f"invalid FEEL expression {source!r}: {exc}") from exc
        return cls(source, compiled)

    def evaluate(self, variables: Mapping[str, Any], now: datetime | None = None) -> Any:
        """Evaluate strictly: a result of null caused by an error raises ExpressionError.

        FEEL turns errors into null with a warning; in a process a failing expression must
        become an incident, so the warnings are turned back into an error here, as is an
        evaluation that passed a limit of FEEL (see :class:`legato.feel.FeelLimits`). ``now``
        is the instant FEEL's ``now()`` and ``today()`` see (the engine's clock).
        """
        if self.compiled is None:
            return self.constant
        try:
            result = self.compiled.evaluate_detailed(variables, now=now)
        except feel.FeelLimitError as exc:
            raise ExpressionError(str(exc)) from exc
        if result.value is None and result.warnings:
            raise ExpressionError(
                f"failed to evaluate expression {self.source!r}: {'; '.join(result.warnings)}"
            )
        return result.value

    def evaluate_boolean(self, variables: Mapping[str, Any], now: datetime | None = None) -> bool:
        """Evaluate a condition; anything but a boolean raises ExpressionError."""
        value = self.evaluate(variables, now)
        if not isinstance(value, bool):
            raise ExpressionError(
                f"expected a boolean from condition {self.source!r}, got {_describe(value)}"
            )
        return value

    def __str__(self) -> str:
        return self.source


def _describe(value: object) -> str:
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"


_SECRET_REFERENCE = re.compile(r"=?\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*")


def secret_name(text: str) -> str | None:
    """The name of the secret ``text`` refers to (``secrets.CRM_TOKEN``, or ``=secrets.…``
    written the Zeebe way), None when it refers to none.

    A job header or an input mapping written so is resolved from the engine's secrets
    provider when a handler runs, and never evaluated into a variable.
    """
    if "secrets." not in text:  # the common case, on the path of every mapping
        return None
    found = _SECRET_REFERENCE.fullmatch(text.strip())
    return found.group(1) if found else None


@dataclass(frozen=True, slots=True)
class VariableMapping:
    """An input or output mapping: evaluate ``source``, assign it to ``target``."""

    source: Expression
    """The expression whose value is assigned."""
    target: str
    """The variable name; a dotted path (``customer.name``) writes into a context."""

    @property
    def secret(self) -> str | None:
        """The secret the source refers to (see :func:`secret_name`): such a mapping
        writes no variable, the handler of the job gets the secret's value instead."""
        return secret_name(self.source.source)
