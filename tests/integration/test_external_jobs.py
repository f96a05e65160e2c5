"""External workers on two engines sharing one PostgreSQL database: no job is handed out
twice however the fetches race, and a fetch parked on one engine is woken by a job another
engine creates."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from bpmn_helpers import chain, process, service
from legato import ActivatedJob, Engine, JobRequest
from legato.store.postgres import Wakeups

pytestmark = pytest.mark.postgres

MODEL = process(
    '<bpmn:startEvent id="s"/>'
    + service("work", "work")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "work", "e")
)
WAIT = 120.0
"""The longest a test waits for another thread (never reached when it works)."""


@pytest.fixture
def engines(empty_postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    first, second = (
        Engine(empty_postgres_url, worker_name="one"),
        Engine(empty_postgres_url, worker_name="two"),
    )
    first.deploy(MODEL)
    yield first, second
    first.close()
    second.close()


def _parked(engine: Engine) -> threading.Event:
    """An event set when a fetch of ``engine`` parks (waits for jobs)."""
    parking = engine._external.parking
    parked = threading.Event()
    original = parking.park

    def park(job_types: frozenset[str], wake: Callable[[], None]) -> object:
        ticket = original(job_types, wake)
        parked.set()
        return ticket

    parking.park = park  # type: ignore[method-assign]
    return parked


def test_racing_fetches_on_two_engines_never_share_a_job(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    instances = first.start_many("p", [{"n": n} for n in range(60)])
    workers = [(first, "a"), (second, "b"), (first, "c"), (second, "d")]
    start = threading.Barrier(len(workers))
    got: dict[str, list[int]] = {name: [] for _, name in workers}
    failures: list[BaseException] = []

    def fetch_until_empty(engine: Engine, name: str) -> None:
        try:
            start.wait(WAIT)
            request = [JobRequest("work", timedelta(minutes=5))]
            while jobs := engine.fetch_jobs(request, worker=name, max_jobs=3):
                got[name].extend(job.key for job in jobs)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=fetch_until_empty, args=w, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not failures
    handed_out = Counter(key for keys in got.values() for key in keys)
    assert all(count == 1 for count in handed_out.values())
    assert len(handed_out) == len(instances)
    # Each result is accepted once, from the worker that holds the job.
    for name, keys in got.items():
        engine = first if name in ("a", "c") else second
        for key in keys:
            engine.complete_job(key, worker=name)
    assert all(not i.is_active for i in first.instances(limit=100))


def test_a_fetch_parked_on_one_engine_gets_a_job_another_engine_creates(
    engines: tuple[Engine, Engine],
) -> None:
    first, second = engines
    parked = _parked(second)
    got: list[ActivatedJob] = []

    def poll() -> None:
        got.extend(
            second.fetch_jobs(
                [JobRequest("work", timedelta(minutes=1))],
                worker="w",
                max_jobs=1,
                request_timeout=timedelta(seconds=WAIT),
            )
        )

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    assert parked.wait(WAIT)
    instance = first.start("p")
    thread.join(WAIT)
    assert not thread.is_alive()
    assert [job.instance_key for job in got] == [instance.key]


def test_a_notification_from_another_engine_wakes_parked_fetches(
    engines: tuple[Engine, Engine],
) -> None:
    first, second = engines
    second._listen()
    listener = second._listener
    assert isinstance(listener, Wakeups)
    assert listener.connected.wait(WAIT)  # LISTEN is in place: what is sent now arrives
    other, woken = threading.Event(), threading.Event()
    second._external.parking.park(frozenset({"other"}), other.set)
    second._external.parking.park(frozenset({"work"}), woken.set)
    first.start("p")
    # Delivered by the listening connection's thread (LISTEN/NOTIFY), not by a poll; the
    # notification says nothing of the types, the database is asked: a fetch waiting for
    # another type (looked at first, in parking order) sleeps on.
    assert woken.wait(WAIT)
    assert not other.is_set()


def test_an_async_fetch_on_one_engine_wakes_for_another_engines_job(
    engines: tuple[Engine, Engine],
) -> None:
    first, second = engines

    async def scenario() -> list[ActivatedJob]:
        parked = asyncio.Event()
        parking = second._external.parking
        original = parking.park

        def park(job_types: frozenset[str], wake: Callable[[], None]) -> object:
            ticket = original(job_types, wake)
            parked.set()
            return ticket

        parking.park = park  # type: ignore[method-assign]
        fetching = asyncio.ensure_future(
            second.fetch_jobs_async(
                [JobRequest("work", timedelta(minutes=1))],
                worker="w",
                max_jobs=1,
                request_timeout=timedelta(seconds=WAIT),
            )
        )
        await asyncio.wait_for(parked.wait(), WAIT)
        await asyncio.to_thread(first.start, "p")
        return await asyncio.wait_for(fetching, WAIT)

    [job] = asyncio.run(scenario())
    assert job.type == "work"
