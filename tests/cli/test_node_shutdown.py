"""Nodes and workers under Ctrl-C, SIGTERM and hanging handlers, as real processes.

* Ctrl-C during ``legato serve``: running handlers finish and are committed, the other jobs
  are given back without charging an attempt, and a restart finishes every instance with
  each job run once; a second Ctrl-C exits at once;
* hanging handlers (with a timeout) are abandoned: the other jobs complete, the process
  exits by itself, and ``legato nodes`` counts the abandoned calls;
* isolated handlers run in a child process, killed when it hangs; failures and incidents
  are logged as JSON lines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bpmn_helpers import chain, process, service
from legato import Engine

pytestmark = pytest.mark.slow

HANDLERS = Path(__file__).with_name("handlers") / "slow.py"
LEGATO = str(Path(sys.executable).with_name("legato"))
WAIT = 120.0

ONE_WORK = process(
    '<bpmn:startEvent id="s"/>' + service("t", "work") + '<bpmn:endEvent id="e"/>'
    "" + chain("s", "t", "e")
)


def by_kind(*job_types: str) -> str:
    """A process that runs the service task whose job type is the variable ``kind``."""
    tasks = "".join(service(t, t) for t in job_types)
    flows = "".join(
        f'<bpmn:sequenceFlow id="to_{t}" sourceRef="x" targetRef="{t}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">kind = "{t}"'
        f'</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:endEvent id="end_{t}"/>'
        + chain(t, f"end_{t}", prefix=f"e_{t}")
        for t in job_types
    )
    return process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x"/>'
        + tasks
        + flows
        + chain("s", "x", prefix="a")
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT} s waiting for {what}")
        time.sleep(0.05)


class Setup:
    def __init__(self, tmp_path: Path, model: str, db: str | None = None) -> None:
        self.db = db or f"sqlite:///{tmp_path / 'node.db'}"
        self.log = tmp_path / "calls.log"
        with Engine(self.db) as engine:
            engine.deploy(model)

    def env(self, pause: float = 1.0) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "LEGATO_TEST_LOG": str(self.log),
            "LEGATO_TEST_PAUSE": str(pause),
        }

    def start(self, count: int, **variables: object) -> list[int]:
        with Engine(self.db) as engine:
            return [engine.start("p", variables).key for _ in range(count)]

    def calls(self, what: str) -> list[int]:
        if not self.log.exists():
            return []
        lines = [line.split() for line in self.log.read_text().splitlines()]
        return [int(key) for kind, key in lines if kind == what]

    def node(self, command: str, *options: str, pause: float = 1.0) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [LEGATO, command, "--db", self.db, "--handlers", str(HANDLERS), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(pause),
        )


@contextmanager
def ended_at_last(node: subprocess.Popen[str]) -> Iterator[None]:
    """Whatever happens in the block, the node process does not outlive the test."""
    try:
        yield
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()


def no_failed_attempts(engine: Engine, keys: list[int]) -> bool:
    return not [h for k in keys for h in engine.history(k) if h.event_type == "JobFailed"]


def test_ctrl_c_lets_running_handlers_finish_and_gives_the_rest_back(
    tmp_path: Path, fresh_url: str
) -> None:
    # Given a node with 4 slots running 1 s handlers, 10 instances waiting
    setup = Setup(tmp_path, ONE_WORK, fresh_url)
    keys = setup.start(10)
    node = setup.node("serve", "--concurrency", "4", "--grace", "60")
    with ended_at_last(node):
        wait_until(lambda: len(setup.calls("start")) >= 4, "4 handlers to start")

        # When Ctrl-C arrives while they run
        node.send_signal(signal.SIGINT)
        _, errors = node.communicate(timeout=WAIT)

    # Then the node finished the calls in flight and exited cleanly
    assert node.returncode == 0, errors
    assert "stopping" in errors
    started, ended = setup.calls("start"), setup.calls("end")
    assert len(started) >= 4 and sorted(started) == sorted(ended)
    with Engine(setup.db) as engine:
        # their outcomes were committed; the other jobs were given back as they were
        assert {j.job_key for j in engine.jobs()}.isdisjoint(started)
        waiting = engine.jobs()
        assert len(waiting) == 10 - len(started)
        assert {(j.state, j.worker, j.retries) for j in waiting} == {("activatable", None, 3)}
        assert no_failed_attempts(engine, keys)

    # And a restart finishes every instance, no job run twice
    rest = setup.node("worker", "--until-idle", pause=0)
    _, errors = rest.communicate(timeout=WAIT)
    assert rest.returncode == 0, errors
    with Engine(setup.db) as engine:
        assert all(engine.instance(k).status == "completed" for k in keys)
        assert no_failed_attempts(engine, keys)
    assert sorted(Counter(setup.calls("start")).values()) == [1] * 10


def test_a_second_ctrl_c_exits_at_once_and_gives_the_jobs_back(
    tmp_path: Path, fresh_url: str
) -> None:
    # Given a node whose handlers run for an hour
    setup = Setup(tmp_path, ONE_WORK, fresh_url)
    keys = setup.start(3)
    node = setup.node("serve", "--concurrency", "2", "--grace", "3600", pause=3600)
    with ended_at_last(node):
        wait_until(lambda: len(setup.calls("start")) == 2, "2 handlers to start")
        # When Ctrl-C comes twice
        node.send_signal(signal.SIGINT)
        assert node.stderr is not None
        assert "stopping" in node.stderr.readline()
        node.send_signal(signal.SIGINT)
        node.wait(timeout=WAIT)

    # Then it exited at once (130, as after Ctrl-C), giving back every job uncharged
    assert node.returncode == 130
    with Engine(setup.db) as engine:
        jobs = engine.jobs()
        assert len(jobs) == 3
        assert {(j.state, j.worker, j.retries) for j in jobs} == {("activatable", None, 3)}
        assert no_failed_attempts(engine, keys)


def test_hanging_handlers_do_not_stop_the_others_nor_keep_the_process_alive(
    tmp_path: Path,
) -> None:
    # Given 12 instances whose handler hangs past its timeout and 10 ordinary ones
    setup = Setup(tmp_path, by_kind("hang", "normal"))
    hung = setup.start(12, kind="hang")
    normal = setup.start(10, kind="normal")

    # When a worker with 8 slots runs until idle
    worker = setup.node("worker", "--until-idle", "--concurrency", "8")
    _, errors = worker.communicate(timeout=WAIT)

    # Then it exits by itself, the ordinary instances completed and every hung one became an
    # incident after its three attempts
    assert worker.returncode == 0, errors
    assert "abandoned" in errors
    with Engine(setup.db) as engine:
        assert all(engine.instance(k).status == "completed" for k in normal)
        incidents = engine.incidents()
        assert sorted(i.instance_key for i in incidents) == sorted(hung)
        assert all("did not finish within 0:00:00.500000" in i.message for i in incidents)
    assert len(setup.calls("start")) == 36


def test_legato_nodes_counts_abandoned_calls_and_sigterm_still_stops(tmp_path: Path) -> None:
    setup = Setup(tmp_path, by_kind("hang", "normal"))
    setup.start(2, kind="hang")
    node = setup.node("serve", "--concurrency", "2")

    def abandoned() -> int:
        listed = subprocess.run(
            [LEGATO, "nodes", "--db", setup.db, "--json"], capture_output=True, text=True
        )
        rows = json.loads(listed.stdout) if listed.returncode == 0 else []
        return int(rows[0]["abandoned"]) if rows else 0

    with ended_at_last(node):
        wait_until(lambda: abandoned() >= 2, "the node to report abandoned calls")
        node.send_signal(signal.SIGTERM)
        _, errors = node.communicate(timeout=WAIT)
    assert node.returncode == 0, errors


def test_isolated_handlers_run_in_a_child_process_killed_when_it_hangs(tmp_path: Path) -> None:
    # Given three isolated handlers: one returns, one raises, one hangs past its timeout
    setup = Setup(tmp_path, by_kind("ok-isolated", "fail-isolated", "hang-isolated"))
    [ok] = setup.start(1, kind="ok-isolated")
    [fails] = setup.start(1, kind="fail-isolated", customer="Ada")
    [hangs] = setup.start(1, kind="hang-isolated")

    # When a worker runs them, logging JSON lines
    worker = setup.node("worker", "--until-idle", "--log-json")
    _, errors = worker.communicate(timeout=WAIT)

    # Then the returning one completed from another process
    assert worker.returncode == 0, errors
    with Engine(setup.db) as engine:
        result = engine.instance(ok)
        assert result.status == "completed"
        assert result.variables["pid"] not in (os.getpid(), worker.pid)
        assert result.variables["attempt"] == 1
        # the failing one became an incident with the child's exception
        incidents = {i.instance_key: i for i in engine.incidents()}
        assert incidents[fails].message == "ValueError: no account for Ada"
        # the hanging one was killed at its timeout, each attempt
        assert "did not finish within 0:00:00.500000" in incidents[hangs].message
    # and every failed attempt and incident was logged as a JSON line naming its instance
    lines = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    failures = [(x["instance_key"], x["event"]) for x in lines if "event" in x]
    assert Counter(failures) == {
        (fails, "JobFailed"): 2,
        (fails, "IncidentRaised"): 1,
        (hangs, "JobFailed"): 2,
        (hangs, "IncidentRaised"): 1,
    }
