"""An engine used from many threads at once (a server's requests beside its node loop):
commands from concurrent callers share commits, and each caller gets its own outcome."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bpmn_helpers import chain, process, service
from legato import InvalidCommandError, JobStateError, NotFoundError
from legato.engine import commands as cmd
from legato.runtime.executor import Guard, Outcome
from legato.runtime.groupcommit import GroupCommit
from legato.testing import TestEngine

ONE_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service("work", "work")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "work", "e")
)


def test_jobs_completed_from_many_threads_complete_each_instance_once() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    keys = [engine.start("p", {"n": n}).key for n in range(40)]
    jobs = engine.activate_jobs("work", worker="w", max_jobs=40, timeout=timedelta(minutes=5))
    assert len(jobs) == 40

    refused: list[int] = []

    def complete(job_key: int) -> None:
        # A result from a worker that does not hold the job is refused, although it may share
        # a commit with other threads' accepted results; then the holder's is accepted.
        try:
            engine.complete_job(job_key, {"done": job_key}, worker="impostor")
        except JobStateError:
            refused.append(job_key)
        engine.complete_job(job_key, {"done": job_key}, worker="w")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(complete, [j.key for j in jobs]))
    assert sorted(refused) == sorted(j.key for j in jobs)

    for key, job in zip(keys, sorted(jobs, key=lambda j: j.instance_key), strict=True):
        info = engine.instance(key)
        assert info.status == "completed"
        assert info.variables["done"] == job.key
    with pytest.raises((NotFoundError, InvalidCommandError)):
        engine.complete_job(jobs[0].key)


class _BlockingExecute:
    """Stands in for the executor: the first batch waits until released."""

    def __init__(self) -> None:
        self.batches: list[list[cmd.Command]] = []
        self.first_entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, units: Sequence[tuple[cmd.Command, Guard | None]]) -> list[Outcome]:
        commands = [command for command, _ in units]
        self.batches.append(commands)
        if len(self.batches) == 1:
            self.first_entered.set()
            assert self.release.wait(30)
        return [Outcome(c) for c in commands]


def test_commands_queued_while_a_batch_commits_go_together_in_the_next() -> None:
    execute = _BlockingExecute()
    group = GroupCommit(execute)
    commands = [cmd.CancelInstance(instance_key=n, reason="x") for n in range(5)]
    outcomes: dict[int, Outcome] = {}

    def submit(n: int) -> None:
        outcomes[n] = group.submit(commands[n])

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert execute.first_entered.wait(30)
    others = [threading.Thread(target=submit, args=(n,)) for n in range(1, 5)]
    for t in others:
        t.start()
    # The four wait for the leader; they are queued once the queue holds them.
    deadline = time.monotonic() + 60
    while True:
        with group._queue_lock:
            if len(group._queue) == 4:
                break
        assert time.monotonic() < deadline, "the four commands were never queued"
        threading.Event().wait(0.001)
    execute.release.set()
    for t in [first, *others]:
        t.join(30)

    assert execute.batches == [[commands[0]], commands[1:]]
    assert all(outcomes[n].command is commands[n] for n in range(5))


def test_an_error_that_fails_a_batch_reaches_every_caller_in_it() -> None:
    def broken(units: Sequence[tuple[cmd.Command, Guard | None]]) -> list[Outcome]:
        raise RuntimeError("disk full")

    group = GroupCommit(broken)
    with pytest.raises(RuntimeError, match="disk full"):
        group.submit(cmd.CancelInstance(instance_key=1, reason="x"))


def test_completions_from_coroutines_share_commits_and_each_gets_its_own_outcome() -> None:
    engine = TestEngine()
    engine.deploy(ONE_TASK)
    keys = [engine.start("p", {"n": n}).key for n in range(30)]
    jobs = engine.activate_jobs("work", worker="w", max_jobs=30, timeout=timedelta(minutes=5))
    assert len(jobs) == 30

    async def complete_all() -> list[BaseException | None]:
        async def one(job_key: int, worker: str) -> BaseException | None:
            try:
                await engine.complete_job_async(job_key, {"done": job_key}, worker=worker)
            except (JobStateError, NotFoundError) as exc:
                return exc
            return None

        # Each job twice (its holder and an impostor) and one unknown key, all at once: the
        # refusals reach only their own callers.
        calls = [one(job.key, "w") for job in jobs]
        calls += [one(job.key, "impostor") for job in jobs]
        calls.append(one(987654321, "w"))
        return await asyncio.gather(*calls)

    outcomes = asyncio.run(complete_all())
    assert outcomes[:30] == [None] * 30
    assert all(isinstance(o, JobStateError | NotFoundError) for o in outcomes[30:60])
    assert isinstance(outcomes[60], NotFoundError)
    assert "987654321" in str(outcomes[60])
    for key, job in zip(keys, sorted(jobs, key=lambda j: j.instance_key), strict=True):
        info = engine.instance(key)
        assert info.status == "completed"
        assert info.variables["done"] == job.key
    engine.close()


def test_commands_from_coroutines_queued_during_a_commit_go_together_in_the_next() -> None:
    execute = _BlockingExecute()
    group = GroupCommit(execute)
    commands = [cmd.CancelInstance(instance_key=n, reason="x") for n in range(5)]

    async def run() -> list[Outcome]:
        first = asyncio.ensure_future(group.submit_async(commands[0]))
        while not execute.first_entered.is_set():
            await asyncio.sleep(0.001)
        others = [asyncio.ensure_future(group.submit_async(c)) for c in commands[1:]]
        await asyncio.sleep(0)  # the four are queued once they have started
        execute.release.set()
        return await asyncio.gather(first, *others)

    outcomes = asyncio.run(run())
    assert execute.batches == [[commands[0]], commands[1:]]
    assert [o.command for o in outcomes] == commands
    group.close()


def test_an_error_that_fails_a_batch_reaches_every_coroutine_in_it() -> None:
    def broken(units: Sequence[tuple[cmd.Command, Guard | None]]) -> list[Outcome]:
        raise RuntimeError("disk full")

    group = GroupCommit(broken)

    async def run() -> None:
        await group.submit_async(cmd.CancelInstance(instance_key=1, reason="x"))

    with pytest.raises(RuntimeError, match="disk full"):
        asyncio.run(run())
    group.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(run())
