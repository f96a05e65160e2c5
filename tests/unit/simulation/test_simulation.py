"""Simulations whose figures can be worked out by hand, pools that keep working hours,
branches, timers, seeds, both ways of running the engine, and comparisons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from legato.simulation import (
    ScenarioError,
    compare,
    compare_reports,
    parse_scenario,
    simulate,
)
from legato.simulation.engines import SimulationEngine
from simulation_models import (
    CLERK,
    CLERK_AFTER_AN_HOUR,
    ONBOARDING_BPMN,
    ONBOARDING_SCENARIO,
    ONE_CLERK,
    PAID_OR_REMINDED,
    write,
)

HOUR = 3600.0


@pytest.mark.parametrize("mode", ["core", "runtime"])
def test_one_clerk_queues_exactly(tmp_path: Path, mode: str) -> None:
    # Claims arrive at 0:30, 1:00, 1:30 and 2:00; the clerk takes one hour for each, so they
    # start at 0:30, 1:30, 2:30, 3:30: they wait 0, 0.5, 1 and 1.5 hours.
    model = write(tmp_path, "claims.bpmn", CLERK)
    report = simulate(model, parse_scenario(f'mode = "{mode}"\n' + ONE_CLERK, "s.toml"))
    assert (report.instances_started, report.instances_completed) == (4, 4)
    assert report.ended_at == "2025-01-06T04:30:00+00:00"
    cycle = report.cycle_time
    assert (cycle.mean, cycle.p50, cycle.max) == (1.75 * HOUR, 1.5 * HOUR, 2.5 * HOUR)
    [review] = report.elements
    assert (review.element_id, review.count) == ("review", 4)
    assert (review.waiting_mean, review.waiting_max) == (0.75 * HOUR, 1.5 * HOUR)
    assert (review.processing_mean, review.processing_max) == (HOUR, HOUR)
    [clerks] = report.pools
    # Busy 4 of the 4.5 hours simulated; queued: 1 claim from 1:00 to 2:00, 2 until 2:30,
    # 1 until 3:30: 3 claim-hours over 4.5 hours.
    assert clerks.utilisation == pytest.approx(4 / 4.5)
    assert clerks.queue_mean == pytest.approx(3 / 4.5)
    assert clerks.queue_max == 2
    process, element = report.sla
    assert (process.target, process.count, process.breaches) == ("process", 4, 1)
    assert (element.target, element.breaches, element.share) == ("review", 1, 0.25)


def test_a_pool_works_only_in_its_hours(tmp_path: Path) -> None:
    # Mondays to Fridays, 9 to 5 in Berlin (UTC+1 in January): 8:00 to 16:00 UTC.
    model = write(tmp_path, "claims.bpmn", CLERK)
    hours = '\ndays = "mon-fri"\nhours = "09:00-17:00"\ntimezone = "Europe/Berlin"\n'
    # One claim on Friday at 14:00 UTC: started at once, 2 of its 3 hours done by closing
    # time, the last one on Monday from 8:00 UTC.
    text = (
        ONE_CLERK.replace('every = "PT30M"', 'every = "PT14H"')
        .replace("instances = 4", "instances = 1")
        .replace("2025-01-06", "2025-01-10")
        .replace('duration = "PT1H"', 'duration = "PT3H"')
        .replace("size = 1\n", "size = 1" + hours)
    )
    report = simulate(model, parse_scenario(text))
    assert report.cycle_time.max == (2 * 24 + 19) * HOUR  # Friday 14:00 to Monday 9:00
    assert report.elements[0].waiting_max == 0
    # One arriving on Saturday at 06:00 UTC waits for Monday 08:00 UTC.
    saturday = text.replace("PT14H", "PT30H").replace('"P1D"', '"P3D"')
    report = simulate(model, parse_scenario(saturday))
    assert report.elements[0].waiting_max == (24 + 26) * HOUR
    assert report.cycle_time.max == (24 + 26 + 3) * HOUR


def test_timers_run_on_the_virtual_clock(tmp_path: Path) -> None:
    plain = write(tmp_path, "claims.bpmn", CLERK)
    later = write(tmp_path, "claims-later.bpmn", CLERK_AFTER_AN_HOUR)
    for mode in ("core", "runtime"):
        scenario = write(tmp_path, "s.toml", f'mode = "{mode}"\n' + ONE_CLERK)
        first, second = compare(plain, later, scenario, parallel=mode == "core")
        # Each claim reaches the clerk an hour later: the same queue, an hour longer.
        assert second.cycle_time.mean == first.cycle_time.mean + HOUR
        assert second.elements == first.elements
        difference = compare_reports(first, second)
        assert difference["cycle_time"]["max"] == HOUR
        assert difference["pools"]["clerks"]["queue_max"] == 0


def test_a_seed_repeats_a_run_and_another_seed_does_not() -> None:
    first = simulate(ONBOARDING_BPMN, ONBOARDING_SCENARIO)
    again = simulate(ONBOARDING_BPMN, ONBOARDING_SCENARIO)
    other = simulate(ONBOARDING_BPMN, ONBOARDING_SCENARIO, seed=7)
    assert first.as_dict() == again.as_dict()
    assert other.seed == 7
    assert other.as_dict() != first.as_dict()


def test_the_core_and_the_runtime_give_the_same_report(tmp_path: Path) -> None:
    text = ONBOARDING_SCENARIO.read_text().replace('duration = "P28D"', 'duration = "P7D"')
    core = simulate(ONBOARDING_BPMN, parse_scenario(text))
    runtime = simulate(ONBOARDING_BPMN, parse_scenario('mode = "runtime"\n' + text))
    assert core.instances_completed > 200
    assert core.as_dict() == runtime.as_dict()


def test_branch_probabilities_and_generated_variables(tmp_path: Path) -> None:
    base = ONBOARDING_SCENARIO.read_text().replace('duration = "P28D"', 'duration = "P50D"')
    report = simulate(ONBOARDING_BPMN, parse_scenario(base))
    counts = {e.element_id: e.count for e in report.elements}
    started = report.instances_started
    assert started > 1800
    # 30 % go to a manager, 80 % are approved.
    assert 0.26 < counts["manager_approval"] / started < 0.34
    assert 0.76 < counts["charge_setup_fee"] / started < 0.84
    assert counts["charge_setup_fee"] + counts["send_rejection"] == started
    # Without branch probabilities the model's own conditions decide, on generated scores;
    # a manager who sets no ``approved`` rejects.
    text = base[: base.index("[branches.score_decision]")] + (
        "[variables]\nscore = { choice = [800, 600], weights = [3, 1] }\n"
    )
    report = simulate(ONBOARDING_BPMN, parse_scenario(text))
    counts = {e.element_id: e.count for e in report.elements}
    assert 0.21 < counts["manager_approval"] / report.instances_started < 0.29
    assert counts["send_rejection"] == counts["manager_approval"]


def test_work_waits_for_the_next_working_day(tmp_path: Path) -> None:
    model = write(tmp_path, "claims.bpmn", CLERK)
    text = ONE_CLERK.replace("size = 1\n", 'size = 1\ndays = "sat"\n')
    report = simulate(model, parse_scenario(text))
    # Monday's claims wait for Saturday (the clerk's only working day), after the last
    # arrival, and are all done then: four hours from Saturday 00:00.
    assert (report.instances_completed, report.instances_active) == (4, 0)
    assert report.ended_at == "2025-01-11T04:00:00+00:00"
    assert report.elements[0].waiting_max == (5 * 24 + 3 - 2) * HOUR


@pytest.mark.parametrize("mode", ["core", "runtime"])
def test_messages_arrive_after_their_delay(tmp_path: Path, mode: str) -> None:
    model = write(tmp_path, "invoice.bpmn", PAID_OR_REMINDED)
    text = f"""mode = "{mode}"
[arrivals]
every = "PT1H"
instances = 20
[variables]
invoice = {{ uniform_int = [1, 1000000] }}
[messages.paid]
delay = {{ distribution = "uniform", min = "PT12H", max = "PT36H" }}
[tasks.remind]
duration = "PT10M"
"""
    report = simulate(model, parse_scenario(text))
    elements = {e.element_id: e for e in report.elements}
    assert report.instances_completed == 20
    paid, reminded = elements["paid"].count, elements["remind"].count
    # Paid within the day, else reminded (the message that comes later is not delivered).
    assert paid + reminded == 20 and paid > 5 and reminded > 5
    assert elements["paid"].processing_max <= 24 * HOUR
    assert report.cycle_time.max == pytest.approx(24 * HOUR + 600)


def test_a_message_for_an_element_that_waits_for_none(tmp_path: Path) -> None:
    model = write(tmp_path, "invoice.bpmn", PAID_OR_REMINDED)
    text = '[arrivals]\nevery = "PT1H"\ninstances = 1\n\n[messages.day]\ndelay = "PT1H"\n'
    with pytest.raises(ScenarioError) as caught:
        simulate(model, parse_scenario(text, "s.toml"))
    assert str(caught.value) == "s.toml:5: element 'day' does not wait for a message"


def test_arrivals_keep_their_calendar(tmp_path: Path) -> None:
    model = write(tmp_path, "claims.bpmn", CLERK)
    calendar = '\ncalendar = { days = "mon-fri", hours = "09:00-17:00" }\n'
    text = (
        ONE_CLERK.replace('every = "PT30M"', 'every = "PT1H"' + calendar)
        .replace("instances = 4\n", "")
        .replace('duration = "P1D"', 'duration = "P7D"')
        .replace('duration = "PT1H"', 'duration = "PT30M"')
    )
    report = simulate(model, parse_scenario(text))
    # One an open hour, 10:00 to 17:00, Monday to Friday; none at the weekend.
    assert report.instances_started == 8 * 5
    assert report.elements[0].waiting_max == 0
    assert report.ended_at == "2025-01-10T17:30:00+00:00"


def test_a_runtime_run_keeps_analytics_facts_only_on_a_database(tmp_path: Path) -> None:
    # In memory nothing reads them (the instances go as they end); on a database they are
    # what the dashboard shows of the run.
    start = datetime(2025, 1, 6, tzinfo=UTC)
    kept: dict[str, list[int]] = {}
    for name, url in (("memory", None), ("database", f"sqlite:///{tmp_path / 'sim.db'}")):
        engine = SimulationEngine(start, url)
        try:
            engine.deploy(CLERK)
            key = engine.start("claims").key
            with engine.store.transaction() as tx:
                instances, _, _ = tx.facts_of([key])
            kept[name] = [fact.instance_key for fact in instances]
        finally:
            engine.close()
    assert kept["memory"] == []
    assert kept["database"] == [key]
