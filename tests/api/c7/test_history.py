"""``/history/process-instance`` and ``/variable-instance`` (TestClient)."""

from __future__ import annotations

import uuid

from c7_support import ANN, json_of
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.c7 import ids
from legato.api.c7.ids import Kind


def test_historic_instances_show_every_state(client: TestClient, engine: Engine) -> None:
    running = engine.start("payment", business_key="r")
    cancelled = engine.start("payment", business_key="c")
    engine.cancel(cancelled.key)
    done = engine.start("approval", business_key="d")
    [task] = engine.user_tasks(instance_key=done.key)
    engine.complete_user_task(task.user_task_key, {})
    for info, state in (
        (running, "ACTIVE"),
        (cancelled, "EXTERNALLY_TERMINATED"),
        (done, "COMPLETED"),
    ):
        shown = json_of(
            client.get(
                f"/engine-rest/history/process-instance/{ids.to_uuid(Kind.INSTANCE, info.key)}"
            )
        )
        assert shown["state"] == state
        assert shown["businessKey"] == info.business_key
        assert shown["startTime"].endswith("+0000")
    assert (
        json_of(
            client.get(
                f"/engine-rest/history/process-instance/{ids.to_uuid(Kind.INSTANCE, done.key)}"
            )
        )["durationInMillis"]
        >= 0
    )
    finished = json_of(
        client.post("/engine-rest/history/process-instance", json={"finished": True})
    )
    assert {i["businessKey"] for i in finished} == {"c", "d"}
    by_key = json_of(
        client.get(
            "/engine-rest/history/process-instance",
            params={"processDefinitionKey": "payment", "unfinished": "true"},
        )
    )
    assert [i["businessKey"] for i in by_key] == ["r"]
    assert client.get(f"/engine-rest/history/process-instance/{uuid.uuid4()}").status_code == 404
    assert client.get("/engine-rest/history/process-instance", auth=ANN).status_code == 403


def test_variable_instances_name_their_scopes(client: TestClient, engine: Engine) -> None:
    info = engine.start("payment", {"amount": 5, "who": "Ann"})
    other = engine.start("payment", {"amount": 7})
    instance_id = ids.to_uuid(Kind.INSTANCE, info.key)
    rows = json_of(
        client.get("/engine-rest/variable-instance", params={"processInstanceIdIn": instance_id})
    )
    assert {r["name"]: r["value"] for r in rows} == {"amount": 5, "who": "Ann"}
    [amount] = [r for r in rows if r["name"] == "amount"]
    assert amount["type"] == "Integer"
    assert amount["valueInfo"] == {}
    assert amount["processInstanceId"] == instance_id
    assert amount["executionId"] == instance_id
    assert amount["processDefinitionId"].startswith("payment:1:")
    named = json_of(client.post("/engine-rest/variable-instance", json={"variableName": "amount"}))
    assert sorted(r["value"] for r in named) == [5, 7]
    assert other.key != info.key


def test_historic_tasks_open_and_finished(client: TestClient, engine: Engine) -> None:
    done = engine.start("approval", business_key="d")
    [task] = engine.user_tasks(instance_key=done.key)
    engine.complete_user_task(task.user_task_key, {})
    engine.start("approval", business_key="o")
    rows = json_of(client.post("/engine-rest/history/task", json={"processInstanceId": None}))
    assert len(rows) == 2
    [finished] = json_of(client.get("/engine-rest/history/task", params={"finished": "true"}))
    assert finished["id"] == ids.to_uuid(Kind.TASK, task.user_task_key)
    assert finished["deleteReason"] == "completed"
    assert finished["endTime"].endswith("+0000")
    [open_one] = json_of(
        client.post("/engine-rest/history/task", json={"unfinished": True, "finished": None})
    )
    assert open_one["endTime"] is None
