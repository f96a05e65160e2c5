"""Several engine nodes on one PostgreSQL database, with real processes on loopback.

* three nodes under load, one killed with SIGKILL: every instance completes, no state
  transition or job completion is applied twice, and the dead node's jobs are taken over
  after the sweep finds it silent (long before their 60 s job lease would run out);
* the nodes' database connections cut mid-run: they reconnect and nothing is lost;
* two nodes race to complete the two branches of a parallel join, many times: the join fires
  exactly once every time;
* a node whose clock runs an hour ahead: timers and leases stay correct (database time).

What a test needs to have happened is made to happen, not waited for with a sleep: a node
kills itself inside a chosen handler call, nodes hold a chosen call until the test releases
them (``node_worker.py``), and the test waits for what it can observe (a node listening for
notifications, timers being due) with generous bounds.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bpmn_helpers import flow, process, service
from integration.crash_points import KillPoint, worker_env
from legato import Engine
from legato.runtime.clock import DatabaseClock
from legato.store.sql import SqlStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKER = Path(__file__).with_name("node_worker.py")

FANOUT = process(
    '<bpmn:startEvent id="start"/>'
    '<bpmn:parallelGateway id="fork"/>'
    + service("a", "work")
    + service("b", "work")
    + '<bpmn:parallelGateway id="join"/>'
    + service("c", "work")
    + '<bpmn:endEvent id="end"/>'
    + flow("f1", "start", "fork")
    + flow("f2", "fork", "a")
    + flow("f3", "fork", "b")
    + flow("f4", "a", "join")
    + flow("f5", "b", "join")
    + flow("f6", "join", "c")
    + flow("f7", "c", "end"),
    process_id="fanout",
)


class Nodes:
    """Node processes started on one database URL, each logging its handler calls."""

    def __init__(self, url: str, client_url: str, log_dir: Path) -> None:
        self.url = url
        self.client_url = client_url
        """The same database, for the test's own engine (not cut with the nodes)."""
        self.log_dir = log_dir
        self.gate = log_dir / "gate"
        self.gate.mkdir()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, kill_at: KillPoint | None = None) -> None:
        log = self.log_dir / f"{name}.log"
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                self.url,
                name,
                str(log),
                "--gate",
                str(self.gate),
                *args,
            ],
            stdout=subprocess.PIPE,
            env=worker_env(kill_at),
        )
        stdout = self.processes[name].stdout
        assert stdout is not None
        assert stdout.readline().strip() == b"serving", f"node {name} did not start"

    def killed(self, name: str, timeout: float) -> str:
        """Wait for a node to kill itself at its kill point; what it said before it died."""
        node = self.processes[name]
        out, _ = node.communicate(timeout=timeout)
        assert node.returncode == -signal.SIGKILL, (name, node.returncode, out)
        return out.decode()

    def wait_held(self, call: int, names: list[str], timeout: float) -> None:
        """Wait until each of these nodes is inside its handler call number ``call``."""
        held = [self.gate / f"held-{call}-{name}" for name in names]
        wait_until(lambda: all(path.exists() for path in held), timeout, f"call {call} held")

    def release(self, call: int) -> None:
        (self.gate / f"release-{call}").touch()

    def stop_all(self) -> dict[str, int]:
        for node in self.processes.values():
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        return {name: node.wait(timeout=60) for name, node in self.processes.items()}

    def handler_calls(self) -> list[tuple[int, str, str]]:
        calls = []
        for log in self.log_dir.glob("*.log"):
            for line in log.read_text().splitlines():
                key, element_id, node = line.split()
                calls.append((int(key), element_id, node))
        return calls


@pytest.fixture
def nodes(fresh_postgres_url: str, tmp_path: Path) -> Iterator[Nodes]:
    # A name of their own in pg_stat_activity lets a test cut exactly these connections.
    name = uuid.uuid4().hex[:8]
    url = f"{fresh_postgres_url}&application_name=legato-node-{name}"
    started = Nodes(url, f"{fresh_postgres_url}&application_name=legato-client-{name}", tmp_path)
    yield started
    for node in started.processes.values():
        if node.poll() is None:
            node.kill()
            node.wait()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def completed(engine: Engine) -> int:
    with engine.store.transaction() as tx:
        return tx.count_instances(status="completed")


def assert_applied_once(engine: Engine, instance_keys: list[int]) -> None:
    """Every instance completed, with each job completed and each element instance
    activated and completed once, and a history that replays into the stored state."""
    for key in instance_keys:
        history = engine.history(key)
        assert engine.instance(key).status == "completed", key
        jobs = Counter(e.details["job_key"] for e in history if e.event_type == "JobCompleted")
        assert len(jobs) == 3 and set(jobs.values()) == {1}, (key, jobs)
        for kind in ("ElementActivated", "ElementCompleted"):
            seen = Counter(e.details["key"] for e in history if e.event_type == kind)
            assert set(seen.values()) == {1}, (key, kind, seen)
        joins = [
            e for e in history if e.event_type == "ElementCompleted" and e.element_id == "join"
        ]
        assert len(joins) == 1, (key, joins)
        assert engine.replay(key).to_json() == engine.state(key).to_json()


def test_a_killed_node_loses_nothing_and_its_jobs_are_taken_over(nodes: Nodes) -> None:
    # Given three nodes and a stream of instances; n1 kills itself inside its 12th handler
    # call (the 2nd of its 3rd batch of 5), so it dies holding jobs, while n2 and n3 wait in
    # their first call, each holding a batch, so that the work is left to n1 until it dies
    client = Engine(nodes.client_url)
    client.deploy(FANOUT)
    pace = ("--job-pause", "0.01", "--batch", "5")
    nodes.start("n1", *pace, kill_at=KillPoint.parse("serve:handler:12"))
    for name in ("n2", "n3"):
        nodes.start(name, *pace, "--hold-at", "1")
    keys = [client.start("fanout", {"i": i}).key for i in range(150)]

    # When it has killed itself with the job in hand
    said = nodes.killed("n1", timeout=120)
    found = re.search(r"in job (\d+) leased until (\S+)", said)
    assert found, said
    held, leases = {int(found[1])}, {int(found[1]): datetime.fromisoformat(found[2])}
    with client.store.transaction() as tx:
        # The rest of its batch; the sweep may have ended their leases already (then they
        # are due now, and their lease is no yardstick).
        now = client.clock.now()
        for job in tx.list_jobs(state="activated"):
            if job.worker == "n1":
                held.add(job.job_key)
                if job.lease_until is not None and job.lease_until > now:
                    leases[job.job_key] = job.lease_until
    nodes.release(1)
    keys += [client.start("fanout", {"i": i}).key for i in range(150, 200)]

    # Then every instance completes on the other nodes, and the dead node is found dead
    wait_until(lambda: completed(client) == len(keys), 120, "all instances to complete")
    wait_until(lambda: {n.node_id: n.status for n in client.nodes()}["n1"] == "dead", 30, "n1 dead")
    exit_codes = nodes.stop_all()
    assert exit_codes["n2"] == 0 and exit_codes["n3"] == 0
    assert_applied_once(client, keys)
    # The dead node was found dead and the survivors said goodbye.
    statuses = {n.node_id: n.status for n in client.nodes()}
    assert statuses == {"n1": "dead", "n2": "stopped", "n3": "stopped"}
    # Every job it held when it died was run again by the others (its own calls of them
    # never committed), and completed before its lease on the job would have run out: the
    # sweep released it soon after the node timeout (3 s), long before the 60 s lease.
    rerun = {key for key, _, node in nodes.handler_calls() if node != "n1"}
    assert held <= rerun
    completions = {
        entry.details["job_key"]: entry.at
        for key in keys
        for entry in client.history(key)
        if entry.event_type == "JobCompleted"
    }
    for job_key, lease_until in leases.items():
        assert completions[job_key] < lease_until, (job_key, completions[job_key], lease_until)


def test_nodes_reconnect_when_their_connections_are_cut(nodes: Nodes) -> None:
    # Given two nodes working through instances one call at a time (so a node's next call
    # comes only after it committed the last one), each stopping in its 10th and its 40th
    # handler call until the test lets it go on
    client = Engine(nodes.client_url)
    client.deploy(FANOUT)
    for name in ("n1", "n2"):
        nodes.start(
            name, "--job-pause", "0.005", "--batch", "5", "--concurrency", "1", "--hold-at", "10,40"
        )
    keys = [client.start("fanout", {"i": i}).key for i in range(100)]

    # When the server closes every connection of the nodes (as in a restart or failover)
    # while both are inside a handler call, holding jobs whose outcome they have yet to
    # commit, twice
    application = sa.make_url(nodes.url).query["application_name"]
    admin = sa.create_engine(sa.make_url(nodes.url).set(query={}))
    for call in (10, 40):
        nodes.wait_held(call, ["n1", "n2"], timeout=120)
        assert completed(client) < len(keys)
        with admin.begin() as connection:
            cut = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application},
            ).scalar()
        # At least the store connection of each (the second time: of each reconnected
        # node, since a node reaches its 40th call only through the database).
        assert cut and cut >= 2
        nodes.release(call)
    admin.dispose()
    keys += [client.start("fanout", {"i": i}).key for i in range(100, 150)]

    # Then the nodes reconnect and finish everything, each step applied once
    wait_until(lambda: completed(client) == len(keys), 120, "all instances to complete")
    assert set(nodes.stop_all().values()) == {0}
    assert_applied_once(client, keys)


def test_two_nodes_racing_on_a_parallel_join_fire_it_once(nodes: Nodes) -> None:
    # Given two nodes taking one job at a time, so that the two branches of an instance
    # are completed by different nodes at the same moment. Both serve before the work
    # arrives, and each holds its first job until the other has one too: the first two
    # jobs are the two branches of the first instance, and both nodes take part.
    client = Engine(nodes.client_url)
    client.deploy(FANOUT)
    for name in ("n1", "n2"):
        nodes.start(name, "--batch", "1", "--concurrency", "1", "--hold-at", "1")
    keys = [client.start("fanout", {"i": i}).key for i in range(150)]
    nodes.wait_held(1, ["n1", "n2"], timeout=120)
    nodes.release(1)

    # When they work through them
    wait_until(lambda: completed(client) == len(keys), 120, "all instances to complete")
    assert set(nodes.stop_all().values()) == {0}

    # Then every join fired exactly once, both nodes took part, and they raced: the
    # branches of some instances were completed by different nodes
    assert_applied_once(client, keys)
    assert {node for _, _, node in nodes.handler_calls()} == {"n1", "n2"}
    branches = [client.instance(key).variables for key in keys]
    assert any(done["done_a"] != done["done_b"] for done in branches), "no race took place"


class AheadClock:
    """A system clock that runs an hour ahead."""

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(hours=1)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


TIMER = process(
    '<bpmn:startEvent id="start"/>'
    '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT30M</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition>"
    "</bpmn:intermediateCatchEvent>"
    + service("task", "work")
    + '<bpmn:endEvent id="end"/>'
    + flow("f1", "start", "wait")
    + flow("f2", "wait", "task")
    + flow("f3", "task", "end"),
    process_id="timed",
)


def test_a_node_whose_clock_runs_ahead_uses_database_time(fresh_postgres_url: str) -> None:
    # Given an instance waiting on a 30-minute timer, started by a node with a good clock
    good = Engine(fresh_postgres_url, worker_name="good")
    good.deploy(TIMER)
    waiting = good.start("timed")

    # and a node whose system clock runs an hour ahead, on database time
    store = SqlStore(fresh_postgres_url)

    def read() -> datetime | None:
        with store.transaction() as tx:
            return tx.database_now()

    clock = DatabaseClock(read, base=AheadClock())
    offset = clock.sync()
    assert offset is not None and abs(offset + timedelta(hours=1)) < timedelta(seconds=5)
    ahead = Engine(store=store, clock=clock, worker_name="ahead")

    # When it looks for due timers, the timer is not due
    assert ahead.fire_due_timers() == 0
    assert good.instance(waiting.key).active_elements == ("wait",)

    # And a job leased by the good node for five minutes is not taken over by it
    good.deploy(FANOUT)
    good.start("fanout")
    leased = good.activate_jobs("work", worker="good", max_jobs=10, timeout=timedelta(minutes=5))
    assert len(leased) == 2
    assert ahead.activate_jobs("work", worker="ahead", max_jobs=10) == []

    # While a node trusting its own clock would have fired the timer (the test can fail)
    naive = Engine(fresh_postgres_url, clock=AheadClock(), worker_name="naive")
    assert naive.fire_due_timers() == 1
    for engine in (good, ahead, naive):
        engine.close()


def test_an_idle_node_is_woken_at_once_by_new_work(nodes: Nodes) -> None:
    # Given a node that polls only every 10 minutes, listening for notifications
    client = Engine(nodes.client_url)
    client.deploy(FANOUT)
    nodes.start("n1", "--poll", "600")
    wait_listening(nodes.url, 60)

    # When another process starts an instance, its jobs are run within seconds: only the
    # notification (NOTIFY) can wake the node so soon
    key = client.start("fanout").key
    wait_until(lambda: completed(client) == 1, 30, "the instance to complete")
    assert set(nodes.stop_all().values()) == {0}
    assert_applied_once(client, [key])


def test_a_long_polling_worker_gets_a_job_as_soon_as_it_exists(
    fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import legato.runtime.engine as engine_module

    # Polling every 2 minutes as a fallback: only a notification can answer within seconds.
    monkeypatch.setattr(engine_module, "_LONG_POLL_INTERVAL", 120.0)
    polling_url = f"{fresh_postgres_url}&application_name=legato-poller-{uuid.uuid4().hex[:8]}"
    worker, client = Engine(polling_url), Engine(fresh_postgres_url)
    client.deploy(FANOUT)
    got: list[int] = []

    def poll() -> None:
        jobs = worker.activate_jobs("work", worker="w", request_timeout=timedelta(seconds=120))
        got.extend(job.key for job in jobs)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    wait_listening(polling_url, 60)  # the call found nothing and waits for a notification
    assert not got
    client.start("fanout")
    thread.join(timeout=30)
    assert not thread.is_alive(), "the waiting call was not woken by the new jobs"
    assert len(got) == 2
    worker.close()
    client.close()


def wait_listening(url: str, timeout: float) -> None:
    """Wait until a session with ``url``'s application name listens for notifications (it
    ran ``LISTEN`` and is idle): work created after that wakes it."""
    application = sa.make_url(url).query["application_name"]
    admin = sa.create_engine(sa.make_url(url).set(query={}))
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
        "AND state = 'idle' AND query LIKE 'LISTEN %'"
    )

    def listening() -> bool:
        with admin.connect() as connection:
            return bool(connection.execute(query, {"name": application}).scalar())

    try:
        wait_until(listening, timeout, f"{application} to listen for notifications")
    finally:
        admin.dispose()


SHORT_TIMER = TIMER.replace("PT30M", "PT1S").replace('process id="timed"', 'process id="short"')


def test_due_timers_fire_once_across_nodes_even_when_a_node_fails_mid_firing(
    fresh_postgres_url: str,
) -> None:
    # Given 200 instances whose one-second timers are due
    first, second = Engine(fresh_postgres_url), Engine(fresh_postgres_url)
    first.deploy(SHORT_TIMER)
    keys = [i.key for i in first.start_many("short", [{"i": i} for i in range(200)])]
    with first.store.transaction() as tx:
        last_due = max(timer.due_at for timer in tx.list_timers())
    wait_until(
        lambda: min(first.clock.now(), second.clock.now()) > last_due, 30, "the timers to fall due"
    )

    # When a node fails while firing them (after claiming, before its commit)
    def crash(*_: object) -> None:
        raise RuntimeError("node died")

    first._executor._run = crash  # type: ignore[method-assign,assignment]
    with pytest.raises(RuntimeError):
        first.fire_due_timers(max_timers=50)

    # Then the other node fires every one at once (no lease to wait for), and with both
    # nodes firing together, each tick fires exactly once
    del first._executor._run
    fired: list[int] = []

    def fire(engine: Engine) -> None:
        while ran := engine.fire_due_timers(max_timers=20):
            fired.append(ran)

    threads = [threading.Thread(target=fire, args=(e,)) for e in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert sum(fired) == 200
    for key in keys:
        history = first.history(key)
        assert [e.event_type for e in history].count("TimerTriggered") == 1
        assert first.instance(key).active_elements == ("task",)
    first.close()
    second.close()
