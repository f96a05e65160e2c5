"""Modifying an instance from its cockpit page: the form lists the active tokens and the
model's elements; posting it cancels tokens and starts one, recorded with the operator;
wrong input is named at the form; an auditor may not."""

from __future__ import annotations

import re

from cockpit_support import csrf_of, deploy_check, start
from web_support import session_client

from legato.testing.server import LegatoServer, admin_client


def _history(server: LegatoServer, key: str, event_type: str) -> list[dict[str, object]]:
    with admin_client(server) as http:
        items = http.get(f"/legato/v1/instances/{key}/history").json()["items"]
    return [e["details"] for e in items if e["eventType"] == event_type]


def _status(server: LegatoServer, key: str) -> tuple[str, dict[str, object]]:
    with admin_client(server) as http:
        shown = http.get(f"/v2/process-instances/{key}").json()
        found = http.post(
            "/v2/variables/search", json={"filter": {"processInstanceKey": key}}
        ).json()
    return shown["state"], {v["name"]: v["value"] for v in found["items"]}


def test_an_operator_moves_a_token_past_the_element_it_is_stuck_at(
    web_server: LegatoServer,
) -> None:
    deploy_check(web_server, "cockpit-modify")
    key = start(web_server, "cockpit-modify", {})
    with session_client(web_server, "operator") as client:
        page = client.get(f"/cockpit/instances/{key}").text
        [token] = re.findall(r'<tr data-token="(\d+)">', page)
        assert "Check (check)" in page and '<option value="done">' in page
        csrf = csrf_of(client, f"/cockpit/instances/{key}")
        path = f"/cockpit/instances/{key}/modify"
        wrong = client.post(path, data={"csrf": csrf, "element": "check", "variables": "{x"})
        assert wrong.status_code == 400 and "Variables: not JSON" in wrong.text
        nothing = client.post(path, data={"csrf": csrf})
        assert nothing.status_code == 400 and "Choose tokens to cancel" in nothing.text
        refused = client.post(
            path, data={"csrf": csrf, "cancel_only": "12345"}, follow_redirects=True
        )
        assert "no active element instance 12345" in refused.text  # flashed on the page
        moved = client.post(
            path,
            data={
                "csrf": csrf,
                "cancel_instance": token,
                "position": "after",
                "element": "check",
                "variables": '{"checked": "by hand"}',
            },
        )
        assert moved.status_code == 303, moved.text
        timeline = client.get(f"/cockpit/instances/{key}").text
        assert "cancel check; start after check; by operator" in timeline
    state, variables = _status(web_server, key)
    assert state == "COMPLETED" and variables["checked"] == '"by hand"'
    [modified] = _history(web_server, key, "InstanceModified")
    assert modified["by"] == "operator"


def test_a_token_is_cancelled_alone_and_an_auditor_may_not_modify(
    web_server: LegatoServer,
) -> None:
    deploy_check(web_server, "cockpit-modify-alone")
    key = start(web_server, "cockpit-modify-alone", {})
    with session_client(web_server, "auditor") as client:
        csrf = csrf_of(client, f"/cockpit/instances/{key}")
        assert 'id="modify-form"' not in client.get(f"/cockpit/instances/{key}").text
        answer = client.post(f"/cockpit/instances/{key}/modify", data={"csrf": csrf})
        assert answer.status_code == 403
    with session_client(web_server, "operator") as client:
        page = client.get(f"/cockpit/instances/{key}").text
        [token] = re.findall(r'<tr data-token="(\d+)">', page)
        csrf = csrf_of(client, f"/cockpit/instances/{key}")
        data = {"csrf": csrf, "cancel_only": token, "element": "done"}  # the start is ignored
        answer = client.post(f"/cockpit/instances/{key}/modify", data=data)
        assert answer.status_code == 303, answer.text
    state, _ = _status(web_server, key)
    assert state == "COMPLETED"  # its last token cancelled
    [modified] = _history(web_server, key, "InstanceModified")
    assert modified["instructions"] == [{"cancel": "check", "element_instance_keys": [int(token)]}]
