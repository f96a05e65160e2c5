"""``/engine-rest/external-task``: shapes, statuses and Camunda's messages (TestClient)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from c7_support import ADMIN, ANN, MODELS, WORKER, json_of, serving, wait_for
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.c7 import ids
from legato.api.c7.ids import Kind

PYC_EXTERNAL_TASK_KEYS = {
    "activityId",
    "activityInstanceId",
    "errorMessage",
    "executionId",
    "id",
    "processDefinitionId",
    "processDefinitionKey",
    "processInstanceId",
    "tenantId",
    "retries",
    "workerId",
    "priority",
    "topicName",
    "lockExpirationTime",
}
PYC_INCIDENT_KEYS = {
    "id",
    "processDefinitionId",
    "processInstanceId",
    "executionId",
    "incidentType",
    "activityId",
    "causeIncidentId",
    "rootCauseIncidentId",
    "configuration",
    "tenantId",
    "incidentMessage",
    "jobDefinitionId",
    "incidentTimestamp",
}


def _fetch(
    client: TestClient, worker: str = "w1", *, auth: tuple[str, str] = WORKER, **topic: Any
) -> list[dict[str, Any]]:
    body = {
        "workerId": worker,
        "maxTasks": 5,
        "usePriority": False,
        "sorting": None,
        "topics": [{"topicName": "charge", "lockDuration": 60_000, **topic}],
    }
    response = client.post("/engine-rest/external-task/fetchAndLock", json=body, auth=auth)
    assert response.status_code == 200, response.text
    fetched: list[dict[str, Any]] = json_of(response)
    return fetched


def _order(engine: Engine, **variables: Any) -> int:
    return engine.start("order", variables, business_key=variables.pop("bk", None)).key


def _post(client: TestClient, task_id: str, action: str, body: Any, **kw: Any) -> Any:
    return client.post(f"/engine-rest/external-task/{task_id}/{action}", json=body, **kw)


# -- fetch and lock -------------------------------------------------------------------------------


def test_fetch_and_lock_answers_locked_tasks_with_every_key(
    client: TestClient, engine: Engine
) -> None:
    key = _order(engine, amount=42, customer={"name": "Ann"})
    [task] = _fetch(client, variables=["amount", "customer"], processVariables={})
    assert set(task) >= PYC_EXTERNAL_TASK_KEYS | {"variables", "businessKey", "createTime"}
    assert task["topicName"] == "charge"
    assert task["workerId"] == "w1"
    assert task["activityId"] == "charge"
    assert task["retries"] is None
    assert task["processInstanceId"] == ids.to_uuid(Kind.INSTANCE, key)
    assert task["processDefinitionKey"] == "order"
    assert task["processDefinitionId"].startswith("order:1:")
    assert task["lockExpirationTime"].endswith("+0000")
    assert task["variables"] == {
        "amount": {"type": "Integer", "value": 42, "valueInfo": {}},
        "customer": {"type": "Json", "value": '{"name":"Ann"}', "valueInfo": {}},
    }
    uuid.UUID(task["id"])
    assert _fetch(client, "w2") == []  # locked


def test_fetch_filters_by_business_key_process_and_variables(
    client: TestClient, engine: Engine
) -> None:
    _order(engine, region="US", bk="b-us")
    eu = _order(engine, region="EU", bk="b-eu")
    [task] = _fetch(client, processVariables={"region": "EU"})
    assert task["processInstanceId"] == ids.to_uuid(Kind.INSTANCE, eu)
    assert _fetch(client, businessKey="b-eu") == []
    assert len(_fetch(client, businessKey="b-us", processDefinitionKey="order")) == 1
    assert _fetch(client, processDefinitionKeyIn=["payment"]) == []
    assert _fetch(client, tenantIdIn=["t1"]) == []
    assert _fetch(client, processDefinitionVersionTag="2.0") == []
    third = _order(engine)
    assert _fetch(client, processDefinitionIdIn=["order:1:junk"]) == []
    [last] = _fetch(
        client,
        withoutTenantId=True,
        processDefinitionIdIn=[task["processDefinitionId"]],
        processDefinitionVersionTag="1.0",
    )
    assert last["processInstanceId"] == ids.to_uuid(Kind.INSTANCE, third)


def test_no_tasks_and_no_long_poll_is_an_empty_list(client: TestClient) -> None:
    assert _fetch(client) == []


def test_a_long_poll_answers_empty_when_its_time_runs_out(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 1,
            "asyncResponseTimeout": 200,
            "topics": [{"topicName": "charge", "lockDuration": 1000}],
        },
        auth=WORKER,
    )
    assert json_of(response) == []


def test_a_long_poll_beyond_half_an_hour_is_400(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 1,
            "asyncResponseTimeout": 1_800_001,
            "topics": [{"topicName": "charge", "lockDuration": 1000}],
        },
        auth=WORKER,
    )
    assert response.status_code == 400
    assert json_of(response)["message"] == (
        "The asynchronous response timeout cannot be set to a value greater than 1800000 "
        "milliseconds"
    )


def test_a_lock_beyond_the_calendar_is_400_naming_it(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 1,
            "topics": [{"topicName": "charge", "lockDuration": 9_000_000_000_000_000}],
        },
        auth=WORKER,
    )
    assert response.status_code == 400
    assert "lockDuration" in json_of(response)["message"]


def test_a_worker_may_fetch_only_its_topics(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "ship", "lockDuration": 1}]},
        auth=WORKER,
    )
    assert response.status_code == 403
    assert json_of(response)["type"] == "AuthorizationException"


def test_a_person_may_not_fetch(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={"workerId": "w", "maxTasks": 1, "topics": []},
        auth=ANN,
    )
    assert response.status_code == 403


def test_a_missing_worker_id_is_400(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/external-task/fetchAndLock", json={"topics": []}, auth=WORKER
    )
    assert response.status_code == 400


# -- complete -------------------------------------------------------------------------------------


def test_complete_is_204_and_moves_the_instance_on(client: TestClient, engine: Engine) -> None:
    key = _order(engine)
    [task] = _fetch(client)
    response = _post(
        client,
        task["id"],
        "complete",
        {
            "workerId": "w1",
            "variables": {
                "charged": {"value": True},
                "obj": {"type": "json", "value": '{"a":1}', "valueInfo": {}},
                "d": {"type": "date", "value": "1970-01-01T00:00:00.000+0000", "valueInfo": {}},
            },
            "localVariables": None,
        },
        auth=WORKER,
    )
    assert response.status_code == 204
    assert response.content == b""
    info = engine.instance(key)
    assert info.status == "completed"
    assert info.variables["charged"] is True
    assert info.variables["obj"] == {"a": 1}


def test_complete_by_another_worker_is_400_with_camundas_message(
    client: TestClient, engine: Engine
) -> None:
    key = _order(engine)
    [task] = _fetch(client)
    response = _post(client, task["id"], "complete", {"workerId": "intruder"}, auth=WORKER)
    assert response.status_code == 400
    assert json_of(response)["message"] == (
        f"External Task {task['id']} cannot be completed by worker 'intruder'. "
        "It is locked by worker 'w1'."
    )
    assert engine.instance(key).status == "active"


def test_complete_of_an_unknown_task_is_404(client: TestClient) -> None:
    for text in (str(uuid.uuid4()), ids.to_uuid(Kind.EXTERNAL_TASK, 123456), "junk"):
        response = _post(client, text, "complete", {"workerId": "w"}, auth=WORKER)
        assert response.status_code == 404
        assert json_of(response) == {
            "type": "RestException",
            "message": f"External task with id {text} does not exist",
            "code": 0,
        }


def test_complete_with_a_bad_variable_is_400_naming_it(client: TestClient, engine: Engine) -> None:
    key = _order(engine)
    [task] = _fetch(client)
    response = _post(
        client,
        task["id"],
        "complete",
        {"workerId": "w1", "variables": {"scan": {"type": "File", "value": "aGk="}}},
        auth=WORKER,
    )
    assert response.status_code == 400
    assert "'scan'" in json_of(response)["message"]
    assert engine.instance(key).status == "active"


# -- failure, retries, incidents ------------------------------------------------------------------


def test_failure_with_retries_left_makes_the_task_fetchable_again(
    client: TestClient, engine: Engine
) -> None:
    key = _order(engine)
    [task] = _fetch(client)
    response = _post(
        client,
        task["id"],
        "failure",
        {
            "workerId": "w1",
            "errorMessage": "boom",
            "errorDetails": "trace...",
            "retries": 2,
            "retryTimeout": 0,
        },
        auth=WORKER,
    )
    assert response.status_code == 204
    [again] = wait_for(lambda: _fetch(client, "w2"), what="the task to be fetchable again")
    assert again["id"] == task["id"]
    assert again["retries"] == 2
    assert again["errorMessage"] == "boom"
    assert engine.incidents(instance_key=key) == []
    details = client.get(f"/engine-rest/external-task/{task['id']}/errorDetails", auth=WORKER)
    assert details.status_code == 200
    assert details.headers["content-type"].startswith("text/plain")
    assert details.text == "trace..."


def test_failure_with_null_retries_raises_an_incident_and_retries_resolve_it(
    client: TestClient, engine: Engine
) -> None:
    key = _order(engine)
    [task] = _fetch(client)
    response = _post(
        client,
        task["id"],
        "failure",
        {"workerId": "w1", "errorMessage": "boom", "retries": None, "retryTimeout": 30000},
        auth=WORKER,
    )
    assert response.status_code == 204
    [incident] = engine.incidents(instance_key=key)
    assert incident.message == "boom"
    assert _fetch(client, "w2") == []
    listed = json_of(
        client.get("/engine-rest/incident", params={"incidentType": "failedExternalTask"})
    )
    [shown] = listed
    assert set(shown) >= PYC_INCIDENT_KEYS
    assert shown["incidentType"] == "failedExternalTask"
    assert shown["processDefinitionId"] == task["processDefinitionId"]
    assert shown["configuration"] == task["id"]
    assert shown["processInstanceId"] == ids.to_uuid(Kind.INSTANCE, key)
    assert shown["incidentMessage"] == "boom"
    assert json_of(client.get(f"/engine-rest/incident/{shown['id']}"))["id"] == shown["id"]
    assert json_of(client.get("/engine-rest/incident", params={"incidentType": "failedJob"})) == []
    response = client.put(f"/engine-rest/external-task/{task['id']}/retries", json={"retries": 1})
    assert response.status_code == 204
    assert engine.incidents(instance_key=key) == []
    [again] = wait_for(lambda: _fetch(client, "w3"), what="the task to be fetchable again")
    assert again["id"] == task["id"]


def test_failure_argument_errors(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client)
    for body in (
        {"workerId": "w1", "retries": -1},
        {"workerId": "w1", "retries": 1, "retryTimeout": -5},
        {"retries": 1},
        {"workerId": "other", "retries": 1},
    ):
        assert _post(client, task["id"], "failure", body, auth=WORKER).status_code == 400


def test_retries_need_a_number(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client)
    url = f"/engine-rest/external-task/{task['id']}/retries"
    assert client.put(url, json={"retries": None}).status_code == 400
    assert client.put(url, json={"retries": -1}).status_code == 400
    assert client.put(url, json={"retries": 1}, auth=WORKER).status_code == 403


# -- BPMN errors ----------------------------------------------------------------------------------


def test_a_bpmn_error_is_caught_by_the_boundary_event(client: TestClient, engine: Engine) -> None:
    key = _order(engine)
    [task] = _fetch(client)
    response = _post(
        client,
        task["id"],
        "bpmnError",
        {
            "workerId": "w1",
            "errorCode": "OUT_OF_STOCK",
            "errorMessage": "no stock",
            "variables": {"reason": {"value": "none"}},
        },
        auth=WORKER,
    )
    assert response.status_code == 204
    info = engine.instance(key)
    assert info.status == "completed"
    assert "out_of_stock" in [h.element_id for h in engine.history(key)]


def test_an_uncaught_bpmn_error_raises_an_incident(client: TestClient, engine: Engine) -> None:
    key = _order(engine)
    [task] = _fetch(client)
    response = _post(
        client,
        task["id"],
        "bpmnError",
        {"workerId": "w1", "errorCode": "NOBODY_CATCHES"},
        auth=WORKER,
    )
    assert response.status_code == 204
    assert engine.instance(key).status == "active"
    assert len(engine.incidents(instance_key=key)) == 1


def test_a_bpmn_error_without_a_code_is_400(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client)
    assert (
        _post(client, task["id"], "bpmnError", {"workerId": "w1"}, auth=WORKER).status_code == 400
    )


# -- locks ----------------------------------------------------------------------------------------


def test_extend_lock(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client)
    ok = _post(
        client, task["id"], "extendLock", {"workerId": "w1", "newDuration": 5000}, auth=WORKER
    )
    assert ok.status_code == 204
    other = _post(
        client, task["id"], "extendLock", {"workerId": "w2", "newDuration": 5000}, auth=WORKER
    )
    assert other.status_code == 400
    zero = _post(
        client, task["id"], "extendLock", {"workerId": "w1", "newDuration": 0}, auth=WORKER
    )
    assert zero.status_code == 400


def test_extending_an_expired_lock_is_400(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client, lockDuration=1)
    job_key = ids.key_of(Kind.EXTERNAL_TASK, task["id"])
    assert job_key is not None
    deadline = engine.job(job_key).deadline
    assert deadline is not None
    wait_for(lambda: engine.clock.now() > deadline, what="the lock to expire")
    response = _post(
        client, task["id"], "extendLock", {"workerId": "w1", "newDuration": 5000}, auth=WORKER
    )
    assert response.status_code == 400
    assert json_of(response)["message"] == "Cannot extend a lock that expired"


def test_unlock_without_a_body_or_content_type(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client)
    response = client.post(f"/engine-rest/external-task/{task['id']}/unlock", auth=WORKER)
    assert response.status_code == 204
    [again] = _fetch(client, "w2")
    assert again["id"] == task["id"]


def test_lock_without_fetching(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client)
    assert (
        client.post(f"/engine-rest/external-task/{task['id']}/unlock", auth=WORKER).status_code
        == 204
    )
    response = _post(
        client, task["id"], "lock", {"workerId": "js", "lockDuration": 3000}, auth=WORKER
    )
    assert response.status_code == 204
    assert _fetch(client, "w2") == []
    shown = json_of(client.get(f"/engine-rest/external-task/{task['id']}", auth=WORKER))
    assert shown["workerId"] == "js"
    assert "variables" not in shown
    taken = _post(
        client, task["id"], "lock", {"workerId": "other", "lockDuration": 3000}, auth=WORKER
    )
    assert taken.status_code == 400
    bad = _post(client, task["id"], "lock", {"workerId": "js", "lockDuration": 0}, auth=WORKER)
    assert bad.status_code == 400


def test_an_expired_lock_does_not_block_completion(client: TestClient, engine: Engine) -> None:
    key = _order(engine)
    [task] = _fetch(client, lockDuration=1)
    job_key = ids.key_of(Kind.EXTERNAL_TASK, task["id"])
    assert job_key is not None
    deadline = engine.job(job_key).deadline
    assert deadline is not None
    wait_for(lambda: engine.clock.now() > deadline, what="the lock to expire")
    response = _post(client, task["id"], "complete", {"workerId": "w1"}, auth=WORKER)
    assert response.status_code == 204
    assert engine.instance(key).status == "completed"


def test_error_details_of_a_task_that_never_failed_are_204(
    client: TestClient, engine: Engine
) -> None:
    _order(engine)
    [task] = _fetch(client)
    response = client.get(f"/engine-rest/external-task/{task['id']}/errorDetails", auth=WORKER)
    assert response.status_code == 204


def test_get_an_unknown_task_is_404(client: TestClient) -> None:
    response = client.get(f"/engine-rest/external-task/{uuid.uuid4()}", auth=ADMIN)
    assert response.status_code == 404


@pytest.mark.parametrize("action", ["complete", "failure", "bpmnError", "extendLock", "lock"])
def test_every_action_needs_credentials(client: TestClient, action: str) -> None:
    response = client.post(
        f"/engine-rest/external-task/{uuid.uuid4()}/{action}", json={}, auth=None
    )
    assert response.status_code == 401
    assert response.content == b""


# -- long polls -----------------------------------------------------------------------------------


def _long_poll(base_url: str, timeout_ms: int) -> httpx.Response:
    return httpx.post(
        f"{base_url}/external-task/fetchAndLock",
        json={
            "workerId": "parked",
            "maxTasks": 1,
            "asyncResponseTimeout": timeout_ms,
            "topics": [{"topicName": "charge", "lockDuration": 10_000}],
        },
        auth=WORKER,
        timeout=120,
    )


def test_too_many_parked_long_polls_are_camundas_500(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'parked.db'}", max_parked_fetches=1)
    engine.deploy(MODELS / "order.bpmn")
    answers: list[httpx.Response] = []
    threads: list[threading.Thread] = []

    def park(url: str) -> None:
        threads.append(threading.Thread(target=lambda: answers.append(_long_poll(url, 60_000))))
        threads[-1].start()

    def refused(url: str) -> httpx.Response | None:
        # Whichever call waits first holds the only place: when the probe won it, the long
        # call was refused (and answered at once), so it is made again.
        if not threads[-1].is_alive():
            park(url)
        probe = _long_poll(url, 100)
        return probe if probe.status_code == 500 else None

    try:
        with serving(engine) as url:
            park(url)
            answer = wait_for(lambda: refused(url), what="a long poll to be refused")
            assert answer.headers["content-type"] == "application/json"
            assert answer.json() == {
                "type": "ProcessEngineException",
                "message": "At the moment the server has to handle too many requests at the "
                "same time. Please try again later.",
                "code": 0,
            }
            key = engine.start("order").key  # wakes the parked call with the new task
            threads[-1].join(timeout=120)
        [task] = answers[-1].json()
        assert task["processInstanceId"] == ids.to_uuid(Kind.INSTANCE, key)
        assert task["workerId"] == "parked"
    finally:
        engine.close()


def test_external_tasks_are_listed_for_operators(client: TestClient, engine: Engine) -> None:
    first = _order(engine)
    [locked] = _fetch(client)
    _order(engine)
    listed = json_of(client.get("/engine-rest/external-task", params={"topicName": "charge"}))
    assert len(listed) == 2
    assert all(set(t) >= PYC_EXTERNAL_TASK_KEYS for t in listed)
    assert [t["id"] for t in listed if t["workerId"] == "w1"] == [locked["id"]]
    only_locked = json_of(client.get("/engine-rest/external-task", params={"locked": "true"}))
    assert [t["id"] for t in only_locked] == [locked["id"]]
    of_first = json_of(
        client.get(
            "/engine-rest/external-task",
            params={"processInstanceId": ids.to_uuid(Kind.INSTANCE, first)},
        )
    )
    assert len(of_first) == 1
    count = client.get("/engine-rest/external-task/count", params={"notLocked": "true"})
    assert json_of(count) == {"count": 1}
    assert client.get("/engine-rest/external-task", auth=WORKER).status_code == 403


def test_a_body_that_is_no_json_is_a_camunda_400(client: TestClient, engine: Engine) -> None:
    _order(engine)
    [task] = _fetch(client)
    for url in (
        f"/engine-rest/external-task/{task['id']}/complete",
        "/engine-rest/external-task/fetchAndLock",
    ):
        response = client.post(
            url, content=b"{not json", headers={"content-type": "application/json"}, auth=WORKER
        )
        assert response.status_code == 400
        assert json_of(response)["type"] == "InvalidRequestException"
