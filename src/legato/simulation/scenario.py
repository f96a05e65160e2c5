"""A what-if scenario, read from TOML: arrivals, task durations, resource pools, branch
probabilities, variable generators, SLAs, a seed.

```toml
seed = 7

[arrivals]
per_day = 1000                 # or per_hour, mean_interarrival = "PT90S", every = "PT90S"
start = 2025-01-06T00:00:00Z
duration = "P365D"

[tasks.manager_approval]
duration = { distribution = "triangular", min = "PT5M", mode = "PT15M", max = "PT1H" }
pool = "managers"

[pools.managers]
size = 3
days = "mon-fri"
hours = "09:00-17:00"
timezone = "Europe/Berlin"

[branches.score_decision]
f_auto = 0.7
f_manual = 0.3

[messages.payment_received]    # a message catch event, receive task or boundary event
delay = { distribution = "exponential", mean = "PT4H" }
```

Every mistake is a :class:`ScenarioError` naming the file and line: bad TOML, an element the
model does not have, a negative or malformed duration, probabilities that do not sum to 1, an
unknown distribution.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from legato.errors import LegatoError
from legato.simulation.calendar import WorkCalendar
from legato.simulation.distributions import (
    Distribution,
    Uniform,
    WeightedChoice,
)
from legato.simulation.toml_lines import KeyLines

DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)
"""Where the virtual clock starts when the scenario does not say (a Monday, midnight UTC)."""
PROBABILITY_TOLERANCE = 1e-6
MODES = ("core", "runtime")
RATES = ("per_day", "per_hour", "mean_interarrival", "every")
"""How arrivals are given: Poisson at a rate per day or hour, or with a mean inter-arrival
time; or ``every``: one exactly every so often."""


class ScenarioError(LegatoError):
    """A scenario file that cannot be simulated; names the file, the line and the reason."""

    def __init__(self, reason: str, file: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        where = (file or "<scenario>") + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class Arrivals:
    """When instances start: inter-arrival times from ``start`` until ``start + horizon``."""

    interarrival: Distribution
    start: datetime
    horizon: timedelta
    calendar: WorkCalendar | None = None
    """Arrivals come only while it is open (inter-arrival times count open time)."""
    limit: int | None = None
    """At most this many instances."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """How long an element's work takes, and the pool whose member does it."""

    duration: Distribution
    pool: str | None = None


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A resource pool: ``size`` members working while ``calendar`` is open (always: None)."""

    name: str
    size: int
    calendar: WorkCalendar | None = None


@dataclass(frozen=True, slots=True)
class HistorySource:
    """A deployed version whose stored history gives durations and branch frequencies."""

    database: str
    process: str
    version: int | None = None


@dataclass(slots=True)
class Scenario:
    """A parsed scenario; ``lines`` places its keys for errors found later."""

    file: str | None
    lines: KeyLines
    arrivals: Arrivals
    seed: int = 0
    process_id: str | None = None
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    pools: dict[str, PoolSpec] = field(default_factory=dict)
    branches: dict[str, dict[str, float]] = field(default_factory=dict)
    messages: dict[str, Distribution] = field(default_factory=dict)
    """By element waiting for a message: how long after it begins to wait the message comes."""
    variables: dict[str, Any] = field(default_factory=dict)
    """Generators by variable name (see :func:`generate_variables`)."""
    sla: dict[str, float] = field(default_factory=dict)
    """Expected seconds: ``process`` for whole instances, else by element id."""
    from_history: HistorySource | None = None
    mode: str = "core"
    """How the engine runs: ``core`` or ``runtime`` (see :mod:`legato.simulation.engines`)."""

    def error(self, reason: str, *path: str) -> ScenarioError:
        """A :class:`ScenarioError` at the line of ``path``."""
        return ScenarioError(reason, self.file, self.lines.line(*path))


@dataclass(frozen=True, slots=True)
class Literal:
    """A generated variable that is always this value."""

    value: object


@dataclass(frozen=True, slots=True)
class IntRange:
    """A generated variable drawn uniformly from the integers ``low`` to ``high``."""

    low: int
    high: int


def generate_variables(generators: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One instance's start variables drawn from the scenario's ``[variables]``."""
    values: dict[str, Any] = {}
    for name, generator in generators.items():
        if isinstance(generator, Literal):
            values[name] = generator.value
        elif isinstance(generator, WeightedChoice):
            values[name] = generator.pick(rng)
        elif isinstance(generator, IntRange):
            values[name] = rng.randint(generator.low, generator.high)
        elif isinstance(generator, Uniform):
            values[name] = generator.sample(rng)
    return values


def clock_time(text: str) -> time:
    if text == "24:00":
        return time(0)
    return time.fromisoformat(text)


def open_seconds_per_day(calendar: WorkCalendar) -> float:
    opens = datetime.combine(date(2000, 1, 1), calendar.opens)
    closes = datetime.combine(date(2000, 1, 1), calendar.closes)
    return max((closes - opens).total_seconds(), 1.0)
