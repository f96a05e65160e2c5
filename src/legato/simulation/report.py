"""What a simulation measured: cycle times, waiting and processing per element, resource
utilisation, queue lengths and SLA breaches (all times in seconds of simulated time)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DurationSummary:
    """A summary of observed durations in seconds."""

    count: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0

    @classmethod
    def of(cls, values: list[float]) -> DurationSummary:
        """The summary of ``values`` (nearest-rank percentiles)."""
        if not values:
            return cls()
        ordered = sorted(values)

        def rank(share: float) -> float:
            return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]

        return cls(
            count=len(ordered),
            mean=sum(ordered) / len(ordered),
            p50=rank(0.50),
            p90=rank(0.90),
            p95=rank(0.95),
            p99=rank(0.99),
            max=ordered[-1],
        )


@dataclass(frozen=True, slots=True)
class ElementReport:
    """One element's work: how often it ran, how long it waited and was worked on."""

    element_id: str
    count: int
    waiting_mean: float
    waiting_max: float
    processing_mean: float
    processing_max: float


@dataclass(frozen=True, slots=True)
class PoolReport:
    """A resource pool: its busy share of the open time, and its queue."""

    name: str
    size: int
    utilisation: float
    """Busy member-seconds over the members' open seconds in the simulated span (0 to 1)."""
    busy_hours: float
    queue_mean: float
    """Time-weighted mean number of items waiting for a member."""
    queue_max: int


@dataclass(frozen=True, slots=True)
class SlaReport:
    """How often an expected duration was exceeded (``process`` or an element id)."""

    target: str
    expected: float
    count: int
    breaches: int

    @property
    def share(self) -> float:
        """Breaches over everything measured (0 when nothing was)."""
        return self.breaches / self.count if self.count else 0.0


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """The result of one simulation run."""

    model: str
    process_id: str
    seed: int
    started_at: str
    """The simulated time of the first arrival's window (ISO 8601)."""
    ended_at: str
    """The simulated time of the last event."""
    instances_started: int
    instances_completed: int
    instances_active: int
    """Still running when nothing was left to simulate (waiting for something no scenario
    gives, such as a message), or at the drain limit."""
    incidents: int
    cycle_time: DurationSummary
    elements: list[ElementReport] = field(default_factory=list)
    pools: list[PoolReport] = field(default_factory=list)
    sla: list[SlaReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-compatible values."""
        data = asdict(self)
        data["sla"] = [{**asdict(s), "share": s.share} for s in self.sla]
        return data


def compare_reports(base: SimulationReport, other: SimulationReport) -> dict[str, Any]:
    """The differences ``other - base`` of the headline figures, element and pool figures."""
    diff: dict[str, Any] = {
        "instances_completed": other.instances_completed - base.instances_completed,
        "cycle_time": {
            name: getattr(other.cycle_time, name) - getattr(base.cycle_time, name)
            for name in ("mean", "p50", "p90", "p95", "p99", "max")
        },
    }
    base_elements = {e.element_id: e for e in base.elements}
    diff["elements"] = {
        e.element_id: {
            "waiting_mean": e.waiting_mean - base_elements[e.element_id].waiting_mean,
            "processing_mean": e.processing_mean - base_elements[e.element_id].processing_mean,
        }
        for e in other.elements
        if e.element_id in base_elements
    }
    base_pools = {p.name: p for p in base.pools}
    diff["pools"] = {
        p.name: {
            "utilisation": p.utilisation - base_pools[p.name].utilisation,
            "queue_mean": p.queue_mean - base_pools[p.name].queue_mean,
            "queue_max": p.queue_max - base_pools[p.name].queue_max,
        }
        for p in other.pools
        if p.name in base_pools
    }
    base_sla = {s.target: s for s in base.sla}
    diff["sla"] = {
        s.target: {
            "breaches": s.breaches - base_sla[s.target].breaches,
            "share": s.share - base_sla[s.target].share,
        }
        for s in other.sla
        if s.target in base_sla
    }
    return diff
