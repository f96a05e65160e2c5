"""``legato export xes|csv``: the event log of chosen instances, to a file or standard
output; bad input is one line naming it, and nothing is written."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import Result
from lxml import etree
from typer.testing import CliRunner

from eventlog_helpers import Varied, read_csv, read_xes, run_varied, xes_schema
from legato.cli.app import app
from legato.testing import TestEngine


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Varied]:
    """A database with the varied instances (two orders completed, one cancelled, one
    waiting; two deliveries they called)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'legato.db'}"
    engine = TestEngine(url)
    varied = run_varied(engine)
    engine.close()
    return url, varied


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["export", *args])


def test_xes_to_standard_output_is_a_valid_log(made: tuple[str, Varied]) -> None:
    db, varied = made
    result = run("xes", "--db", db, "--process", "order")
    assert result.exit_code == 0, result.output
    data = result.stdout_bytes
    assert xes_schema().validate(etree.fromstring(data))
    traces = read_xes(data).traces
    assert [int(t.attributes["concept:name"]) for t in traces] == sorted(
        [*varied.completed, varied.terminated, varied.active]
    )
    events = sum(len(t.events) for t in traces)
    assert result.stderr == f"exported 4 cases and {events} events\n"


def test_xes_to_a_compressed_file(made: tuple[str, Varied], tmp_path: Path) -> None:
    db, varied = made
    target = tmp_path / "orders.xes.gz"
    result = run("xes", "--db", db, "-o", str(target), "--status", "completed", "-p", "order")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    log = read_xes(gzip.decompress(target.read_bytes()))
    assert [int(t.attributes["concept:name"]) for t in log.traces] == varied.completed
    assert result.stderr.startswith("exported 2 cases and ") and str(target) in result.stderr


def test_csv_with_every_filter(made: tuple[str, Varied]) -> None:
    db, varied = made
    result = run(
        "csv",
        "--db",
        db,
        "--process",
        "order",
        "--version",
        "1",
        "--status",
        "active",
        "--status",
        "terminated",
        "--since",
        "2025-01-01",
        "--until",
        "2025-01-02T00:00:00+00:00",
        "--activities-only",
        "--activity",
        "id",
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(result.stdout_bytes)
    assert sorted({int(r["case_id"]) for r in rows}) == [varied.terminated, varied.active]
    assert {r["element_id"] for r in rows} == {"stock", "approve"}
    assert {r["activity"] for r in rows} == {"stock", "approve"}
    one = run("csv", "--db", db, "-i", str(varied.completed[1]), "--window", "ended")
    assert {r["case_id"] for r in read_csv(one.stdout_bytes)} == {str(varied.completed[1])}
    assert [r["resource"] for r in read_csv(one.stdout_bytes) if r["resource"]] == ["bob"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--process", "nope"], "error: no process 'nope' is deployed\n"),
        (
            ["--process", "order", "--version", "4"],
            "error: process 'order' has no version 4 (deployed: 1)\n",
        ),
        (["--version", "1"], "error: versions select versions of a process: name the process\n"),
        (["--instance", "424242"], "error: no instance with key 424242\n"),
        (
            ["--status", "running"],
            "error: unknown status 'running': expected one of active, completed, terminated\n",
        ),
        (
            ["--since", "2025-02-01", "--until", "2025-01-01"],
            "error: the time window is empty: since 2025-02-01T00:00:00+00:00 is not before "
            "until 2025-01-01T00:00:00+00:00\n",
        ),
        (
            ["--window", "during"],
            "error: unknown window 'during': expected one of started, ended\n",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    made: tuple[str, Varied], tmp_path: Path, args: list[str], message: str
) -> None:
    db, _ = made
    target = tmp_path / "log.xes"
    result = run("xes", "--db", db, "-o", str(target), *args)
    assert result.exit_code == 1
    assert result.stderr == message
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_time_names_the_option(made: tuple[str, Varied]) -> None:
    db, _ = made
    result = run("csv", "--db", db, "--until", "next tuesday")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --until 'next tuesday' is not an ISO 8601 date or date-time "
        "(e.g. 2024-05-01 or 2024-05-01T08:00:00Z)\n"
    )
