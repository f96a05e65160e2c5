"""``from_history``: durations and branch frequencies of a deployed version's history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from legato.simulation import ScenarioError, parse_scenario, simulate
from legato.simulation.distributions import Empirical
from legato.simulation.history import apply_history
from legato.simulation.model import prepare_model
from legato.testing import TestEngine
from simulation_models import ONBOARDING_BPMN

JOB_TYPES = ("prepare-template", "charge-fee", "create-account", "send-email", "provision")


def run_history(url: str) -> None:
    """Four onboardings on SQLite: three scores above 700, one for a manager who takes two
    hours and rejects it; the credit check takes 30 seconds each time."""
    engine = TestEngine(url)
    engine.deploy(ONBOARDING_BPMN)
    for job_type in JOB_TYPES:
        engine.task(job_type)(lambda job: {})

    def credit_check(job: object) -> dict[str, object]:
        engine.clock.sleep(30)
        return {}

    engine.task("credit-check")(credit_check)
    for score in (800, 810, 820, 600):
        engine.start("onboarding", {"score": score, "customer": f"c{score}"})
        engine.run_until_idle()
    [task] = engine.user_tasks()
    engine.clock.advance(timedelta(hours=2))
    engine.complete_user_task(task.user_task_key, {"approved": False})
    engine.run_until_idle()
    engine.close()


def scenario_text(url: str) -> str:
    return (
        f'from_history = {{ database = "{url}", process = "onboarding", version = 1 }}\n'
        'seed = 5\n[arrivals]\nper_day = 200\nduration = "P10D"\n'
        '[tasks.provision]\nduration = "PT1H"\n'
    )


def test_durations_and_branches_come_from_the_history(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    run_history(url)
    scenario = parse_scenario(scenario_text(url))
    prepared = apply_history(scenario, prepare_model(ONBOARDING_BPMN, scenario).process)
    assert prepared.branches["score_decision"] == {"f_auto": 0.75, "f_manual": 0.25}
    assert prepared.branches["approved_decision"] == {"f_approved": 0.75, "f_rejected": 0.25}
    approval = prepared.tasks["manager_approval"].duration
    assert isinstance(approval, Empirical) and approval.observed == (7200.0,)
    credit = prepared.tasks["credit_check"].duration
    assert isinstance(credit, Empirical) and set(credit.observed) == {30.0}
    # What the scenario says itself is kept.
    assert prepared.tasks["provision"].duration.mean == 3600.0

    report = simulate(ONBOARDING_BPMN, scenario)
    elements = {e.element_id: e for e in report.elements}
    assert elements["manager_approval"].processing_mean == pytest.approx(7200.0)
    assert elements["credit_check"].processing_max == pytest.approx(30.0)
    share = elements["manager_approval"].count / report.instances_started
    assert 0.2 < share < 0.3


def test_an_unknown_process_in_the_history_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    run_history(url)
    text = scenario_text(url).replace('process = "onboarding"', 'process = "offboarding"')
    with pytest.raises(ScenarioError, match=r"^s\.toml:1: from_history: .*offboarding"):
        simulate(ONBOARDING_BPMN, parse_scenario(text, "s.toml"))
