"""Sensitive values on every way out over HTTP: masked for a role without
``variables:reveal`` (an operator), shown to an admin (and each reveal audited once, naming
the variables, never the values), while the worker of the job's type gets the real values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import activate, deploy, start
from api_support import Api
from fastapi.testclient import TestClient

from accounts_support import CountingHasher
from bpmn_helpers import chain, process, service
from legato import Engine
from legato.api.app import create_app
from legato.api.c7 import ids
from legato.api.c7.ids import Kind
from legato.security.accounts import Accounts
from legato.security.audit import AuditTrail
from legato.store.audit import AuditQuery
from legato.web import mount
from legato.web.session import SESSION_COOKIE, csrf_token_for
from sign_in_support import post_sign_in

SSN = "078-05-1120"
IBAN = "DE89 3704 0044 0532 0130 00"

ONBOARDING = process(
    '<bpmn:extensionElements><legato:sensitive variables="applicant.ssn iban"/>'
    "</bpmn:extensionElements>"
    '<bpmn:startEvent id="s"/>' + service("charge", "charge") + '<bpmn:userTask id="review">'
    '<bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="sales"/>'
    "</bpmn:extensionElements></bpmn:userTask>"
    '<bpmn:endEvent id="e"/>' + chain("s", "charge", "review", "e"),
    process_id="onboarding",
)


def _at_review(api: Api) -> tuple[str, str]:
    """An instance waiting at its user task, after the worker of ``charge`` saw the real
    values and failed once quoting one; its key and the task's key."""
    deploy(api, "onboarding.bpmn", ONBOARDING)
    key = start(api, "onboarding", applicant={"name": "Ada", "ssn": SSN}, iban=IBAN)
    (job,) = activate(api)
    assert job["variables"]["applicant"]["ssn"] == SSN  # the worker gets the real value
    assert job["variables"]["iban"] == IBAN
    failed = api.client.post(
        f"/v2/jobs/{job['jobKey']}/failure",
        json={"retries": 1, "errorMessage": f"bank refused {IBAN}"},
        **api.as_("worker"),
    )
    assert failed.status_code == 204, failed.text
    (job,) = activate(api)
    done = api.client.post(f"/v2/jobs/{job['jobKey']}/completion", json={}, **api.as_("worker"))
    assert done.status_code == 204, done.text
    (task,) = api.engine.user_tasks(instance_key=int(key))
    return key, str(task.user_task_key)


def _surfaces(key: str, task: str) -> dict[str, tuple[str, str, Any]]:
    instance_id = ids.to_uuid(Kind.INSTANCE, int(key))
    task_id = ids.to_uuid(Kind.TASK, int(task))
    return {
        "v2 variables": ("POST", "/v2/variables/search", {"filter": {"processInstanceKey": key}}),
        "v2 task variables": ("POST", f"/v2/user-tasks/{task}/variables/search", {}),
        "native instances": ("GET", "/legato/v1/instances?processId=onboarding", None),
        "native detail": ("GET", f"/legato/v1/instances/{key}/detail", None),
        "native history": ("GET", f"/legato/v1/instances/{key}/history", None),
        "c7 variables": ("GET", f"/engine-rest/process-instance/{instance_id}/variables", None),
        "c7 one variable": (
            "GET",
            f"/engine-rest/process-instance/{instance_id}/variables/iban",
            None,
        ),
        "c7 variable instances": ("GET", "/engine-rest/variable-instance", None),
        "c7 task variables": ("GET", f"/engine-rest/task/{task_id}/variables", None),
    }


SURFACES = list(_surfaces("1", "2"))


def _call(api: Api, who: str, method: str, path: str, body: Any) -> str:
    answer = api.client.request(method, path, json=body, **api.as_(who))
    assert answer.status_code == 200, f"{path}: {answer.text}"
    return answer.text


@pytest.mark.parametrize("surface", SURFACES)
def test_an_operator_sees_sensitive_values_masked(api: Api, surface: str) -> None:
    key, task = _at_review(api)
    method, path, body = _surfaces(key, task)[surface]

    text = _call(api, "op", method, path, body)

    assert SSN not in text and IBAN not in text
    assert "****" in text
    assert "Ada" in text or "history" in surface or "one variable" in surface


@pytest.mark.parametrize("surface", SURFACES)
def test_an_admin_sees_them_and_the_reveal_is_audited(api: Api, surface: str) -> None:
    key, task = _at_review(api)
    method, path, body = _surfaces(key, task)[surface]

    text = _call(api, "admin", method, path, body)

    assert IBAN in text
    reveals = AuditTrail(api.engine.store).records(AuditQuery(action="value.reveal"))
    assert len(reveals) == 1
    (record,) = reveals
    assert record.actor == "admin"
    assert record.details["path"] == path.partition("?")[0]
    assert {"process_id": "onboarding", "instance_key": int(key)}.items() <= (
        record.details["revealed"][0].items()
    )
    assert "iban" in record.details["revealed"][0]["variables"]
    assert IBAN not in str(record.details) and SSN not in str(record.details)


def test_filtering_by_a_sensitive_value_is_refused_to_whoever_may_not_see_it(api: Api) -> None:
    key, _ = _at_review(api)
    path = "/legato/v1/instances"
    probe = {"processId": "onboarding", "variableName": "iban", "variableValue": IBAN}

    refused = api.client.get(path, params=probe, **api.as_("op"))
    anywhere = api.client.get(
        path, params={"variableName": "iban", "variableValue": IBAN}, **api.as_("op")
    )
    allowed = api.client.get(path, params=probe, **api.as_("admin"))

    assert refused.status_code == 403 and "variables:reveal" in refused.text
    assert anywhere.status_code == 403
    assert [item["instanceKey"] for item in allowed.json()["items"]] == [key]


def test_incidents_quote_no_sensitive_value_to_an_operator(api: Api) -> None:
    deploy(api, "onboarding.bpmn", ONBOARDING)
    key = start(api, "onboarding", applicant={"ssn": SSN}, iban=IBAN)
    (job,) = activate(api)
    api.client.post(
        f"/v2/jobs/{job['jobKey']}/failure",
        json={"retries": 0, "errorMessage": f"bank refused {IBAN}"},
        **api.as_("worker"),
    )
    incident_path = "/v2/incidents/search"
    (incident,) = api.engine.incidents()
    incident_id = ids.to_uuid(Kind.INCIDENT, incident.incident_key)
    for method, path, body in [
        ("POST", incident_path, {}),
        ("GET", f"/v2/incidents/{incident.incident_key}", None),
        ("GET", f"/engine-rest/incident/{incident_id}", None),
        ("GET", "/engine-rest/incident", None),
        ("GET", f"/legato/v1/instances/{key}/detail", None),
        ("GET", "/engine-rest/external-task", None),
    ]:
        shown = _call(api, "op", method, path, body)
        assert "bank refused ****" in shown, path
        assert IBAN in _call(api, "admin", method, path, body), path


def test_the_audit_trail_keeps_a_variable_change_masked(api: Api) -> None:
    deploy(api, "onboarding.bpmn", ONBOARDING)
    key = start(api, "onboarding", applicant={"ssn": SSN}, iban=IBAN)
    changed = api.client.put(
        f"/v2/element-instances/{key}/variables",
        json={"variables": {"iban": "GB82 WEST 1234 5698 7654 32", "note": "new bank"}},
        **api.as_("op"),
    )
    assert changed.status_code == 204, changed.text

    (record,) = AuditTrail(api.engine.store).records(AuditQuery(action="variables.change"))
    assert record.details["changes"] == {
        "iban": {"old": "****", "new": "****"},
        "note": {"old": None, "new": "new bank"},
    }


# -- the web app ----------------------------------------------------------------------------------

PASSWORDS = {"admin": "pw-admin", "olga": "pw-olga", "sam": "pw-sam"}


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    engine = Engine(f"sqlite:///{tmp_path / 'web.db'}")
    accounts = Accounts(engine.store, password_hasher=CountingHasher())
    accounts.ensure_admin(PASSWORDS["admin"])
    accounts.create_user("olga", PASSWORDS["olga"], ["operator"])
    accounts.create_user("sam", PASSWORDS["sam"], ["user"], groups=["sales"])
    app = create_app(engine, accounts)
    mount(app)
    with TestClient(app) as client:
        yield client, engine
    engine.close()


def _sign_in(client: TestClient, name: str) -> None:
    client.cookies.clear()
    answer = post_sign_in(client, name, PASSWORDS[name], "/")
    assert answer.status_code == 303


def _web_instance(engine: Engine) -> tuple[int, int]:
    engine.deploy(ONBOARDING)

    @engine.task("charge")
    def charge(job: Any) -> None:
        assert job.variables["iban"] == IBAN

    key = engine.start("onboarding", {"applicant": {"name": "Ada", "ssn": SSN}, "iban": IBAN}).key
    engine.run_until_idle()
    (task,) = engine.user_tasks(instance_key=key)
    return key, task.user_task_key


def test_the_instance_page_and_the_task_form_mask_for_whoever_may_not_reveal(
    web: tuple[TestClient, Engine],
) -> None:
    client, engine = web
    key, task = _web_instance(engine)

    _sign_in(client, "olga")
    page = client.get(f"/cockpit/instances/{key}").text
    assert "Ada" in page and SSN not in page and IBAN not in page

    _sign_in(client, "sam")
    for path in (f"/tasks/{task}", f"/tasks/{task}/data.json"):
        shown = client.get(path).text
        assert "Ada" in shown and SSN not in shown and IBAN not in shown, path

    _sign_in(client, "admin")
    assert IBAN in client.get(f"/cockpit/instances/{key}").text


def test_a_task_form_saved_with_the_masks_it_showed_keeps_the_real_values(
    web: tuple[TestClient, Engine],
) -> None:
    client, engine = web
    key, task = _web_instance(engine)
    _sign_in(client, "sam")
    data = client.get(f"/tasks/{task}/data.json").json()
    data["applicant"]["name"] = "Ada L."

    done = client.post(
        f"/tasks/{task}/complete",
        json=data,
        headers={"X-CSRF-Token": csrf_token_for(client.cookies[SESSION_COOKIE])},
        follow_redirects=False,
    )

    assert done.status_code in (200, 303), done.text
    assert engine.instance(key).variables["applicant"] == {"name": "Ada L.", "ssn": SSN}
    assert engine.instance(key).variables["iban"] == IBAN


def test_incident_groups_quote_no_sensitive_value_to_an_operator(api: Api) -> None:
    deploy(api, "onboarding.bpmn", ONBOARDING)
    key = start(api, "onboarding", applicant={"ssn": SSN}, iban=IBAN)
    (job,) = activate(api)
    api.client.post(
        f"/v2/jobs/{job['jobKey']}/failure",
        json={"retries": 0, "errorMessage": f"bank refused {IBAN}"},
        **api.as_("worker"),
    )

    groups = api.client.get("/legato/v1/incident-groups", **api.as_("op")).json()
    (group,) = groups
    members = api.client.get(
        f"/legato/v1/incident-groups/{group['group']}/incidents", **api.as_("op")
    ).json()["items"]
    (admin_group,) = api.client.get("/legato/v1/incident-groups", **api.as_("admin")).json()

    assert group["message"] == "bank refused ****"
    assert [m["instanceKey"] for m in members] == [key]
    assert "DE89" not in str(members) and "DE89" in admin_group["message"]


def test_the_incidents_page_groups_masked_messages(web: tuple[TestClient, Engine]) -> None:
    client, engine = web
    engine.deploy(ONBOARDING)

    engine.start("onboarding", {"applicant": {"ssn": SSN}, "iban": IBAN})
    (job,) = engine.activate_jobs("charge", worker="w")
    engine.fail_job(job.key, f"bank refused {job.variables['iban']}", retryable=False)

    _sign_in(client, "olga")
    page = client.get("/cockpit/incidents").text
    _sign_in(client, "admin")
    shown = client.get("/cockpit/incidents").text

    assert "bank refused ****" in page and "DE89" not in page
    assert "DE89" in shown


def test_the_c7_queries_refuse_a_condition_on_a_sensitive_value(api: Api) -> None:
    _at_review(api)
    condition = {"processVariables": [{"name": "iban", "value": IBAN}]}
    probes = [
        ("GET", "/engine-rest/task", {"processVariables": f"iban_eq_{IBAN}"}, None),
        ("POST", "/engine-rest/task", None, condition),
        ("GET", "/engine-rest/process-instance", {"variables": "iban_like_DE89%"}, None),
    ]
    for method, path, params, body in probes:
        refused = api.client.request(method, path, params=params, json=body, **api.as_("op"))
        allowed = api.client.request(method, path, params=params, json=body, **api.as_("admin"))

        assert refused.status_code == 403, (path, refused.text)
        assert "'iban' is sensitive in onboarding" in refused.text
        assert "variables:reveal" in refused.text
        assert allowed.status_code == 200 and len(allowed.json()) == 1, (path, allowed.text)
    other = {"processVariables": "note_eq_x"}
    assert api.client.get("/engine-rest/task", params=other, **api.as_("op")).status_code == 200


def test_the_instance_list_refuses_a_filter_on_a_sensitive_value(
    web: tuple[TestClient, Engine],
) -> None:
    client, engine = web
    key, _ = _web_instance(engine)
    probe = {"process": "onboarding", "variable": "iban", "value": IBAN}

    _sign_in(client, "olga")
    refused = client.get("/cockpit/instances", params=probe)
    _sign_in(client, "admin")
    allowed = client.get("/cockpit/instances", params=probe)

    assert refused.status_code == 400
    assert "&#39;iban&#39; is sensitive in onboarding" in refused.text
    assert f"/cockpit/instances/{key}" not in refused.text
    assert allowed.status_code == 200 and f"/cockpit/instances/{key}" in allowed.text
