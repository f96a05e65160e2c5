"""The server under load and a crash: two ``legato serve --http`` processes on one
PostgreSQL database behind a round-robin "load balancer" (the workers alternate between them),
8 concurrent external workers speaking Camunda 8's REST API, 20,000 jobs; one server is killed
with SIGKILL mid-run and started again.

Every job must be completed exactly once in the engine (one ``JobCompleted`` per instance, and
every instance completed), none lost. A worker may see a refusal for a completion whose answer
the crash swallowed (it was committed) or whose lease ran out: that is the protocol working,
not a failure. Nothing here is timed; the run waits for what it observes, with generous bounds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bpmn_helpers import chain, process, service
from legato import Engine
from legato.testing.server import ADMIN_PASSWORD, LegatoServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

JOBS = 20_000
WORKERS = 8
KILL_AFTER = 5_000
"""Completions seen by the workers before the first server is killed."""
RESTART_AFTER = 8_000
"""Completions seen before it is started again."""
WITHIN = 1800.0
"""Seconds the whole run may take on a loaded machine before the test gives up."""

ONE_JOB = process(
    '<bpmn:startEvent id="s"/>'
    + service("work", "load-work")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "work", "e"),
    process_id="load",
)


class Workers:
    """External workers that alternate between the servers and fail over on a dead one."""

    def __init__(self, servers: list[LegatoServer]) -> None:
        self.servers = servers
        self.completed = 0
        self.refused = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self, number: int) -> None:
        turn = number
        clients = [
            httpx.Client(base_url=s.url, auth=("admin", ADMIN_PASSWORD), timeout=30)
            for s in self.servers
        ]
        try:
            while not self.stop.is_set():
                turn += 1
                client = clients[turn % len(clients)]
                try:
                    self._round(client, f"worker-{number}")
                except httpx.TransportError:
                    continue  # that server is down: the next round goes to the other
        finally:
            for client in clients:
                client.close()

    def _round(self, client: httpx.Client, name: str) -> None:
        answer = client.post(
            "/v2/jobs/activation",
            json={
                "type": "load-work",
                "worker": name,
                "maxJobsToActivate": 32,
                "timeout": 20_000,
                "requestTimeout": 500,
            },
        )
        assert answer.status_code == 200, answer.text
        for job in answer.json()["jobs"]:
            done = client.post(f"/v2/jobs/{job['jobKey']}/completion", json={"variables": {}})
            with self.lock:
                if done.status_code == 204:
                    self.completed += 1
                else:
                    # Completed before a crash swallowed the answer, or its lease ran out.
                    assert done.status_code in (404, 409), done.text
                    self.refused += 1

    def wait_for(self, completions: int, deadline: float) -> None:
        while self.completed < completions:
            assert time.monotonic() < deadline, f"only {self.completed} completions"
            time.sleep(0.05)


def test_every_job_completes_exactly_once_while_a_server_is_killed_and_restarted(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    deadline = time.monotonic() + WITHIN
    url = fresh_postgres_url
    with Engine(url) as engine:
        engine.deploy(ONE_JOB)
        keys = [
            info.key
            for start in range(0, JOBS, 1_000)
            for info in engine.start_many("load", [{"n": n} for n in range(start, start + 1_000)])
        ]
    first = LegatoServer(url, tmp_path / "first.log").start()
    second = LegatoServer(url, tmp_path / "second.log").start()
    workers = Workers([first, second])
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            running = [pool.submit(workers.run, n) for n in range(WORKERS)]
            try:
                workers.wait_for(KILL_AFTER, deadline)
                first.kill()
                workers.wait_for(RESTART_AFTER, deadline)
                first.start()
                with Engine(url) as engine:
                    while engine.instances(status="active", limit=1):
                        assert time.monotonic() < deadline, "instances still active"
                        time.sleep(0.2)
            finally:
                workers.stop.set()
                for future in running:
                    future.result()
    finally:
        first.stop()
        second.stop()

    with Engine(url) as engine:
        # Every instance completed (read in one query, not one per instance)
        completed = engine.instances(status="completed", limit=JOBS + 1)
        assert sorted(info.key for info in completed) == sorted(keys)
        completions: Counter[int] = Counter()
        for key in keys:
            history = engine.history(key)
            completions[key] = sum(1 for e in history if e.event_type == "JobCompleted")
    assert set(completions.values()) == {1}
    # The answers a crash swallowed (at most the jobs then in the workers' hands) are
    # the only completions the workers did not see.
    assert JOBS - WORKERS * 32 <= workers.completed <= JOBS
