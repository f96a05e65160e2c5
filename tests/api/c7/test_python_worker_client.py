"""The real ``camunda-external-task-client-python3`` 4.5.0, unchanged, against a live Legato
server: its sync and asyncio workers (long poll, complete, failure with retries then an
incident, a BPMN error caught by a boundary event) and its EngineClient (start, correlate,
instance query). Each test checks Legato's own state afterwards."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from c7_support import ADMIN, WORKER, wait_for

from legato import Engine
from legato.api.c7 import ids
from legato.api.c7.ids import Kind

camunda = pytest.importorskip("camunda")

from camunda.client.engine_client import EngineClient  # noqa: E402
from camunda.external_task.async_external_task_worker import AsyncExternalTaskWorker  # noqa: E402
from camunda.external_task.external_task import ExternalTask, TaskResult  # noqa: E402
from camunda.external_task.external_task_worker import ExternalTaskWorker  # noqa: E402
from camunda.process_definition.process_definition_client import (  # noqa: E402
    ProcessDefinitionClient,
)


def worker_config(**overrides: Any) -> dict[str, Any]:
    """A worker's config as a user writes it: Basic credentials, a short long poll (so a
    stopped test worker ends soon), no sleeping after errors."""
    return {
        "auth_basic": {"username": WORKER[0], "password": WORKER[1]},
        "maxTasks": 1,
        "lockDuration": 10_000,
        "asyncResponseTimeout": 1_000,
        "retries": 3,
        "retryTimeout": 0,
        "sleepSeconds": 0,
        **overrides,
    }


def engine_client(base_url: str) -> EngineClient:
    return EngineClient(base_url, {"auth_basic": {"username": ADMIN[0], "password": ADMIN[1]}})


@contextmanager
def sync_worker(
    base_url: str, handler: Callable[[ExternalTask], TaskResult], topic: str = "charge"
) -> Iterator[ExternalTaskWorker]:
    """The client's sync worker polling ``topic`` in a thread until the block ends.

    ``subscribe`` loops for ever, so the thread runs the loop's body (the worker's own
    fetch-and-execute step) until told to stop.
    """
    worker = ExternalTaskWorker("py-worker-1", base_url, worker_config())
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            worker._fetch_and_execute_safe(topic, handler)

    thread = threading.Thread(target=run, name="py-sync-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive()


@contextmanager
def async_worker(
    base_url: str, handlers: dict[str, Callable[[ExternalTask], Any]]
) -> Iterator[AsyncExternalTaskWorker]:
    """The client's asyncio worker subscribed on its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    worker: list[AsyncExternalTaskWorker] = []
    started = threading.Event()

    async def main() -> None:
        made = AsyncExternalTaskWorker("py-async-worker", base_url, worker_config())
        worker.append(made)
        started.set()
        await made.subscribe(handlers)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="py-async-worker", daemon=True)
    thread.start()
    started.wait(60)
    try:
        yield worker[0]
    finally:

        def cancel() -> None:
            for task in worker[0].subscriptions:
                task.cancel()

        loop.call_soon_threadsafe(cancel)
        thread.join(timeout=60)
        assert not thread.is_alive()


def _instance_key(started: dict[str, Any]) -> int:
    key = ids.key_of(Kind.INSTANCE, started["id"])
    assert key is not None
    return key


def test_the_sync_worker_completes_a_task(live_server: str, engine: Engine) -> None:
    client = engine_client(live_server)
    started = client.start_process(
        "order", {"amount": 42, "customer": {"name": "Ann"}}, business_key="bk-1"
    )
    key = _instance_key(started)
    seen: list[dict[str, Any]] = []

    def charge(task: ExternalTask) -> TaskResult:
        seen.append(task.get_variables())
        assert task.get_business_key() == "bk-1"
        return task.complete({"charged": True, "receipt": {"no": 7}}, {"localOnly": "yes"})

    with sync_worker(live_server, charge):
        wait_for(lambda: engine.instance(key).status == "completed", what="the order to finish")
    # The client hands Json variables over as text, as Camunda with Spin does.
    assert seen == [{"amount": 42, "customer": json.dumps({"name": "Ann"}, separators=(",", ":"))}]
    variables = engine.instance(key).variables
    assert variables["charged"] is True
    assert variables["receipt"] == {"no": 7}


def test_the_sync_worker_fails_with_retries_then_raises_an_incident(
    live_server: str, engine: Engine
) -> None:
    started = engine_client(live_server).start_process("order", {})
    key = _instance_key(started)
    attempts: list[Any] = []

    def flaky(task: ExternalTask) -> TaskResult:
        attempts.append(task._context["retries"])
        return task.failure("card declined", "trace ...", max_retries=2, retry_timeout=0)

    with sync_worker(live_server, flaky):
        [incident] = wait_for(lambda: engine.incidents(instance_key=key), what="an incident")
    # First attempt: no retries yet (the worker's count, 2, applies), then 1, then 0.
    assert attempts == [None, 2, 1]
    assert incident.message == "card declined"
    assert engine.instance(key).status == "active"


def test_a_bpmn_error_from_the_sync_worker_is_caught(live_server: str, engine: Engine) -> None:
    started = engine_client(live_server).start_process("order", {"amount": 1})

    def no_stock(task: ExternalTask) -> TaskResult:
        return task.bpmn_error("OUT_OF_STOCK", "no stock", {"reason": "none"})

    key = _instance_key(started)
    with sync_worker(live_server, no_stock):
        wait_for(lambda: engine.instance(key).status == "completed", what="the order to end")
    assert "out_of_stock" in [entry.element_id for entry in engine.history(key)]
    assert engine.incidents(instance_key=key) == []


def test_the_async_worker_long_polls_and_completes(live_server: str, engine: Engine) -> None:
    async def charge(task: ExternalTask) -> TaskResult:
        return task.complete({"async": True})

    with async_worker(live_server, {"charge": charge}):
        # The worker is parked in a long poll when the instance starts.
        started = engine_client(live_server).start_process("order", {})
        key = _instance_key(started)
        wait_for(lambda: engine.instance(key).status == "completed", what="the order to finish")
    assert engine.instance(key).variables["async"] is True


def test_the_engine_client_starts_queries_and_correlates(live_server: str, engine: Engine) -> None:
    client = engine_client(live_server)
    started = client.start_process("payment", {"region": "EU"}, business_key="pay-1")
    client.start_process("payment", {"region": "US"}, business_key="pay-2")
    key = _instance_key(started)
    found = client.get_process_instance("payment", ["region_eq_EU"])
    assert [i["id"] for i in found] == [started["id"]]
    region = client.get_process_instance_variable(started["id"], "region", with_meta=True)
    assert region["type"] == "String"
    assert base64.b64decode(region["value"]) == b"EU"
    result = client.correlate_message("paid", business_key="pay-1", process_variables={"ok": 1})
    assert [r["execution"]["processInstanceId"] for r in result] == [started["id"]]
    info = engine.instance(key)
    assert info.status == "completed"
    assert info.variables["ok"] == 1
    assert [i.business_key for i in engine.instances(status="active", process_id="payment")] == [
        "pay-2"
    ]


def test_a_start_by_version_tag(live_server: str, engine: Engine) -> None:
    client = ProcessDefinitionClient(
        live_server, {"auth_basic": {"username": ADMIN[0], "password": ADMIN[1]}}
    )
    started = client.start_process_by_version("order", "1.0", {"amount": 3}, business_key="v")
    info = engine.instance(_instance_key(started))
    assert (info.process_id, info.version, info.business_key) == ("order", 1, "v")
    with pytest.raises(Exception, match="no process definitions found"):
        client.start_process_by_version("order", "9.9", {})


def test_the_engine_client_without_credentials_is_refused(live_server: str) -> None:
    with pytest.raises(Exception, match="401"):
        EngineClient(live_server).start_process("payment", {})
