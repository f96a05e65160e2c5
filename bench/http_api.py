"""Server benchmark: the onboarding workload through the HTTP API, against the same workload
run embedded.

The workload (``<repo>/../shared/bench/onboarding.bpmn``): start -> service task A ->
exclusive gateway on ``score > 700`` (B, else C) -> parallel D and E -> join -> F -> end; five
jobs of type ``noop`` per instance. A real ``legato serve --http`` process on loopback runs on
a SQLite file (WAL, ``synchronous=FULL``: the defaults). ``--workers`` external worker
processes speak Camunda 8's REST API, as the Camunda SDKs do: ``POST /v2/jobs/activation``
with long polling (up to ``--batch`` jobs a call), then ``POST /v2/jobs/{key}/completion`` for
each job. The peer is Legato embedded: the same instances run by in-process handlers that do
nothing (``run_until_idle``) on a SQLite file of its own, in the same run.

Measured, in one run:

1. **Starts through the API**: ``--starts`` ``POST /v2/process-instances``, one at a time
   from one client, then from ``--workers`` concurrent clients; starts per second.
2. **Jobs through the API**: the started instances' jobs fetched and completed by the
   workers (the jobs of one activation completed concurrently, as the Camunda SDKs' job
   workers do); jobs per second from the workers' first activation to the last instance
   ending, and the same for one worker fetching one job at a time (``maxJobsToActivate`` 1).
3. **Hand-off latency**: a worker parked in a long poll on an empty queue; an instance is
   created; the time from sending the create request to the parked worker receiving the job
   (an upper bound of commit-to-worker: it includes the create request itself);
   ``--latency-samples`` times, p50 and p99.

Every instance is checked to have completed (outside the timed sections).

Run from the repository root::

    .venv/bin/python bench/http_api.py                 # full run, writes RESULTS.md
    .venv/bin/python bench/http_api.py --starts 300 --latency-samples 30 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import resource
import shlex
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from _report import REPO, machine_facts, percentile, publish, version_of

from legato import Engine
from legato.testing.server import ADMIN_PASSWORD, LegatoServer

WORKLOAD = REPO.parent / "shared" / "bench" / "onboarding.bpmn"
SECTION_TITLE = "Server: onboarding workload through the HTTP API"
JOBS_PER_INSTANCE = 5
PING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="ping" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="t"><bpmn:extensionElements>
      <zeebe:taskDefinition type="ping"/></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=60)


def start(http: httpx.Client, n: int, process_id: str = "onboarding") -> str:
    answer = http.post(
        "/v2/process-instances",
        json={"processDefinitionId": process_id, "variables": {"score": 800 - (n % 2) * 200}},
    )
    answer.raise_for_status()
    key: str = answer.json()["processInstanceKey"]
    return key


class LeanClient:
    """A keep-alive HTTP/1.1 client on asyncio streams: a pool of connections, JSON in,
    status and JSON out (the server answers with a ``Content-Length``, never chunked).

    The workers measure the server, so they must cost little themselves: httpx spends
    milliseconds of CPU per request, more than the server does, and four workers of it would
    measure the client on a two-core machine.
    """

    def __init__(self, url: str, connections: int) -> None:
        parsed = urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        token = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
        self.head = (
            f"Host: {self.host}:{self.port}\r\nAuthorization: Basic {token}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.size = connections
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.opened = 0

    async def post(self, path: str, body: object) -> tuple[int, Any]:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            connection = await asyncio.open_connection(self.host, self.port)
        else:
            connection = await self.idle.get()
        reader, writer = connection
        data = orjson.dumps(body)
        writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self.head
            + b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
        )  # fmt: skip
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        payload = await reader.readexactly(length) if length else b""
        self.idle.put_nowait(connection)
        return status, orjson.loads(payload) if payload else None


def work(
    url: str,
    batch: int,
    done: Synchronized[int],
    stop_at: int,
    ready: Any,
    go: Any,
    cpu: Synchronized[float],
) -> None:
    """One external worker process: fetch and complete until ``stop_at`` jobs are done.

    As the Camunda SDKs' job workers do, the jobs of one activation are worked on at once
    (their completions are sent concurrently, a connection each); the next activation
    follows.
    """
    # Started and imported before the clock starts: the run times the work, not Python's
    # start-up, and the CPU the worker reports is what the work cost it.
    ready.release()
    go.wait()
    before = resource.getrusage(resource.RUSAGE_SELF)
    asyncio.run(_work(url, batch, done, stop_at))
    after = resource.getrusage(resource.RUSAGE_SELF)
    with cpu.get_lock():
        cpu.value += after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


async def _work(url: str, batch: int, done: Synchronized[int], stop_at: int) -> None:
    http = LeanClient(url, batch + 1)

    async def complete(job: dict[str, Any]) -> None:
        status, body = await http.post(f"/v2/jobs/{job['jobKey']}/completion", {})
        assert status == 204, body

    activation = {
        "type": "noop",
        "worker": f"bench-{os.getpid()}",
        "maxJobsToActivate": batch,
        "timeout": 60_000,
        "requestTimeout": 200,
    }
    while done.value < stop_at:
        status, body = await http.post("/v2/jobs/activation", activation)
        assert status == 200, body
        jobs = body["jobs"]
        await asyncio.gather(*(complete(job) for job in jobs))
        with done.get_lock():
            done.value += len(jobs)


def run_jobs(
    server_pid: int, db: str, url: str, instances: int, workers: int, batch: int
) -> tuple[float, float, float]:
    """Start ``instances`` (not timed: straight into the server's database, in batches), then
    time the workers through all their jobs. Jobs per second, and the CPU time per job in ms
    of the server and of the workers."""
    with Engine(db) as engine:
        keys = [
            str(info.key)
            for first in range(0, instances, 500)
            for info in engine.start_many(
                "onboarding",
                [{"score": 800 - (n % 2) * 200} for n in range(first, min(first + 500, instances))],
            )
        ]
    context = multiprocessing.get_context("spawn")
    done = context.Value("q", 0)
    total = instances * JOBS_PER_INSTANCE
    ready = context.Semaphore(0)
    go = context.Event()
    workers_cpu = context.Value("d", 0.0)
    processes = [
        context.Process(target=work, args=(url, batch, done, total, ready, go, workers_cpu))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    began = time.perf_counter()
    cpu_before = server_cpu_seconds(server_pid)
    go.set()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - began
    cpu = server_cpu_seconds(server_pid) - cpu_before
    with client(url) as http:
        for key in keys:
            found = http.post(
                "/v2/process-instances/search", json={"filter": {"processInstanceKey": key}}
            ).json()["items"]
            assert found and found[0]["state"] == "COMPLETED", (key, found)
    return total / elapsed, cpu / total * 1000, workers_cpu.value / total * 1000


def server_cpu_seconds(pid: int) -> float:
    """User and system CPU time the server process used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def time_starts(url: str, count: int, clients: int) -> float:
    """Starts of a copy of the workload whose jobs nobody fetches (``STARTS``)."""
    with client(url) as http, ThreadPoolExecutor(clients) as pool:
        began = time.perf_counter()
        list(pool.map(lambda n: start(http, n, "starts"), range(count)))
        return count / (time.perf_counter() - began)


def handoff_latencies(url: str, samples: int) -> list[float]:
    """Seconds from sending a create request to a parked worker holding the new job."""
    latencies = []
    with client(url) as creator, client(url) as worker:
        for _ in range(samples):
            received: list[float] = []
            parked = threading.Event()

            def poll(parked: threading.Event = parked, received: list[float] = received) -> None:
                parked.set()
                answer = worker.post(
                    "/v2/jobs/activation",
                    json={
                        "type": "ping",
                        "worker": "latency",
                        "maxJobsToActivate": 1,
                        "timeout": 60_000,
                        "requestTimeout": 10_000,
                    },
                )
                received.append(time.perf_counter())
                for job in answer.json()["jobs"]:
                    worker.post(f"/v2/jobs/{job['jobKey']}/completion", json={})

            thread = threading.Thread(target=poll)
            thread.start()
            parked.wait()
            # The activation has reached the server and waits there (the server counts it).
            while not creator.get("/legato/v1/server").json()["parkedLongPolls"]:
                time.sleep(0.001)
            sent = time.perf_counter()
            creator.post("/v2/process-instances", json={"processDefinitionId": "ping"})
            thread.join()
            latencies.append(received[0] - sent)
    return latencies


def embedded(path: Path, instances: int) -> float:
    """The peer: the same instances run by in-process handlers; jobs per second."""
    with Engine(f"sqlite:///{path}") as engine:
        engine.deploy(WORKLOAD)
        engine.task("noop")(lambda job: None)
        for first in range(0, instances, 500):
            scores = [{"score": 800 - (n % 2) * 200} for n in range(first, first + 500)]
            engine.start_many("onboarding", scores[: instances - first])
        began = time.perf_counter()  # as over HTTP: the instances wait, their jobs are timed
        engine.run_until_idle()
        elapsed = time.perf_counter() - began
        assert not engine.instances(status="active", limit=1)
    return instances * JOBS_PER_INSTANCE / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=2_000)
    parser.add_argument("--starts", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    command = shlex.join([".venv/bin/python", "bench/http_api.py", *sys.argv[1:]])
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        peer = embedded(folder / "embedded.db", args.instances)
        print(f"embedded: {peer:,.0f} jobs/s", flush=True)
        db = f"sqlite:///{folder / 'server.db'}"
        with LegatoServer(db, folder / "server.log") as server:
            workload = WORKLOAD.read_text()
            # The starts are timed on a copy whose jobs (another type) stay where they are.
            starts = workload.replace('id="onboarding"', 'id="starts"').replace(
                'type="noop"', 'type="not-fetched"'
            )
            files = (("onboarding.bpmn", workload), ("starts.bpmn", starts), ("ping.bpmn", PING))
            with client(server.url) as http:
                for name, text in files:
                    http.post(
                        "/v2/deployments", files={"resources": (name, text)}
                    ).raise_for_status()
            one = time_starts(server.url, args.starts // 4, 1)
            many = time_starts(server.url, args.starts, args.workers)
            print(f"starts: {one:,.0f}/s one client, {many:,.0f}/s {args.workers} clients")
            assert server.process is not None
            pid = server.process.pid
            batched, batched_cpu, batched_client = run_jobs(
                pid, db, server.url, args.instances, args.workers, args.batch
            )
            print(
                f"jobs: {batched:,.0f}/s ({args.workers} workers, batches of {args.batch}), "
                f"server CPU {batched_cpu:.2f} ms/job, workers' {batched_client:.2f}"
            )
            single, single_cpu, single_client = run_jobs(
                pid, db, server.url, max(args.instances // 10, 50), 1, 1
            )
            print(
                f"jobs: {single:,.0f}/s (1 worker, one job a call), "
                f"server CPU {single_cpu:.2f} ms/job, workers' {single_client:.2f}",
                flush=True,
            )
            latencies = handoff_latencies(server.url, args.latency_samples)
    p50, p99 = (percentile(latencies, p) * 1000 for p in (50, 99))
    print(f"hand-off: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    facts = machine_facts({"uvicorn": version_of("uvicorn"), "FastAPI": version_of("fastapi")})
    lines = [
        f"## {SECTION_TITLE}",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        *(f"{k}: {v}  " for k, v in facts.items()),
        "",
        "| measure | Legato over HTTP | Legato embedded | ratio |",
        "|---|---|---|---|",
        f"| jobs/s, {args.workers} workers, batches of {args.batch} | {batched:,.0f} "
        f"| {peer:,.0f} | {batched / peer:.2f} |",
        f"| server CPU per job, batched / one at a time (ms) | {batched_cpu:.2f} / "
        f"{single_cpu:.2f} | | |",
        f"| workers' CPU per job, batched / one at a time (ms) | {batched_client:.2f} / "
        f"{single_client:.2f} | | |",
        f"| jobs/s, 1 worker, one job a call | {single:,.0f} | | |",
        f"| starts/s, 1 client | {one:,.0f} | | |",
        f"| starts/s, {args.workers} clients | {many:,.0f} | | |",
        f"| create request sent → parked worker has the job, p50 / p99 (ms) "
        f"| {p50:.1f} / {p99:.1f} | | |",
        "",
        f"{args.instances:,} instances ({args.instances * JOBS_PER_INSTANCE:,} jobs) per run; "
        "SQLite WAL with synchronous=FULL on both sides. No other process engine is available "
        "on this machine to run beside it (Camunda is not packaged for PyPI, npm or Debian), so "
        "the peer is Legato's own embedded mode: the ratio is the cost of the HTTP hop.",
    ]
    publish("\n".join(lines), SECTION_TITLE, args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
