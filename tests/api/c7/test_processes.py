"""The Camunda 7 surface without external tasks: authentication, definitions, starts,
instances, messages, signals, deployments, incidents and the version (TestClient)."""

from __future__ import annotations

import uuid
from pathlib import Path

from c7_support import ADMIN, ANN, AUDITOR, MODELS, WORKER, json_of
from fastapi.testclient import TestClient

from legato import Engine
from legato.api.c7 import ids
from legato.api.c7.ids import Kind

PYC_INSTANCE_KEYS = {
    "id",
    "definitionId",
    "businessKey",
    "caseInstanceId",
    "tenantId",
    "suspended",
    "links",
}
PYC_DEFINITION_KEYS = {
    "id",
    "key",
    "category",
    "description",
    "name",
    "version",
    "resource",
    "deploymentId",
    "diagram",
    "suspended",
    "tenantId",
    "versionTag",
    "historyTimeToLive",
    "startableInTasklist",
}


def _start(client: TestClient, key: str = "payment", **body: object) -> dict[str, object]:
    response = client.post(f"/engine-rest/process-definition/key/{key}/start", json=body)
    assert response.status_code == 200, response.text
    started: dict[str, object] = json_of(response)
    return started


# -- authentication and permissions ---------------------------------------------------------------


def test_no_credentials_is_401_with_an_empty_body_and_a_challenge(client: TestClient) -> None:
    response = client.get("/engine-rest/version", auth=None)
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["www-authenticate"] == 'Basic realm="legato"'


def test_wrong_credentials_are_401(client: TestClient) -> None:
    assert client.get("/engine-rest/version", auth=("demo", "wrong")).status_code == 401


def test_a_missing_permission_is_403_as_camunda_shapes_it(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/process-definition/key/payment/start", json={}, auth=WORKER
    )
    assert response.status_code == 403
    body = json_of(response)
    assert body["type"] == "AuthorizationException"
    assert "instances:start" in body["message"]
    assert body["code"] == 0


def test_the_version(client: TestClient) -> None:
    response = client.get("/engine-rest/version", auth=AUDITOR)
    assert response.status_code == 200
    assert json_of(response) == {"version": "7.24.0"}


def test_an_unknown_path_is_a_camunda_404(client: TestClient) -> None:
    response = client.get("/engine-rest/no-such-thing")
    assert response.status_code == 404
    assert set(json_of(response)) == {"type", "message", "code"}


# -- definitions and starts -----------------------------------------------------------------------


def test_definitions_are_listed_with_every_key_pycamunda_needs(client: TestClient) -> None:
    response = client.request(  # pycamunda sends a body {} on every GET
        "GET",
        "/engine-rest/process-definition",
        params={"key": "order", "sortBy": "version", "sortOrder": "desc", "maxResults": 1},
        json={},
    )
    [found] = json_of(response)
    assert set(found) >= PYC_DEFINITION_KEYS
    assert found["key"] == "order"
    assert found["version"] == 1
    assert found["id"].startswith("order:1:")


def test_definitions_are_filtered_by_their_camunda_version_tag(client: TestClient) -> None:
    response = client.get(
        "/engine-rest/process-definition", params={"key": "order", "versionTagLike": "1.%"}
    )
    [found] = json_of(response)
    assert found["versionTag"] == "1.0"
    response = client.get("/engine-rest/process-definition", params={"versionTagLike": "2.%"})
    assert json_of(response) == []
    untagged = client.get("/engine-rest/process-definition", params={"key": "payment"})
    assert json_of(untagged)[0]["versionTag"] is None


def test_start_by_key_answers_an_instance_with_links(client: TestClient, engine: Engine) -> None:
    started = _start(
        client,
        "payment",
        variables={
            "amount": {"value": 5},
            "who": {"value": "Ann", "type": None, "valueInfo": None},
        },
        businessKey="bk-1",
        startInstructions=[],
        skipCustomListeners=False,
        withVariablesInReturn=False,
    )
    assert set(started) >= PYC_INSTANCE_KEYS
    assert "variables" not in started
    assert started["businessKey"] == "bk-1"
    links = started["links"]
    assert isinstance(links, list)
    [link] = links
    assert link["rel"] == "self" and link["method"] == "GET"
    assert link["href"].endswith(f"/engine-rest/process-instance/{started['id']}")
    key = ids.key_of(Kind.INSTANCE, str(started["id"]))
    assert key is not None
    info = engine.instance(key)
    assert info.business_key == "bk-1"
    assert info.variables == {"amount": 5, "who": "Ann"}


def test_start_with_variables_in_return(client: TestClient) -> None:
    started = _start(
        client, variables={"n": {"value": 7, "type": "Integer"}}, withVariablesInReturn=True
    )
    assert started["variables"] == {"n": {"type": "Integer", "value": 7, "valueInfo": {}}}


def test_start_of_an_unknown_key_is_camundas_404(client: TestClient) -> None:
    response = client.post("/engine-rest/process-definition/key/nope/start", json={})
    assert response.status_code == 404
    assert json_of(response) == {
        "type": "RestException",
        "message": "No matching process definition with key: nope and no tenant-id",
        "code": 0,
    }


def test_start_with_a_tenant_finds_no_definition(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/process-definition/key/payment/tenant-id/t1/start", json={}
    )
    assert response.status_code == 404


def test_a_bad_variable_is_a_400_naming_it(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/process-definition/key/payment/start",
        json={"variables": {"doc": {"type": "File", "value": "aGk="}}},
    )
    assert response.status_code == 400
    body = json_of(response)
    assert body["type"] == "InvalidRequestException"
    assert "'doc'" in body["message"] and "Unsupported value type 'File'" in body["message"]


def test_start_by_definition_id(client: TestClient, engine: Engine) -> None:
    [found] = json_of(client.get("/engine-rest/process-definition", params={"key": "payment"}))
    response = client.post(f"/engine-rest/process-definition/{found['id']}/start", json={})
    started = json_of(response)
    assert started["definitionId"] == found["id"]
    key = ids.key_of(Kind.INSTANCE, started["id"])
    assert key is not None and engine.instance(key).version == 1


def test_start_by_a_malformed_definition_id_is_404(client: TestClient) -> None:
    response = client.post("/engine-rest/process-definition/payment:1:nonsense/start", json={})
    assert response.status_code == 404


# -- instances ------------------------------------------------------------------------------------


def test_instances_are_queried_by_key_business_key_and_variables(client: TestClient) -> None:
    a = _start(client, businessKey="a", variables={"region": {"value": "EU"}, "n": {"value": 3}})
    _start(client, businessKey="b", variables={"region": {"value": "US"}, "n": {"value": 5}})
    by_variable = json_of(
        client.get("/engine-rest/process-instance", params={"variables": "region_eq_EU"})
    )
    assert [i["id"] for i in by_variable] == [a["id"]]
    assert set(by_variable[0]) >= PYC_INSTANCE_KEYS
    numeric = json_of(
        client.get("/engine-rest/process-instance", params={"variables": "n_gt_4,region_like_U%"})
    )
    assert [i["businessKey"] for i in numeric] == ["b"]
    by_key = json_of(
        client.get(
            "/engine-rest/process-instance",
            params={"processDefinitionKey": "payment", "businessKey": "a"},
        )
    )
    assert [i["id"] for i in by_key] == [a["id"]]
    paged = json_of(
        client.get("/engine-rest/process-instance", params={"firstResult": 1, "maxResults": 5})
    )
    assert len(paged) == 1


def test_a_bad_variables_filter_is_400(client: TestClient) -> None:
    response = client.get("/engine-rest/process-instance", params={"variables": "nonsense"})
    assert response.status_code == 400


def test_get_and_delete_an_instance(client: TestClient, engine: Engine) -> None:
    started = _start(client)
    assert (
        json_of(client.get(f"/engine-rest/process-instance/{started['id']}"))["id"] == started["id"]
    )
    response = client.request(
        "DELETE",
        f"/engine-rest/process-instance/{started['id']}",
        params={"skipCustomListeners": "false", "failIfNotExists": "true"},
        json={},
    )
    assert response.status_code == 204
    assert response.content == b""
    key = ids.key_of(Kind.INSTANCE, str(started["id"]))
    assert key is not None and engine.instance(key).status == "terminated"
    again = client.delete(f"/engine-rest/process-instance/{started['id']}")
    assert again.status_code == 404
    assert json_of(again)["message"] == f"Process instance with id {started['id']} does not exist"
    assert client.get(f"/engine-rest/process-instance/{started['id']}").status_code == 404


def test_unknown_or_foreign_instance_ids_are_404(client: TestClient) -> None:
    for text in ("nope", str(uuid.uuid4()), ids.to_uuid(Kind.TASK, 1)):
        response = client.get(f"/engine-rest/process-instance/{text}")
        assert response.status_code == 404
        assert json_of(response)["message"] == f"Process instance with id {text} does not exist"


def test_instance_variables(client: TestClient, engine: Engine) -> None:
    started = _start(client, variables={"a": {"value": {"x": 1}}})
    url = f"/engine-rest/process-instance/{started['id']}/variables"
    assert json_of(client.get(f"{url}/a")) == {"type": "Json", "value": '{"x":1}', "valueInfo": {}}
    assert client.get(f"{url}/missing").status_code == 404
    response = client.post(
        url, json={"modifications": {"b": {"value": 2, "type": "Long"}}, "deletions": []}
    )
    assert response.status_code == 204
    key = ids.key_of(Kind.INSTANCE, str(started["id"]))
    assert key is not None and engine.instance(key).variables == {"a": {"x": 1}, "b": 2}


# -- messages and signals -------------------------------------------------------------------------


def test_a_message_reaches_the_one_instance_with_its_business_key(
    client: TestClient, engine: Engine
) -> None:
    first = _start(client, businessKey="bk-1")
    second = _start(client, businessKey="bk-2")
    response = client.post(
        "/engine-rest/message",
        json={
            "messageName": "paid",
            "businessKey": "bk-1",
            "resultEnabled": True,
            "withoutTenantId": True,
            "processVariables": {"paid": {"value": True}},
        },
    )
    [result] = json_of(response)
    assert result["resultType"] == "Execution"
    assert "variables" not in result
    assert result["execution"]["processInstanceId"] == first["id"]
    first_key = ids.key_of(Kind.INSTANCE, str(first["id"]))
    second_key = ids.key_of(Kind.INSTANCE, str(second["id"]))
    assert first_key is not None and second_key is not None
    assert engine.instance(first_key).status == "completed"
    assert engine.instance(first_key).variables["paid"] is True
    assert engine.instance(second_key).status == "active"


def test_a_message_without_result_is_204(client: TestClient, engine: Engine) -> None:
    started = _start(client)
    response = client.post(
        "/engine-rest/message",
        json={"messageName": "paid", "processInstanceId": started["id"]},
    )
    assert response.status_code == 204
    key = ids.key_of(Kind.INSTANCE, str(started["id"]))
    assert key is not None and engine.instance(key).status == "completed"


def test_a_message_with_variables_in_the_result(client: TestClient) -> None:
    started = _start(client, variables={"n": {"value": 1}})
    [result] = json_of(
        client.post(
            "/engine-rest/message",
            json={
                "messageName": "paid",
                "processInstanceId": started["id"],
                "resultEnabled": True,
                "variablesInResultEnabled": True,
            },
        )
    )
    assert result["variables"]["n"] == {"type": "Integer", "value": 1, "valueInfo": {}}


def test_a_message_that_matches_several_is_a_mismatch(client: TestClient, engine: Engine) -> None:
    _start(client)
    _start(client)
    response = client.post("/engine-rest/message", json={"messageName": "paid"})
    assert response.status_code == 400
    assert json_of(response)["type"] == "MismatchingMessageCorrelationException"
    assert all(i.status == "active" for i in engine.instances(process_id="payment"))


def test_a_message_that_matches_none_is_a_mismatch(client: TestClient) -> None:
    response = client.post("/engine-rest/message", json={"messageName": "nobody-waits"})
    assert response.status_code == 400
    assert json_of(response)["type"] == "MismatchingMessageCorrelationException"


def test_all_correlates_every_match(client: TestClient, engine: Engine) -> None:
    _start(client)
    _start(client)
    response = client.post(
        "/engine-rest/message", json={"messageName": "paid", "all": True, "resultEnabled": True}
    )
    assert len(json_of(response)) == 2
    assert all(i.status == "completed" for i in engine.instances(process_id="payment"))


def test_message_correlation_by_variables(client: TestClient, engine: Engine) -> None:
    _start(client, variables={"order": {"value": "A"}})
    b = _start(client, variables={"order": {"value": "B"}})
    [result] = json_of(
        client.post(
            "/engine-rest/message",
            json={
                "messageName": "paid",
                "correlationKeys": {"order": {"value": "B", "type": "String"}},
                "resultEnabled": True,
            },
        )
    )
    assert result["execution"]["processInstanceId"] == b["id"]


def test_a_message_start_event_then_a_signal(client: TestClient, engine: Engine) -> None:
    [result] = json_of(
        client.post(
            "/engine-rest/message",
            json={"messageName": "kickoff", "businessKey": "k-1", "resultEnabled": True},
        )
    )
    assert result["resultType"] == "ProcessDefinition"
    assert result["execution"] is None
    started = result["processInstance"]
    assert set(started) >= PYC_INSTANCE_KEYS
    assert started["businessKey"] == "k-1"
    key = ids.key_of(Kind.INSTANCE, started["id"])
    assert key is not None and engine.instance(key).status == "active"
    assert engine.instance(key).business_key == "k-1"
    response = client.post("/engine-rest/signal", json={"name": "go", "variables": {}})
    assert response.status_code == 204
    assert engine.instance(key).status == "completed"


def test_message_and_signal_argument_errors(client: TestClient) -> None:
    assert client.post("/engine-rest/message", json={}).status_code == 400
    assert (
        client.post(
            "/engine-rest/message",
            json={"messageName": "paid", "tenantId": "t", "withoutTenantId": True},
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/engine-rest/message", json={"messageName": "paid", "variablesInResultEnabled": True}
        ).status_code
        == 400
    )
    assert client.post("/engine-rest/signal", json={}).status_code == 400


# -- deployments ----------------------------------------------------------------------------------

_NEW_MODEL = (MODELS / "payment.bpmn").read_text().replace('id="payment"', 'id="refund"')


def test_a_deployment_names_resources_by_their_file_names(
    client: TestClient, engine: Engine
) -> None:
    response = client.post(
        "/engine-rest/deployment/create",
        data={
            "deployment-name": "demo",
            "enable-duplicate-filtering": "True",
            "deploy-changed-only": "False",
        },
        files={"resource-0": ("refund.bpmn", _NEW_MODEL.encode(), "application/octet-stream")},
    )
    body = json_of(response)
    assert body["name"] == "demo"
    assert set(body) >= {
        "links",
        "id",
        "name",
        "source",
        "deploymentTime",
        "tenantId",
        "deployedProcessDefinitions",
        "deployedCaseDefinitions",
        "deployedDecisionDefinitions",
        "deployedDecisionRequirementsDefinitions",
    }
    [definition] = body["deployedProcessDefinitions"].values()
    assert definition["key"] == "refund"
    assert definition["resource"] == "refund.bpmn"
    assert definition["deploymentId"] == body["id"]
    assert engine.start("refund").status == "active"


def test_an_unchanged_resource_deploys_nothing_new(client: TestClient) -> None:
    same = (MODELS / "payment.bpmn").read_bytes()
    response = client.post(
        "/engine-rest/deployment/create",
        data={"enable-duplicate-filtering": "true"},
        files={"data": ("payment.bpmn", same, "text/xml")},
    )
    assert json_of(response)["deployedProcessDefinitions"] is None


def test_a_malformed_model_is_a_parse_exception(client: TestClient) -> None:
    response = client.post(
        "/engine-rest/deployment/create",
        files={"data": ("broken.bpmn", b"<definitions><oops", "text/xml")},
    )
    assert response.status_code == 400
    body = json_of(response)
    assert body["type"] == "ParseException"
    assert "broken.bpmn" in body["details"]


def test_a_deployment_needs_files(client: TestClient) -> None:
    response = client.post("/engine-rest/deployment/create", data={"deployment-name": "x"})
    assert response.status_code == 400


def test_deploying_needs_the_deploy_permission(client: TestClient, tmp_path: Path) -> None:
    response = client.post(
        "/engine-rest/deployment/create",
        files={"data": ("refund.bpmn", _NEW_MODEL.encode(), "text/xml")},
        auth=ANN,
    )
    assert response.status_code == 403


# -- incidents ------------------------------------------------------------------------------------


def test_no_incidents_is_an_empty_list(client: TestClient) -> None:
    assert json_of(client.get("/engine-rest/incident", params={"incidentType": "failedJob"})) == []


def test_an_unknown_incident_is_404(client: TestClient) -> None:
    assert client.get(f"/engine-rest/incident/{uuid.uuid4()}").status_code == 404


def test_admin_and_auditor_may_read(client: TestClient) -> None:
    for auth in (ADMIN, AUDITOR):
        assert client.get("/engine-rest/process-instance", auth=auth).status_code == 200
