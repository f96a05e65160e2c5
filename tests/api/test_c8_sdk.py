"""Camunda's own Python client (``camunda-orchestration-sdk`` 10.0.1), unchanged, against a
real ``legato serve --http``: deployments, instances, job workers that complete, fail and
throw BPMN errors, messages and user tasks, with Basic and with OAuth credentials.

Every test checks Legato's own state afterwards through an engine on the server's database
file, not only what the client was told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_models import APPROVAL, ORDER, PAYMENT, RISKY_ORDER
from api_support import WAIT, Server, wait_until
from camunda_orchestration_sdk import CamundaAsyncClient, CamundaClient
from camunda_orchestration_sdk.errors import NotFoundError
from camunda_orchestration_sdk.models import (
    MessageCorrelationRequest,
    MessagePublicationRequest,
    ProcessCreationById,
    ProcessCreationByKey,
    ProcessInstanceCreationInstructionBaseVariables,
)
from camunda_orchestration_sdk.runtime.job_worker import (
    ConnectedJobContext,
    JobError,
    JobFailure,
    WorkerConfig,
)
from camunda_orchestration_sdk.semantic_types import ProcessDefinitionId

from legato import Engine

pytestmark = pytest.mark.slow


def basic(server: Server) -> dict[str, str]:
    return {
        "CAMUNDA_REST_ADDRESS": server.v2,
        "CAMUNDA_AUTH_STRATEGY": "BASIC",
        "CAMUNDA_BASIC_AUTH_USERNAME": "admin",
        "CAMUNDA_BASIC_AUTH_PASSWORD": server.password,
    }


def oauth(server: Server) -> dict[str, str]:
    return {
        "CAMUNDA_REST_ADDRESS": server.v2,
        "CAMUNDA_AUTH_STRATEGY": "OAUTH",
        "CAMUNDA_OAUTH_URL": f"{server.url}/oauth/token",
        "CAMUNDA_CLIENT_ID": "admin",
        "CAMUNDA_CLIENT_SECRET": server.password,
        "CAMUNDA_TOKEN_DISK_CACHE_DISABLE": "true",
    }


@pytest.fixture
def engine(server: Server) -> Iterator[Engine]:
    """An engine on the server's database: Legato's own view of what the client did."""
    with Engine(server.db) as engine:
        yield engine


def deploy(client: CamundaClient, tmp_path: Path, name: str, xml: str) -> str:
    path = tmp_path / name
    path.write_text(xml)
    result = client.deploy_resources_from_files([path])
    [process] = result.processes
    return str(process.process_definition_key)


def start(client: CamundaClient, process_id: str, **variables: Any) -> int:
    created = client.create_process_instance(
        data=ProcessCreationById(
            process_definition_id=ProcessDefinitionId(process_id),
            variables=ProcessInstanceCreationInstructionBaseVariables.from_dict(variables),
        )
    )
    return int(created.process_instance_key)


Handler = Callable[[ConnectedJobContext], Coroutine[Any, Any, dict[str, Any] | None]]


def work(
    conf: dict[str, str],
    job_type: str,
    handler: Handler,
    until: Callable[[], bool],
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Run an SDK job worker with ``handler`` until ``until()`` holds (calling ``meanwhile``
    on a thread once the worker runs)."""

    async def main() -> None:
        async with CamundaAsyncClient(configuration=conf) as client:  # type: ignore[arg-type]
            worker = client.create_job_worker(
                WorkerConfig(job_type=job_type, job_timeout_milliseconds=30_000),
                handler,
                execution_strategy="async",
            )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT
            if meanwhile is not None:
                await asyncio.to_thread(meanwhile)
            try:
                while not await asyncio.to_thread(until):
                    if loop.time() > deadline:
                        pytest.fail(f"timed out after {WAIT} s waiting for the {job_type} worker")
                    await asyncio.sleep(0.1)
            finally:
                await worker.aclose()

    asyncio.run(main())


def status(engine: Engine, key: int) -> str:
    return engine.instance(key).status


@pytest.mark.parametrize("mode", ["basic", "oauth"])
def test_a_worker_completes_the_job_of_a_started_instance(
    server: Server, engine: Engine, tmp_path: Path, mode: str
) -> None:
    conf = basic(server) if mode == "basic" else oauth(server)
    with CamundaClient(configuration=conf) as client:  # type: ignore[arg-type]
        definition_key = deploy(client, tmp_path, "order.bpmn", ORDER)
        # The same content again is the same version.
        assert deploy(client, tmp_path, "order.bpmn", ORDER) == definition_key
        by_id = start(client, "order", amount=42, customer={"name": "Ann"})
        by_key = client.create_process_instance(
            data=ProcessCreationByKey(process_definition_key=definition_key)  # type: ignore[arg-type]
        )
    seen: list[dict[str, Any]] = []

    async def charge(job: ConnectedJobContext) -> dict[str, Any]:
        seen.append(job.variables.to_dict())
        return {"charged": True}

    keys = [by_id, int(by_key.process_instance_key)]
    work(conf, "charge", charge, lambda: all(status(engine, k) == "completed" for k in keys))

    assert {"amount": 42, "customer": {"name": "Ann"}} in seen
    assert engine.instance(by_id).variables["charged"] is True
    assert engine.instance(by_id).version == 1
    assert not engine.jobs()


def test_a_parked_worker_gets_the_job_of_an_instance_started_later(
    server: Server, engine: Engine, tmp_path: Path
) -> None:
    conf = basic(server)
    keys: list[int] = []
    with CamundaClient(configuration=conf) as client:  # type: ignore[arg-type]
        deploy(client, tmp_path, "order.bpmn", ORDER)

        def start_later() -> None:
            # The worker's first activation finds nothing and waits (the server's default
            # long poll): this instance's job must reach it.
            with server.http() as http:
                wait_until(
                    lambda: http.get("/legato/v1/server").json()["parkedLongPolls"] > 0,
                    "the worker's long poll",
                )
            keys.append(start(client, "order", amount=1))

        async def charge(job: ConnectedJobContext) -> dict[str, Any]:
            return {"charged": True}

        work(
            conf,
            "charge",
            charge,
            lambda: bool(keys) and status(engine, keys[0]) == "completed",
            meanwhile=start_later,
        )
    assert engine.instance(keys[0]).variables["charged"] is True


def test_an_instance_is_created_awaiting_its_completion(
    server: Server, engine: Engine, tmp_path: Path
) -> None:
    with CamundaClient(configuration=basic(server)) as client:  # type: ignore[arg-type]
        deploy(client, tmp_path, "payment.bpmn", PAYMENT)
        client.publish_message(
            data=MessagePublicationRequest.from_dict(
                {"name": "paid", "correlationKey": "o-1", "timeToLive": 60_000}
            )
        )
        result = client.create_process_instance(
            data=ProcessCreationById.from_dict(
                {
                    "processDefinitionId": "payment",
                    "variables": {"orderId": "o-1"},
                    "awaitCompletion": True,
                    "fetchVariables": ["orderId"],
                }
            )
        )
    assert result.variables.to_dict() == {"orderId": "o-1"}
    assert status(engine, int(result.process_instance_key)) == "completed"


def test_a_failed_job_with_retries_left_comes_back_and_one_without_is_an_incident(
    server: Server, engine: Engine, tmp_path: Path
) -> None:
    conf = basic(server)
    with CamundaClient(configuration=conf) as client:  # type: ignore[arg-type]
        deploy(client, tmp_path, "order.bpmn", ORDER)
        flaky = start(client, "order", mode="flaky")
        broken = start(client, "order", mode="broken")
    attempts: dict[str, int] = {"flaky": 0, "broken": 0}

    async def charge(job: ConnectedJobContext) -> dict[str, Any]:
        mode = job.variables.to_dict()["mode"]
        attempts[mode] += 1
        if mode == "broken":
            raise JobFailure("card declined for good", retries=0)
        if attempts[mode] == 1:
            raise JobFailure("gateway timeout", retries=2, retry_back_off=0)
        return {"charged": True}

    work(
        conf,
        "charge",
        charge,
        lambda: (
            status(engine, flaky) == "completed" and bool(engine.incidents(instance_key=broken))
        ),
    )

    assert attempts["flaky"] == 2
    [incident] = engine.incidents(instance_key=broken)
    assert incident.element_id == "charge"
    assert "card declined for good" in incident.message
    assert status(engine, broken) == "active"


def test_a_bpmn_error_from_a_worker_is_caught_by_the_boundary_event(
    server: Server, engine: Engine, tmp_path: Path
) -> None:
    conf = basic(server)
    with CamundaClient(configuration=conf) as client:  # type: ignore[arg-type]
        deploy(client, tmp_path, "risky.bpmn", RISKY_ORDER)
        key = start(client, "risky", item="piano")

    async def charge(job: ConnectedJobContext) -> None:
        raise JobError("OUT_OF_STOCK", "no pianos left", variables={"reason": "stock"})

    work(conf, "charge", charge, lambda: status(engine, key) == "completed")

    passed = {entry.element_id for entry in engine.history(key)}
    assert "rejected" in passed
    assert "done" not in passed
    assert not engine.incidents(instance_key=key)


def test_a_message_published_before_the_instance_waits_is_delivered_when_it_does(
    server: Server, engine: Engine, tmp_path: Path
) -> None:
    with CamundaClient(configuration=basic(server)) as client:  # type: ignore[arg-type]
        deploy(client, tmp_path, "payment.bpmn", PAYMENT)
        published = client.publish_message(
            data=MessagePublicationRequest.from_dict(
                {
                    "name": "paid",
                    "correlationKey": "order-7",
                    "timeToLive": 60_000,
                    "messageId": "payment-7",
                    "variables": {"amount": 99},
                }
            )
        )
        assert int(published.message_key) > 0
        key = start(client, "payment", orderId="order-7")
        # Nothing waits for this one: correlation answers 404.
        with pytest.raises(NotFoundError):
            client.correlate_message(
                data=MessageCorrelationRequest(name="paid", correlation_key="nobody")
            )

    wait_until(lambda: status(engine, key) == "completed", "the buffered message")
    assert engine.instance(key).variables["amount"] == 99


def test_user_tasks_are_searched_assigned_and_completed(
    server: Server, engine: Engine, tmp_path: Path
) -> None:
    from camunda_orchestration_sdk.models import (
        UserTaskAssignmentRequest,
        UserTaskCompletionRequest,
        UserTaskSearchQuery,
    )

    with CamundaClient(configuration=basic(server)) as client:  # type: ignore[arg-type]
        deploy(client, tmp_path, "approval.bpmn", APPROVAL)
        key = start(client, "approval", amount=10)
        query = UserTaskSearchQuery.from_dict(
            {"filter": {"processInstanceKey": str(key), "state": "CREATED"}}
        )
        [task] = client.search_user_tasks(data=query).items
        assert task.element_id == "approve"
        assert task.candidate_groups == ["sales"]
        client.assign_user_task(
            task.user_task_key,
            data=UserTaskAssignmentRequest.from_dict({"assignee": "ann", "allowOverride": True}),
        )
        [assigned] = client.search_user_tasks(
            data=UserTaskSearchQuery.from_dict({"filter": {"assignee": "ann"}})
        ).items
        assert assigned.user_task_key == task.user_task_key
        client.complete_user_task(
            task.user_task_key,
            data=UserTaskCompletionRequest.from_dict({"variables": {"approved": True}}),
        )

    assert status(engine, key) == "completed"
    assert engine.instance(key).variables["approved"] is True
    [record] = engine.user_tasks(state="completed", instance_key=key)
    assert record.assignee == "ann"


def test_a_worker_key_gets_a_token_and_works_only_on_its_job_types(
    server: Server, engine: Engine, tmp_path: Path
) -> None:
    from camunda_orchestration_sdk.errors import ApiError
    from camunda_orchestration_sdk.models import JobActivationRequest

    with server.http() as http:
        made = http.post(
            "/legato/v1/api-keys",
            json={"name": "charger", "roles": ["worker"], "jobTypes": ["charge"]},
        )
        assert made.status_code == 201, made.text
        key = made.json()
    conf = {
        **oauth(server),
        "CAMUNDA_CLIENT_ID": key["keyId"],
        "CAMUNDA_CLIENT_SECRET": key["secret"],
    }
    with CamundaClient(configuration=basic(server)) as admin:  # type: ignore[arg-type]
        deploy(admin, tmp_path, "order.bpmn", ORDER)
        instance = start(admin, "order")

    async def charge(job: ConnectedJobContext) -> dict[str, Any]:
        return {"charged": True}

    work(conf, "charge", charge, lambda: status(engine, instance) == "completed")

    refusal = JobActivationRequest(
        type_="ship", timeout=1000, max_jobs_to_activate=1, request_timeout=-1
    )
    with (
        CamundaClient(configuration=conf) as worker,  # type: ignore[arg-type]
        pytest.raises(ApiError) as refused,
    ):
        worker.activate_jobs(data=refusal)
    assert refused.value.status_code == 403
    history = engine.history(instance)
    assert any(e.event_type == "JobCompleted" for e in history)
