"""``legato simulate``: the report as tables or JSON, a comparison, and a scenario mistake as
one line naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from legato.cli.app import app
from simulation_models import CLERK, CLERK_AFTER_AN_HOUR, ONBOARDING_BPMN, ONE_CLERK, write


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["simulate", *(str(a) for a in args)])


def test_the_example_as_tables(tmp_path: Path) -> None:
    scenario = ONBOARDING_BPMN.parent / "scenario.toml"
    result = run(ONBOARDING_BPMN, "--scenario", scenario, "--seed", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "(process onboarding, seed 3)" in out
    for text in ("cycle time", "manager_approval", "managers", "utilisation", "SLA"):
        assert text in out


def test_json_and_a_comparison(tmp_path: Path) -> None:
    plain = write(tmp_path, "claims.bpmn", CLERK)
    later = write(tmp_path, "later.bpmn", CLERK_AFTER_AN_HOUR)
    scenario = write(tmp_path, "s.toml", ONE_CLERK)
    result = run(plain, "-s", scenario, "--json")
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)["reports"]
    assert report["instances_completed"] == 4
    assert report["cycle_time"]["mean"] == 1.75 * 3600
    assert report["pools"][0]["queue_max"] == 2
    assert report["sla"][0] == {
        "target": "process", "expected": 7200.0, "count": 4, "breaches": 1, "share": 0.25
    }  # fmt: skip

    result = run(plain, "-s", scenario, "--compare", later, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["model"] for r in data["reports"]] == [str(plain), str(later)]
    assert data["difference"]["cycle_time"]["mean"] == 3600.0

    result = run(plain, "-s", scenario, "--compare", later)
    assert result.exit_code == 0, result.output
    assert "difference (second - first)" in result.stdout
    assert "+1h 00m" in result.stdout


def test_a_scenario_mistake_is_one_line(tmp_path: Path) -> None:
    plain = write(tmp_path, "claims.bpmn", CLERK)
    scenario = write(tmp_path, "s.toml", ONE_CLERK.replace('"PT1H"', '"-PT1H"'))
    result = run(plain, "-s", scenario)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {scenario}:10: 'tasks.review.duration': negative duration '-PT1H'\n"
    )


def test_a_run_into_a_database_says_where_its_dashboard_is(tmp_path: Path) -> None:
    model = write(tmp_path, "claims.bpmn", CLERK)
    scenario = write(tmp_path, "s.toml", ONE_CLERK)
    url = f"sqlite:///{tmp_path / 'simulated.db'}"
    result = run(model, "-s", scenario, "--db", url)
    assert result.exit_code == 0, result.output
    dashboard = (
        "/cockpit/processes/claims/dashboard?window=custom"
        "&since=2025-01-06T00%3A00%3A00Z&until=2025-01-06T05%3A00%3A00Z"
    )
    assert f"open the dashboard of claims at {dashboard}" in result.stdout
    assert f"`legato serve --http --db {url}`" in result.stdout

    result = run(model, "-s", scenario, "--db", url)
    assert result.exit_code == 1
    assert "already holds instances of process 'claims'" in result.stderr
    assert "--append" in result.stderr

    result = run(model, "-s", scenario, "--db", url, "--append", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dashboard"] == dashboard
    assert data["reports"][0]["instances_completed"] == 4


def test_db_is_refused_with_compare_and_append_without_db(tmp_path: Path) -> None:
    model = write(tmp_path, "claims.bpmn", CLERK)
    later = write(tmp_path, "later.bpmn", CLERK_AFTER_AN_HOUR)
    scenario = write(tmp_path, "s.toml", ONE_CLERK)
    url = f"sqlite:///{tmp_path / 'simulated.db'}"
    result = run(model, "-s", scenario, "--compare", later, "--db", url)
    assert result.exit_code == 2
    assert "--db cannot be used with --compare" in result.stderr
    assert "could not tell them apart" in result.stderr
    assert not (tmp_path / "simulated.db").exists()

    result = run(model, "-s", scenario, "--append")
    assert result.exit_code == 2
    assert "--append needs --db" in result.stderr
