"""User tasks through ``/v2`` in process: who sees which task, assignment and its conflicts,
completion checked against the task's form."""

from __future__ import annotations

import json
from typing import Any

from api_helpers import assert_problem, deploy, start
from api_models import APPROVAL, APPROVE_FORM, FORM_APPROVAL
from api_support import Api


def search(api: Api, who: str, **filters: Any) -> list[dict[str, Any]]:
    answer = api.client.post("/v2/user-tasks/search", json={"filter": filters}, **api.as_(who))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def open_task(api: Api) -> tuple[str, str]:
    deploy(api, "approval.bpmn", APPROVAL)
    instance = start(api, "approval", amount=10)
    [task] = search(api, "admin", processInstanceKey=instance)
    return instance, task["userTaskKey"]


def test_a_task_has_every_member_the_python_sdk_requires(api: Api) -> None:
    instance, key = open_task(api)
    task = api.client.get(f"/v2/user-tasks/{key}", **api.as_("op")).json()
    assert set(task) >= {
        "name", "state", "assignee", "elementId", "candidateGroups", "candidateUsers",
        "processDefinitionId", "creationDate", "completionDate", "followUpDate", "dueDate",
        "tenantId", "externalFormReference", "processDefinitionVersion", "customHeaders",
        "priority", "userTaskKey", "elementInstanceKey", "processName", "processDefinitionKey",
        "processInstanceKey", "rootProcessInstanceKey", "businessId", "formKey", "tags",
    }  # fmt: skip
    assert task["state"] == "CREATED"
    assert task["candidateGroups"] == ["sales"]
    assert task["processInstanceKey"] == instance
    assert task["priority"] == 50
    assert task["creationDate"].endswith("Z")


def test_users_see_only_the_tasks_visible_to_them(api: Api) -> None:
    _, key = open_task(api)
    assert [t["userTaskKey"] for t in search(api, "ann")] == [key]
    assert search(api, "bob") == []
    assert [t["userTaskKey"] for t in search(api, "op")] == [key]
    assert search(api, "ann", candidateGroup="sales", state="CREATED")
    assert search(api, "ann", candidateGroup={"$in": ["ops", "sales"]})
    assert not search(api, "ann", candidateGroup="ops")
    assert api.client.get(f"/v2/user-tasks/{key}", **api.as_("ann")).status_code == 200
    assert_problem(api.client.get(f"/v2/user-tasks/{key}", **api.as_("bob")), 404)
    completing = api.client.post(
        f"/v2/user-tasks/{key}/completion", json={"variables": {}}, **api.as_("bob")
    )
    assert_problem(completing, 404)
    assert_problem(api.client.get(f"/v2/user-tasks/{key}", **api.as_("worker")), 403)
    assert_problem(api.client.get("/v2/user-tasks/31337", **api.as_("op")), 404)


def test_assignment_conflicts_and_who_may_assign_whom(api: Api) -> None:
    instance, key = open_task(api)
    to_bob = api.client.post(
        f"/v2/user-tasks/{key}/assignment", json={"assignee": "bob"}, **api.as_("ann")
    )
    assert_problem(to_bob, 403)
    mine = api.client.post(
        f"/v2/user-tasks/{key}/assignment",
        json={"assignee": "ann", "allowOverride": True, "action": "assign"},
        **api.as_("ann"),
    )
    assert mine.status_code == 204, mine.text
    assert api.engine.user_task(int(key)).assignee == "ann"
    no_override = api.client.post(
        f"/v2/user-tasks/{key}/assignment",
        json={"assignee": "carl", "allowOverride": False},
        **api.as_("op"),
    )
    assert_problem(no_override, 409)
    overridden = api.client.post(
        f"/v2/user-tasks/{key}/assignment", json={"assignee": "carl"}, **api.as_("op")
    )
    assert overridden.status_code == 204
    # Carl holds it now: Ann may neither complete it nor take it off him.
    completing = api.client.post(
        f"/v2/user-tasks/{key}/completion", json={"variables": {}}, **api.as_("ann")
    )
    assert_problem(completing, 409, "carl")
    assert_problem(api.client.delete(f"/v2/user-tasks/{key}/assignee", **api.as_("ann")), 403)
    nobody = api.client.post(f"/v2/user-tasks/{key}/assignment", json={}, **api.as_("op"))
    assert_problem(nobody, 400, "assignee")
    unassigned = api.client.delete(f"/v2/user-tasks/{key}/assignee", **api.as_("op"))
    assert unassigned.status_code == 204
    assert api.engine.user_task(int(key)).assignee is None
    done = api.client.post(
        f"/v2/user-tasks/{key}/completion",
        json={"variables": {"approved": True}, "action": "complete"},
        **api.as_("ann"),
    )
    assert done.status_code == 204, done.text
    assert api.engine.instance(int(instance)).status == "completed"
    again = api.client.post(f"/v2/user-tasks/{key}/completion", **api.as_("op"))
    assert_problem(again, 409)
    [finished] = search(api, "op", state="COMPLETED")
    assert finished["completionDate"] is not None
    assert_problem(
        api.client.post(
            f"/v2/user-tasks/{key}/assignment", json={"assignee": "ann"}, **api.as_("op")
        ),
        409,
    )


def test_a_completion_that_breaks_the_form_names_the_fields(api: Api) -> None:
    answer = api.client.post(
        "/v2/deployments",
        files=[
            ("resources", ("approve.form", APPROVE_FORM.encode())),
            ("resources", ("form_approval.bpmn", FORM_APPROVAL.encode())),
        ],
        **api.as_("admin"),
    )
    assert answer.status_code == 200, answer.text
    kinds = [next(iter(d)) for d in answer.json()["deployments"]]
    assert kinds == ["form", "processDefinition"]
    instance = start(api, "form_approval")
    [task] = search(api, "ann", processInstanceKey=instance)
    assert task["formKey"] == answer.json()["deployments"][0]["form"]["formKey"]
    form = api.client.get(f"/v2/user-tasks/{task['userTaskKey']}/form", **api.as_("ann"))
    assert form.status_code == 200, form.text
    assert form.json()["formId"] == "approve-form"
    assert json.loads(form.json()["schema"]) == json.loads(APPROVE_FORM)
    refused = api.client.post(
        f"/v2/user-tasks/{task['userTaskKey']}/completion",
        json={"variables": {"amount": 0}},
        **api.as_("ann"),
    )
    body = assert_problem(refused, 400, "amount")
    assert [e["field"] for e in body["errors"]] == ["amount"]
    assert body["errors"][0]["message"]
    accepted = api.client.post(
        f"/v2/user-tasks/{task['userTaskKey']}/completion",
        json={"variables": {"amount": 5}},
        **api.as_("ann"),
    )
    assert accepted.status_code == 204, accepted.text


def test_a_task_sees_the_variables_of_its_scopes(api: Api) -> None:
    _, key = open_task(api)
    assert api.client.get(f"/v2/user-tasks/{key}/form", **api.as_("ann")).status_code == 204
    found = api.client.post(
        f"/v2/user-tasks/{key}/variables/search", json={}, **api.as_("ann")
    ).json()
    assert {v["name"]: v["value"] for v in found["items"]} == {"amount": "10"}
