"""The FEEL built-in function library (DMN 1.5, chapter 10.3.4) and Camunda's extensions."""

from __future__ import annotations

from legato.feel.builtins import (
    camunda,
    contexts,
    conversion,
    dates,
    lists,
    logic,
    numbers,
    ranges,
    strings,
)
from legato.feel.builtins.registry import REGISTRY, BuiltinFunction

BUILTINS: dict[str, BuiltinFunction] = REGISTRY
"""Every built-in function by its FEEL name."""

__all__ = [
    "BUILTINS",
    "BuiltinFunction",
    "camunda",
    "contexts",
    "conversion",
    "dates",
    "lists",
    "logic",
    "numbers",
    "ranges",
    "strings",
]
