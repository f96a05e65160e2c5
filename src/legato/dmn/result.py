"""What an evaluation returns: the value, the rules that matched and the errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule of a decision table that matched during an evaluation."""

    table: str
    """The decision or business knowledge model whose table it is (its name)."""
    rule_id: str | None
    """The rule's id from the XML."""
    index: int
    """The 1-based position of the rule in its table."""
    annotations: tuple[str, ...] = ()
    """The rule's annotations."""


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """The outcome of evaluating a decision, a decision service or a knowledge model.

    Errors never raise: a failing part (a violated hit policy, a value of the wrong type, a
    FEEL error) makes its value null and adds a message to :attr:`errors`.
    """

    name: str
    """The name of what was evaluated."""
    value: Any
    """The result (FEEL values: ``Decimal``, ``str``, ``bool``, dates, lists, dicts, None)."""
    errors: tuple[str, ...] = ()
    """Why parts of the evaluation failed, in order; empty when nothing failed."""
    matched_rules: tuple[RuleMatch, ...] = ()
    """The decision table rules that matched, in evaluation order (all tables involved)."""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    """The value of every decision evaluated along the way, by name."""

    @property
    def ok(self) -> bool:
        """Whether the evaluation had no error."""
        return not self.errors
