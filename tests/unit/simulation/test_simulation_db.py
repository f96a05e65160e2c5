"""A simulation on a database (``db=``, SQLite and PostgreSQL): its instances and analytics
facts stay there, on the virtual clock's days, for the dashboards; a database already holding
the process's instances is refused unless appended to."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

import legato
from legato.analytics.dashboard import ProcessReport, process_report
from legato.simulation import (
    SimulationDatabaseError,
    SimulationReport,
    dashboard_path,
    parse_scenario,
    simulate,
)
from simulation_models import ONBOARDING_BPMN, ONBOARDING_SCENARIO, write


def short_onboarding(directory: Path) -> Path:
    """The onboarding example's scenario, three days long and at most 60 instances."""
    text = ONBOARDING_SCENARIO.read_text().replace(
        'duration = "P28D"', 'duration = "P3D"\ninstances = 60'
    )
    assert "instances = 60" in text
    return write(directory, "scenario.toml", text)


def dashboard(url: str, report: SimulationReport) -> ProcessReport:
    since = datetime.fromisoformat(report.started_at)
    until = datetime.fromisoformat(report.ended_at) + timedelta(hours=1)
    with legato.Engine(url) as engine:
        return process_report(engine, report.process_id, since=since, until=until)


def test_the_dashboard_shows_the_simulated_instances(tmp_path: Path, fresh_url: str) -> None:
    url = fresh_url
    report = simulate(ONBOARDING_BPMN, short_onboarding(tmp_path), db=url)
    assert report.instances_started == 60
    assert report.instances_completed > 0

    shown = dashboard(url, report)
    assert shown.cycle_time.count == report.instances_completed
    assert sum(b.completed for b in shown.throughput) == report.instances_completed
    assert shown.elements, "no element ranking"
    assert shown.elements[0].share > 0
    assert {e.element_id for e in shown.elements} >= {"manager_approval", "provision"}
    with legato.Engine(url) as engine:
        stored = engine.instances(process_id="onboarding", status="completed", limit=1000)
    assert len(stored) == report.instances_completed
    # Stamped with the virtual clock: the scenario's days, not today.
    start = datetime.fromisoformat(report.started_at)
    assert all(start <= i.started_at <= start + timedelta(days=3) for i in stored)


def test_the_same_figures_as_in_memory(tmp_path: Path) -> None:
    scenario = short_onboarding(tmp_path)
    in_memory = simulate(
        ONBOARDING_BPMN, parse_scenario('mode = "runtime"\n' + scenario.read_text(), "s.toml")
    )
    on_disk = simulate(ONBOARDING_BPMN, scenario, db=f"sqlite:///{tmp_path / 'sim.db'}")
    assert on_disk.as_dict() == in_memory.as_dict()


def test_instances_already_there_are_refused_unless_appended(
    tmp_path: Path, fresh_url: str
) -> None:
    url = fresh_url
    scenario = short_onboarding(tmp_path)
    first = simulate(ONBOARDING_BPMN, scenario, db=url)
    with pytest.raises(SimulationDatabaseError, match="instances of process 'onboarding'"):
        simulate(ONBOARDING_BPMN, scenario, db=url)
    assert dashboard(url, first).cycle_time.count == first.instances_completed

    second = simulate(ONBOARDING_BPMN, scenario, db=url, append=True)
    shown = dashboard(url, second)
    assert shown.cycle_time.count == first.instances_completed + second.instances_completed


def test_the_dashboard_path_covers_the_simulated_hours(tmp_path: Path) -> None:
    report = simulate(ONBOARDING_BPMN, short_onboarding(tmp_path))
    assert report.ended_at.startswith("2025-01-07T")
    path = dashboard_path(report)
    assert path.startswith("/cockpit/processes/onboarding/dashboard?window=custom&")
    assert "since=2025-01-06T00%3A00%3A00Z" in path
    hour = datetime.fromisoformat(report.ended_at).hour + 1
    assert f"until=2025-01-07T{hour:02d}%3A00%3A00Z" in path
