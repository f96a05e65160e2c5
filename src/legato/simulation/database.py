"""A simulation on a database: its instances, their history and the analytics facts are
stored there, stamped with the virtual clock's times, for ``legato serve --http --db URL`` to
show (the process's dashboard, the analytics API, ``/metrics``).

```python
from legato.simulation import simulate

report = simulate("onboarding.bpmn", "scenario.toml", db="sqlite:///simulated.db")
```

It runs in ``runtime`` mode (the store is the engine's). A database that already holds
instances of the simulated process is refused unless ``append`` is asked for: the dashboard
would mix them with the run's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from legato.errors import LegatoError
from legato.simulation.engines import SimulationEngine
from legato.simulation.report import SimulationReport


class SimulationDatabaseError(LegatoError):
    """The database cannot take the simulation's instances (the message says why)."""


def open_database(url: str, start: datetime, process_id: str, append: bool) -> SimulationEngine:
    """The simulation's engine on the database at ``url``, its clock at ``start``.

    Raises:
        SimulationDatabaseError: the database holds instances of ``process_id`` and
            ``append`` is false.
        StoreError: the database cannot be opened.
    """
    engine = SimulationEngine(start, url)
    if not append and engine.instances(process_id=process_id, limit=1):
        engine.close()
        raise SimulationDatabaseError(
            f"the database already holds instances of process '{process_id}': simulate "
            "into another database, or add to them with --append (append=True in Python)"
        )
    return engine


def dashboard_path(report: SimulationReport) -> str:
    """Where the web app shows the simulated process's dashboard: over the simulated time,
    in whole hours (the analytics rollups are hourly)."""
    since = (
        datetime.fromisoformat(report.started_at)
        .astimezone(UTC)
        .replace(minute=0, second=0, microsecond=0)
    )
    until = (
        datetime.fromisoformat(report.ended_at)
        .astimezone(UTC)
        .replace(minute=0, second=0, microsecond=0)
    )
    until += timedelta(hours=1)
    query = urlencode({"window": "custom", "since": _iso(since), "until": _iso(until)})
    return f"/cockpit/processes/{quote(report.process_id, safe='')}/dashboard?{query}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
