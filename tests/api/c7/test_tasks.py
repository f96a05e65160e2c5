"""``/engine-rest/task``: queries, visibility, claim, unclaim, assignee, complete (TestClient)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from c7_support import ANN, BOB, WORKER, json_of
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.c7 import ids
from legato.api.c7.ids import Kind

PYC_TASK_KEYS = {
    "assignee",
    "caseDefinitionId",
    "caseExecutionId",
    "caseInstanceId",
    "delegationState",
    "description",
    "executionId",
    "formKey",
    "id",
    "name",
    "owner",
    "parentTaskId",
    "priority",
    "processDefinitionId",
    "processInstanceId",
    "suspended",
    "taskDefinitionKey",
    "created",
    "due",
    "followUp",
}


def _approval(engine: Engine) -> tuple[int, dict[str, Any]]:
    return engine.start("approval", {"amount": 5}).key, {}


def _tasks(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    auth = params.pop("auth", None)
    kwargs = {"auth": auth} if auth else {}
    response = client.get("/engine-rest/task", params=params, **kwargs)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = json_of(response)
    return found


def test_tasks_are_listed_with_every_key(client: TestClient, engine: Engine) -> None:
    key, _ = _approval(engine)
    [task] = _tasks(
        client, candidateGroup="sales", processInstanceId=ids.to_uuid(Kind.INSTANCE, key)
    )
    assert set(task) >= PYC_TASK_KEYS
    uuid.UUID(task["id"])
    uuid.UUID(task["executionId"])
    assert task["processInstanceId"] == ids.to_uuid(Kind.INSTANCE, key)
    assert task["processDefinitionId"].startswith("approval:1:")
    assert task["taskDefinitionKey"] == "approve"
    assert task["name"] == "Approve order"
    assert task["priority"] == 50
    assert task["created"].endswith("+0000")
    assert _tasks(client, candidateGroup="hr") == []
    assert json_of(client.get(f"/engine-rest/task/{task['id']}"))["id"] == task["id"]


def test_post_task_and_count(client: TestClient, engine: Engine) -> None:
    _approval(engine)
    _approval(engine)
    response = client.post(
        "/engine-rest/task",
        params={"maxResults": 1, "firstResult": 0},
        json={"candidateGroup": "sales", "sorting": {"sortBy": "created", "sortOrder": "asc"}},
    )
    assert len(json_of(response)) == 1
    count = client.post("/engine-rest/task/count", json={"candidateGroup": "sales"})
    assert json_of(count) == {"count": 2}


def test_a_person_sees_only_tasks_visible_to_them(client: TestClient, engine: Engine) -> None:
    _approval(engine)
    [task] = _tasks(client, auth=ANN)
    assert _tasks(client, auth=BOB) == []
    assert client.get(f"/engine-rest/task/{task['id']}", auth=BOB).status_code == 404
    assert client.get("/engine-rest/task", auth=WORKER).status_code == 403


def test_claim_unclaim_assignee_and_complete(client: TestClient, engine: Engine) -> None:
    key, _ = _approval(engine)
    [task] = _tasks(client, auth=ANN)
    url = f"/engine-rest/task/{task['id']}"
    assert client.post(f"{url}/claim", json={"userId": "ann"}, auth=ANN).status_code == 204
    assert client.post(f"{url}/claim", json={"userId": "ann"}, auth=ANN).status_code == 204
    assert json_of(client.get(url))["assignee"] == "ann"
    taken = client.post(f"{url}/claim", json={"userId": "carl"})
    assert taken.status_code == 500
    assert json_of(taken) == {
        "type": "TaskAlreadyClaimedException",
        "message": f"Task '{task['id']}' is already claimed by someone else.",
        "code": 0,
    }
    assert client.post(f"{url}/unclaim", auth=ANN).status_code == 204
    assert json_of(client.get(url))["assignee"] is None
    assert client.post(f"{url}/assignee", json={"userId": "carl"}, auth=ANN).status_code == 403
    assert client.post(f"{url}/assignee", json={"userId": "ann"}).status_code == 204
    response = client.post(
        f"{url}/complete",
        json={
            "variables": {"approved": {"value": True, "type": "Boolean"}},
            "withVariablesInReturn": True,
        },
        auth=ANN,
    )
    assert response.status_code == 200
    assert json_of(response)["approved"] == {"type": "Boolean", "value": True, "valueInfo": {}}
    info = engine.instance(key)
    assert info.status == "completed"
    assert info.variables["approved"] is True


def test_submit_form_is_204(client: TestClient, engine: Engine) -> None:
    key, _ = _approval(engine)
    [task] = _tasks(client)
    response = client.post(
        f"/engine-rest/task/{task['id']}/submit-form",
        json={"variables": {"approved": {"value": False, "type": "Boolean"}}},
    )
    assert response.status_code == 204
    assert engine.instance(key).status == "completed"


def test_completing_an_unknown_task_is_camundas_500(client: TestClient) -> None:
    response = client.post(f"/engine-rest/task/{ids.to_uuid(Kind.TASK, 99)}/complete", json={})
    assert response.status_code == 500
    assert json_of(response)["message"].startswith("Cannot complete task")


def test_an_unknown_task_is_404(client: TestClient) -> None:
    assert client.get(f"/engine-rest/task/{uuid.uuid4()}").status_code == 404
    assert (
        client.post(f"/engine-rest/task/{uuid.uuid4()}/claim", json={"userId": "x"}).status_code
        == 404
    )


def test_a_bad_variable_on_complete_is_400(client: TestClient, engine: Engine) -> None:
    key, _ = _approval(engine)
    [task] = _tasks(client)
    response = client.post(
        f"/engine-rest/task/{task['id']}/complete",
        json={"variables": {"scan": {"type": "File", "value": ""}}},
    )
    assert response.status_code == 400
    assert "'scan'" in json_of(response)["message"]
    assert engine.instance(key).status == "active"


_FORM = {
    "id": "approveForm",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {"type": "textfield", "key": "reason", "label": "Reason", "validate": {"required": True}}
    ],
}
_FORM_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="formal" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:userTask id="review" name="Review" camunda:formRef="approveForm"
        camunda:formRefBinding="latest"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_submit_form_checks_the_tasks_form(
    client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "approve.form").write_text(json.dumps(_FORM))
    (tmp_path / "formal.bpmn").write_text(_FORM_PROCESS)
    engine.deploy(tmp_path / "approve.form")
    engine.deploy(tmp_path / "formal.bpmn")
    key = engine.start("formal").key
    [task] = _tasks(client, processDefinitionKey="formal")
    url = f"/engine-rest/task/{task['id']}/submit-form"
    refused = client.post(url, json={"variables": {}})
    assert refused.status_code == 400
    assert "reason" in json_of(refused)["message"]
    assert engine.instance(key).status == "active"
    done = client.post(url, json={"variables": {"reason": {"value": "fine", "type": "String"}}})
    assert done.status_code == 204
    assert engine.instance(key).variables["reason"] == "fine"


def test_identity_links_delegation_and_resolution(client: TestClient, engine: Engine) -> None:
    key, _ = _approval(engine)
    [task] = _tasks(client)
    url = f"/engine-rest/task/{task['id']}"
    links = json_of(client.get(f"{url}/identity-links"))
    assert links == [{"userId": None, "groupId": "sales", "type": "candidate"}]
    assert client.post(f"{url}/assignee", json={"userId": "ann"}).status_code == 204
    assert client.post(f"{url}/delegate", json={"userId": "carl"}).status_code == 204
    delegated = json_of(client.get(url))
    assert (delegated["assignee"], delegated["owner"]) == ("carl", "ann")
    assert delegated["delegationState"] == "PENDING"
    assert {"userId": "ann", "groupId": None, "type": "owner"} in json_of(
        client.get(f"{url}/identity-links")
    )
    response = client.post(f"{url}/resolve", json={"variables": {"checked": {"value": True}}})
    assert response.status_code == 204
    resolved = json_of(client.get(url))
    assert (resolved["assignee"], resolved["delegationState"]) == ("ann", "RESOLVED")
    assert engine.instance(key).variables["checked"] is True


def test_task_variables_and_local_variables(client: TestClient, engine: Engine) -> None:
    key, _ = _approval(engine)
    [task] = _tasks(client)
    url = f"/engine-rest/task/{task['id']}"
    assert json_of(client.get(f"{url}/variables/amount")) == {
        "type": "Integer",
        "value": 5,
        "valueInfo": {},
    }
    assert client.get(f"{url}/variables/nope").status_code == 404
    put = client.put(f"{url}/localVariables/note", json={"value": "draft", "type": "String"})
    assert put.status_code == 204
    assert json_of(client.get(f"{url}/localVariables"))["note"]["value"] == "draft"
    assert json_of(client.get(f"{url}/variables"))["note"]["value"] == "draft"
    assert "note" not in engine.instance(key).variables  # local to the task's scope
    put = client.put(f"{url}/variables/total", json={"value": 9, "type": "Long"})
    assert put.status_code == 204
    assert engine.instance(key).variables["total"] == 9


def test_tasks_by_process_variables(client: TestClient, engine: Engine) -> None:
    small = engine.start("approval", {"amount": 5}).key
    engine.start("approval", {"amount": 500})
    response = client.post(
        "/engine-rest/task",
        json={"processVariables": [{"name": "amount", "operator": "lt", "value": 100}]},
    )
    [task] = json_of(response)
    assert task["processInstanceId"] == ids.to_uuid(Kind.INSTANCE, small)
    listed = _tasks(client, processVariables="amount_gteq_100")
    assert len(listed) == 1 and listed[0]["id"] != task["id"]
    bad = client.post(
        "/engine-rest/task", json={"processVariables": [{"name": "amount", "operator": "about"}]}
    )
    assert bad.status_code == 400
