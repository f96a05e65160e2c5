"""What-if simulation on the real engine: ``legato simulate model.bpmn --scenario s.toml``.

Generated instances run through the engine on a virtual clock (the testing kit's), with the
arrivals, task durations, resource pools and branch probabilities of a scenario file (see
:mod:`legato.simulation.scenario`); the report gives cycle times, waiting and processing time
per element, resource utilisation, queue lengths and SLA breaches.

```python
from legato.simulation import simulate

report = simulate("onboarding.bpmn", "scenario.toml")
print(report.cycle_time.p95, report.pools[0].utilisation)
```

Given ``db=URL`` the run's instances and analytics facts stay in that database, for the web
app's dashboards (:mod:`legato.simulation.database`).
"""

from legato.simulation.database import SimulationDatabaseError, dashboard_path
from legato.simulation.reader import load_scenario, parse_scenario
from legato.simulation.report import (
    DurationSummary,
    ElementReport,
    PoolReport,
    SimulationReport,
    SlaReport,
    compare_reports,
)
from legato.simulation.run import compare, simulate
from legato.simulation.scenario import Scenario, ScenarioError

__all__ = [
    "DurationSummary",
    "ElementReport",
    "PoolReport",
    "Scenario",
    "ScenarioError",
    "SimulationDatabaseError",
    "SimulationReport",
    "SlaReport",
    "compare",
    "compare_reports",
    "dashboard_path",
    "load_scenario",
    "parse_scenario",
    "simulate",
]
