"""The real ``camunda-client`` 0.15.0 (asyncio, httpx, pydantic with UUID ids), unchanged,
against a live Legato server: start, the task list by candidate group, claim, unclaim,
assign, submit a form, incidents, correlation and deleting an instance. Each test checks
Legato's own state afterwards; history and variable instances, too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
from c7_support import ADMIN

from legato import Engine, JobRequest
from legato.api.c7 import ids
from legato.api.c7.ids import Kind

pytest.importorskip("camunda_client")

from camunda_client.clients.dto import AuthData
from camunda_client.clients.engine.client import CamundaEngineClient
from camunda_client.clients.engine.schemas import (
    GetHistoryTasksFilterSchema,
    GetTasksFilterSchema,
    ProcessInstanceQuerySchema,
    SendCorrelationMessageSchema,
)
from camunda_client.clients.engine.schemas.body import HistoricProcessInstanceFilterSchema
from camunda_client.clients.engine.schemas.query import VariableInstanceFilterParamsSchema
from camunda_client.clients.schemas import PaginationParams
from camunda_client.exceptions import CamundaClientError
from camunda_client.types_ import VariableValueSchema

T = TypeVar("T")


def run(work: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(work)


def client_of(base_url: str, auth: tuple[str, str] = ADMIN) -> CamundaEngineClient:
    return CamundaEngineClient(
        base_url=base_url,
        auth_data=AuthData(username=auth[0], password=auth[1]),
        transport=httpx.AsyncHTTPTransport(),
        timeout=httpx.Timeout(60.0),
    )


def _key(instance_id: uuid.UUID) -> int:
    key = ids.key_of(Kind.INSTANCE, str(instance_id))
    assert key is not None
    return key


def test_a_task_is_listed_claimed_and_its_form_submitted(live_server: str, engine: Engine) -> None:
    someone, someone_else = uuid.uuid4(), uuid.uuid4()

    async def scenario() -> uuid.UUID:
        client = client_of(live_server)
        started = await client.start_process(
            "approval",
            business_key="a-1",
            variables={"amount": VariableValueSchema(value=5, type="Integer")},
        )
        assert isinstance(started.id, uuid.UUID)
        [task] = await client.get_tasks(
            GetTasksFilterSchema(candidate_group="sales", process_instance_id=started.id),
            PaginationParams(maxResults=10, firstResult=0),
        )
        assert task.process_instance_id == started.id
        assert task.name == "Approve order"
        assert task.task_definition_key == "approve"
        count = await client.get_tasks_count(GetTasksFilterSchema(candidate_group="sales"))
        assert count.count == 1
        await client.claim_task(task.id, someone)
        claimed = await client.get_task(task.id)
        assert claimed is not None and claimed.assignee == str(someone)
        with pytest.raises(CamundaClientError) as refused:
            await client.claim_task(task.id, someone_else)
        assert refused.value.status_code == 500
        assert b"TaskAlreadyClaimedException" in refused.value.response_data
        # Assigned tasks leave the candidate list (includeAssignedTasks is false).
        assert await client.get_tasks(GetTasksFilterSchema(candidate_group="sales")) == []
        await client.unclaim_task(task.id)
        await client.set_assignee_task(task.id, someone_else)
        again = await client.get_task(task.id)
        assert again is not None and again.assignee == str(someone_else)
        await client.submit_task_form(
            task.id, {"approved": VariableValueSchema(value=True, type="Boolean")}
        )
        assert await client.get_task(task.id) is None
        return started.id

    instance_id = run(scenario())
    info = engine.instance(_key(instance_id))
    assert info.status == "completed"
    assert info.variables == {"amount": 5, "approved": True}


def test_incidents_are_listed_with_uuid_ids(live_server: str, engine: Engine) -> None:
    key = engine.start("order").key
    [job] = engine.fetch_jobs([JobRequest("charge", timedelta(minutes=1))], worker="w", max_jobs=1)
    engine.fail_job(job.key, "card declined", retries=0, retry_after=None, worker="w")

    async def scenario() -> list[Any]:
        client = client_of(live_server)
        return list(await client.get_incidents("failedExternalTask"))

    [incident] = run(scenario())
    assert isinstance(incident.id, uuid.UUID)
    assert incident.process_instance_id == uuid.UUID(ids.to_uuid(Kind.INSTANCE, key))
    assert incident.incident_message == "card declined"
    assert incident.configuration == ids.to_uuid(Kind.EXTERNAL_TASK, job.key)
    [stored] = engine.incidents(instance_key=key)
    assert incident.id == uuid.UUID(ids.to_uuid(Kind.INCIDENT, stored.incident_key))


def test_instances_are_queried_correlated_and_deleted(live_server: str, engine: Engine) -> None:
    async def scenario() -> tuple[uuid.UUID, uuid.UUID]:
        client = client_of(live_server)
        paid = await client.start_process("payment", business_key="p-1")
        dropped = await client.start_process("payment", business_key="p-2")
        found = await client.get_process_instances(
            ProcessInstanceQuerySchema(process_definition_key="payment", business_key="p-1")
        )
        assert [i.id for i in found] == [paid.id]
        result = await client.send_correlation_message(
            SendCorrelationMessageSchema(
                message_name="paid",
                business_key="p-1",
                result_enabled=True,
                process_variables={"ok": VariableValueSchema(value=True, type="Boolean")},
            )
        )
        assert result is not None
        await client.delete_process(str(dropped.id))
        with pytest.raises(CamundaClientError) as missing:
            await client.delete_process(str(dropped.id))
        assert missing.value.status_code == 404
        return paid.id, dropped.id

    paid, dropped = run(scenario())
    assert engine.instance(_key(paid)).status == "completed"
    assert engine.instance(_key(paid)).variables["ok"] is True
    assert engine.instance(_key(dropped)).status == "terminated"


def test_a_person_sees_only_the_tasks_visible_to_them(live_server: str, engine: Engine) -> None:
    engine.start("approval")

    async def scenario() -> tuple[int, int]:
        ann = await client_of(live_server, ("ann", "ann-secret")).get_tasks()
        bob = await client_of(live_server, ("bob", "bob-secret")).get_tasks()
        return len(ann), len(bob)

    assert run(scenario()) == (1, 0)


def test_history_and_variable_instances(live_server: str, engine: Engine) -> None:
    done = engine.start("approval", {"amount": 5}, business_key="h-1")
    [task] = engine.user_tasks(instance_key=done.key)
    engine.complete_user_task(task.user_task_key, {"approved": True})
    running = engine.start("payment", {"amount": 7})

    async def scenario() -> tuple[Any, Any, list[Any]]:
        client = client_of(live_server)
        ended = await client.get_history_process_instance(ids.to_uuid(Kind.INSTANCE, done.key))
        listed = await client.get_history_process_instances(
            HistoricProcessInstanceFilterSchema(process_definition_key="approval")
        )
        variables = await client.get_variable_instances(
            VariableInstanceFilterParamsSchema(
                process_instance_id_in=[uuid.UUID(ids.to_uuid(Kind.INSTANCE, running.key))]
            )
        )
        return ended, listed, list(variables)

    ended, listed, variables = run(scenario())

    async def tasks() -> list[Any]:
        client = client_of(live_server)
        return list(
            await client.get_history_tasks(
                GetHistoryTasksFilterSchema(
                    process_instance_id=uuid.UUID(ids.to_uuid(Kind.INSTANCE, done.key)),
                    finished=True,
                )
            )
        )

    [historic] = run(tasks())
    assert historic.id == uuid.UUID(ids.to_uuid(Kind.TASK, task.user_task_key))
    assert historic.task_definition_key == "approve"
    assert historic.end_time is not None
    assert ended.state.value == "COMPLETED"
    assert ended.business_key == "h-1"
    assert [i.id for i in listed] == [uuid.UUID(ids.to_uuid(Kind.INSTANCE, done.key))]
    [amount] = variables
    assert (amount.name, amount.value, amount.type) == ("amount", 7, "Integer")
    assert amount.process_instance_id == uuid.UUID(ids.to_uuid(Kind.INSTANCE, running.key))
