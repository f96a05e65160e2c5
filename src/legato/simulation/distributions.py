"""Duration distributions of a scenario: what a task takes, how long between two arrivals.

Every distribution samples seconds (a float, never negative) from the simulation's own
``random.Random``, so a run is repeatable for a given seed.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from typing import Protocol


class Distribution(Protocol):
    """Samples a duration in seconds."""

    def sample(self, rng: random.Random) -> float:
        """One duration in seconds (at least 0)."""
        ...

    @property
    def mean(self) -> float:
        """The mean in seconds (for reports and checks)."""
        ...


@dataclass(frozen=True, slots=True)
class Constant:
    """Always the same duration."""

    seconds: float

    def sample(self, rng: random.Random) -> float:
        return self.seconds

    @property
    def mean(self) -> float:
        return self.seconds


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform between ``low`` and ``high`` seconds."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential with the given mean (memoryless: Poisson arrivals)."""

    mean_seconds: float

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_seconds) if self.mean_seconds > 0 else 0.0

    @property
    def mean(self) -> float:
        return self.mean_seconds


@dataclass(frozen=True, slots=True)
class Normal:
    """Normal with a mean and a standard deviation, cut at 0 (a duration is never negative)."""

    mean_seconds: float
    sd: float

    def sample(self, rng: random.Random) -> float:
        return max(rng.gauss(self.mean_seconds, self.sd), 0.0)

    @property
    def mean(self) -> float:
        return self.mean_seconds


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal whose own mean and standard deviation (in seconds) are given."""

    mean_seconds: float
    sd: float

    def sample(self, rng: random.Random) -> float:
        if self.mean_seconds <= 0:
            return 0.0
        sigma2 = math.log(1 + (self.sd / self.mean_seconds) ** 2)
        mu = math.log(self.mean_seconds) - sigma2 / 2
        return rng.lognormvariate(mu, math.sqrt(sigma2))

    @property
    def mean(self) -> float:
        return self.mean_seconds


@dataclass(frozen=True, slots=True)
class Triangular:
    """Triangular between ``low`` and ``high`` with its peak at ``mode``."""

    low: float
    mode: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.triangular(self.low, self.high, self.mode)

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3


@dataclass(frozen=True, slots=True)
class Empirical:
    """Drawn from observed durations (a deployed version's history), each equally likely."""

    observed: tuple[float, ...]

    def sample(self, rng: random.Random) -> float:
        return self.observed[int(rng.random() * len(self.observed))]

    @property
    def mean(self) -> float:
        return sum(self.observed) / len(self.observed)


@dataclass(frozen=True, slots=True)
class WeightedChoice:
    """One of ``values`` with the given weights (branch choices, variable generators)."""

    values: tuple[object, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, values: list[object], weights: list[float]) -> WeightedChoice:
        total = 0.0
        cumulative: list[float] = []
        for weight in weights:
            total += weight
            cumulative.append(total)
        return cls(tuple(values), tuple(c / total for c in cumulative))

    def pick(self, rng: random.Random) -> object:
        """One value."""
        index = bisect.bisect_right(self.cumulative, rng.random())
        return self.values[min(index, len(self.values) - 1)]
