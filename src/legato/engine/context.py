"""What the pure engine is given from outside: time, keys, randomness and the deployed models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from legato.dmn import DecisionModel
from legato.engine.plan import ExecutionPlan, compile_plan
from legato.feel import FeelLimits
from legato.model import ProcessDefinition, RetryPolicy


@dataclass(frozen=True, slots=True)
class DeployedProcess:
    """One deployed version of a process."""

    definition_key: int
    process_id: str
    version: int
    process: ProcessDefinition = field(repr=False)
    plan: ExecutionPlan = field(init=False, repr=False, compare=False)
    """The process compiled for the step core, once per version."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", compile_plan(self.process))


@dataclass(frozen=True, slots=True)
class DeployedDecision:
    """One deployed version of a DMN decision (with the model it belongs to)."""

    definition_key: int
    decision_id: str
    version: int
    model: DecisionModel = field(repr=False)


class DefinitionLookup(Protocol):
    """Finds deployed processes (for starts and call activities) and decisions."""

    def get(self, definition_key: int) -> DeployedProcess:
        """A version by key (KeyError if unknown)."""

    def latest(self, process_id: str) -> DeployedProcess | None:
        """The newest version of a process, if any."""

    def decision(self, decision_id: str) -> DeployedDecision | None:
        """The newest version of a decision (by id or name), if any."""

    def latest_form_key(
        self, form_id: str, version_tag: str | None = None, version: int | None = None
    ) -> int | None:
        """The key of the newest deployed version of a Camunda form (with this version tag,
        or this version number, when one is given), if any."""


@dataclass(slots=True)
class EngineContext:
    """Injected into every step so the core has no clock, no key source and no randomness."""

    now: datetime
    """The time of this step (aware UTC)."""
    new_key: Callable[[], int]
    """A source of fresh keys, unique across the database."""
    definitions: DefinitionLookup
    random: Callable[[], float] = field(default=lambda: 0.5)
    """Uniform in [0, 1); used for retry jitter."""
    default_retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    feel_limits: FeelLimits | None = None
    """The limits of the FEEL evaluations of the step (FEEL's defaults when None)."""
