"""A scenario with a mistake is refused with the file, the line and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.simulation import ScenarioError, load_scenario, parse_scenario, simulate
from simulation_models import ONBOARDING_BPMN, ONBOARDING_SCENARIO, write

BASE = """seed = 3
[arrivals]
per_day = 10
duration = "P1D"
"""


def refusal(text: str, tmp_path: Path, model: Path = ONBOARDING_BPMN) -> ScenarioError:
    scenario = write(tmp_path, "scenario.toml", text)
    with pytest.raises(ScenarioError) as caught:
        simulate(model, scenario)
    error = caught.value
    assert error.file == str(scenario)
    assert str(error).startswith(f"{scenario}:{error.line}: ")
    return error


def test_the_example_scenario_reads() -> None:
    scenario = load_scenario(ONBOARDING_SCENARIO)
    assert scenario.seed == 42
    assert scenario.pools["managers"].size == 3
    assert scenario.tasks["manager_approval"].pool == "managers"
    assert scenario.branches["score_decision"] == {"f_auto": 0.7, "f_manual": 0.3}
    assert scenario.sla == {"process": 86400.0, "manager_approval": 28800.0}
    assert scenario.arrivals.interarrival.mean == pytest.approx(86400 / 40)


def test_bad_toml_names_its_line(tmp_path: Path) -> None:
    error = refusal(BASE + "[tasks.credit_check]\nduration = \n", tmp_path)
    assert error.line == 6
    assert "not valid TOML" in error.reason


def test_an_unknown_element(tmp_path: Path) -> None:
    error = refusal(BASE + '\n[tasks.credit_chek]\nduration = "PT1M"\n', tmp_path)
    assert error.line == 6
    assert "unknown element 'credit_chek'" in error.reason


def test_an_element_that_takes_no_duration(tmp_path: Path) -> None:
    error = refusal(BASE + '[tasks.fork]\nduration = "PT1M"\n', tmp_path)
    assert error.line == 5
    assert "parallelGateway" in error.reason


def test_a_negative_duration(tmp_path: Path) -> None:
    text = BASE + '[tasks.credit_check]\npool = "x"\n' + 'duration = "-PT5M"\n'
    error = refusal(text.replace('pool = "x"\n', ""), tmp_path)
    assert error.line == 6
    assert "negative duration '-PT5M'" in error.reason


def test_a_malformed_duration_in_a_distribution(tmp_path: Path) -> None:
    text = (
        BASE + "[tasks.credit_check]\n\nduration = { distribution = 'exponential', mean = '5m' }\n"
    )
    error = refusal(text, tmp_path)
    assert error.line == 7
    assert "malformed duration '5m'" in error.reason


def test_probabilities_that_do_not_sum_to_one(tmp_path: Path) -> None:
    error = refusal(BASE + "[branches.score_decision]\nf_auto = 0.7\nf_manual = 0.2\n", tmp_path)
    assert error.line == 5
    assert "sum to 0.9, not 1" in error.reason


def test_a_flow_that_does_not_leave_the_gateway(tmp_path: Path) -> None:
    text = BASE + "[branches.score_decision]\nf_auto = 0.5\nf_approved = 0.5\n"
    error = refusal(text, tmp_path)
    assert error.line == 7
    assert "'f_approved' is not an outgoing flow of gateway 'score_decision'" in error.reason


def test_an_unknown_distribution(tmp_path: Path) -> None:
    text = BASE + "[tasks.credit_check.duration]\ndistribution = 'weibull'\nmean = 'PT1M'\n"
    error = refusal(text, tmp_path)
    assert error.line == 5
    assert "unknown distribution 'weibull'" in error.reason


def test_an_unknown_pool_and_an_unknown_key(tmp_path: Path) -> None:
    error = refusal(BASE + '[tasks.manager_approval]\npool = "clerks"\n', tmp_path)
    assert (error.line, "unknown pool 'clerks'" in error.reason) == (6, True)
    error = refusal(BASE.replace("per_day", "rate"), tmp_path)
    assert (error.line, "unknown key 'rate'" in error.reason) == (3, True)


def test_an_unknown_sla_element_and_a_bad_time_zone(tmp_path: Path) -> None:
    error = refusal(BASE + '[sla]\nprocess = "P1D"\napproval = "PT1H"\n', tmp_path)
    assert (error.line, "unknown element 'approval'" in error.reason) == (7, True)
    text = BASE + '[pools.managers]\nsize = 2\nhours = "09:00-17:00"\ntimezone = "Mars/Base"\n'
    error = refusal(text, tmp_path)
    assert (error.line, "unknown time zone 'Mars/Base'" in error.reason) == (8, True)


def test_arrivals_are_required_and_a_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no \\[arrivals\\] table"):
        parse_scenario("seed = 1\n", "s.toml")
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "missing.toml")


def test_dotted_keys_have_their_lines(tmp_path: Path) -> None:
    text = 'tasks.credit_check.duration = "PT1M"\ntasks.provision.duration = "P-1D"\n' + BASE
    error = refusal(text, tmp_path)
    assert error.line == 2
    assert "'tasks.provision.duration'" in error.reason


def test_a_file_with_two_processes_needs_a_process_id(tmp_path: Path) -> None:
    two = ONBOARDING_BPMN.read_text().replace(
        "</bpmn:definitions>",
        '<bpmn:process id="other" isExecutable="true"><bpmn:startEvent id="o"/>'
        '<bpmn:endEvent id="oe"/><bpmn:sequenceFlow id="of" sourceRef="o" targetRef="oe"/>'
        "</bpmn:process></bpmn:definitions>",
    )
    model = write(tmp_path, "two.bpmn", two)
    with pytest.raises(ScenarioError, match=r"2 executable processes \['onboarding', 'other'\]"):
        simulate(model, parse_scenario(BASE))
    error = refusal('process = "offboarding"\n' + BASE, tmp_path, model)
    assert (error.line, "no executable process 'offboarding'" in error.reason) == (1, True)
    report = simulate(model, parse_scenario('process = "onboarding"\n' + BASE))
    assert report.process_id == "onboarding"
