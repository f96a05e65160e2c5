"""Several node processes sharing jobs, on SQLite and on PostgreSQL.

* two and three nodes with 0.3 s handlers under a 1 s timeout: every job runs once (handler
  calls are counted from the workers' logs) and the work is shared;
* a node killed with SIGKILL while its handlers run: its jobs are taken over when their lease
  runs out (long before the dead-node sweep could), and only the calls that were in flight
  run twice.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bpmn_helpers import chain, process, service
from legato import Engine

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("lease_worker.py")
MODEL = process(
    '<bpmn:startEvent id="s"/>'
    + service("hold", "hold")
    + service("work", "work")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "hold", "work", "e")
)
WAIT = 120.0
"""The longest a test waits for an observable condition."""


class Nodes:
    """Node processes on one database, each appending its handler calls to one log."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.log = directory / "calls.log"
        self.gate = directory / "gate"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *options: str) -> None:
        node = subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                self.url,
                name,
                str(self.log),
                "--gate",
                str(self.gate),
                *options,
            ],
            stdout=subprocess.PIPE,
        )
        self.processes[name] = node
        assert node.stdout is not None
        assert node.stdout.readline().strip() == b"serving", f"node {name} did not start"

    def calls(self, what: str) -> list[tuple[int, str, str]]:
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text().splitlines():
            kind, key, job_type, node = line.split()
            if kind == what:
                found.append((int(key), job_type, node))
        return found

    def stop_all(self) -> dict[str, int]:
        for node in self.processes.values():
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        return {name: node.wait(timeout=60) for name, node in self.processes.items()}


@pytest.fixture
def nodes(fresh_url: str, tmp_path: Path) -> Iterator[Nodes]:
    started = Nodes(fresh_url, tmp_path)
    yield started
    for node in started.processes.values():
        if node.poll() is None:
            node.kill()
            node.wait()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT} s waiting for {what}")
        time.sleep(0.05)


def held_by(client: Engine) -> Counter[str]:
    return Counter(j.worker or "" for j in client.jobs(state="activated"))


@pytest.mark.parametrize("count", [2, 3])
def test_every_job_runs_once_and_the_nodes_share_the_work(nodes: Nodes, count: int) -> None:
    # Given `count` nodes with 4 slots each, and 40 instances (80 jobs)
    client = Engine(nodes.url)
    client.deploy(MODEL)
    names = [f"n{i}" for i in range(count)]
    for name in names:
        nodes.start(name, "--concurrency", "4", "--pause", "0.3", "--timeout", "1")
    keys = [client.start("p").key for _ in range(40)]

    # When each node fills its slots with `hold` jobs (they wait for the gate): no node
    # takes more than it can start, so every node gets some
    wait_until(lambda: held_by(client) == {n: 4 for n in names}, "every node to hold 4 jobs")
    nodes.gate.touch()

    # Then every instance completes, each job's handler ran exactly once, on some node
    wait_until(
        lambda: all(client.instance(k).status == "completed" for k in keys),
        "every instance to complete",
    )
    assert set(nodes.stop_all().values()) == {0}
    started = nodes.calls("start")
    assert len(started) == 80
    assert set(Counter(key for key, _, _ in started).values()) == {1}
    assert Counter(job_type for _, job_type, _ in started) == {"hold": 40, "work": 40}
    assert {node for _, _, node in started} == set(names)
    assert not client.incidents()
    failed = [h for k in keys for h in client.history(k) if h.event_type == "JobFailed"]
    assert failed == []


def test_a_killed_nodes_jobs_are_taken_over_when_their_lease_runs_out(nodes: Nodes) -> None:
    # Given a node with a 2 s lease holding 3 jobs whose handlers wait (the dead-node sweep
    # would take a minute: the takeover can only come from the lease)
    client = Engine(nodes.url)
    client.deploy(MODEL)
    nodes.start("n1", "--concurrency", "3", "--lease", "2", "--node-timeout", "60")
    keys = [client.start("p").key for _ in range(10)]
    wait_until(lambda: len(nodes.calls("start")) == 3, "n1 to start 3 handlers")
    in_flight = {key for key, _, _ in nodes.calls("start")}

    # When it is killed, and another node serves
    nodes.processes["n1"].send_signal(signal.SIGKILL)
    nodes.processes["n1"].wait(timeout=30)
    killed_at = time.monotonic()
    nodes.gate.touch()
    nodes.start("n2", "--concurrency", "3", "--lease", "2", "--pause", "0")

    # Then every instance completes, within far less than the sweep's minute
    wait_until(
        lambda: all(client.instance(k).status == "completed" for k in keys),
        "every instance to complete",
    )
    assert time.monotonic() - killed_at < 60
    assert set(nodes.stop_all().values()) == {-signal.SIGKILL, 0}
    # and only the calls in flight on n1 ran twice
    runs = Counter(key for key, _, _ in nodes.calls("start"))
    assert {key for key, n in runs.items() if n == 2} == in_flight
    assert set(runs.values()) == {1, 2} and len(runs) == 20
    assert {n.node_id: n.status for n in client.nodes()}["n1"] == "running"  # never swept


def test_long_handlers_keep_their_jobs_by_extending_their_leases(nodes: Nodes) -> None:
    # Given two nodes that lease jobs for 2 s, and handlers that take 10 s: without the
    # extension every lease would run out four times over while its handler runs, and the
    # other node (polling every 50 ms) would take the job
    client = Engine(nodes.url)
    client.deploy(MODEL)
    nodes.gate.touch()
    for name in ("n1", "n2"):
        nodes.start(name, "--concurrency", "2", "--lease", "2", "--pause", "10", "--timeout", "60")
    keys = [client.start("p").key for _ in range(4)]

    # When they run them
    wait_until(
        lambda: all(client.instance(k).status == "completed" for k in keys),
        "every instance to complete",
    )

    # Then each long handler ran once
    assert set(nodes.stop_all().values()) == {0}
    runs = Counter(key for key, job_type, _ in nodes.calls("start") if job_type == "work")
    assert len(runs) == 4 and set(runs.values()) == {1}
