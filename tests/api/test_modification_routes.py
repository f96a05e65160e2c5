"""``POST /legato/v1/instances/{key}/modification``: tokens started and cancelled over HTTP,
who did it, refusals naming the element, unknown instances, who may not."""

from __future__ import annotations

from typing import Any

from api_helpers import activate, assert_problem, deploy, start
from api_models import ORDER, PAYMENT
from api_support import Api


def _modify(api: Api, key: str, *instructions: dict[str, Any], who: str = "op") -> Any:
    body = {"instructions": list(instructions)}
    return api.client.post(f"/legato/v1/instances/{key}/modification", json=body, **api.as_(who))


def test_a_stuck_instance_is_moved_on_and_the_operator_recorded(api: Api) -> None:
    deploy(api, "payment.bpmn", PAYMENT)
    key = start(api, "payment", orderId="o-7")
    answer = _modify(
        api, key, {"cancel": "wait_paid"}, {"startAfter": "wait_paid", "variables": {"paid": 1}}
    )
    assert answer.status_code == 204, answer.text
    info = api.engine.instance(int(key))
    assert (info.status, info.variables["paid"]) == ("completed", 1)
    history = api.client.get(f"/legato/v1/instances/{key}/history", **api.as_("audit")).json()
    [modified] = [e["details"] for e in history["items"] if e["eventType"] == "InstanceModified"]
    assert modified["by"] == "op"


def test_a_token_restarted_before_a_task_gets_a_new_job(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    [job] = activate(api)
    state = api.engine.state(int(key))
    [charge] = [e.key for e in state.elements.values() if e.element_id == "charge"]
    answer = _modify(api, key, {"cancelInstance": str(charge)}, {"startBefore": "charge"})
    assert answer.status_code == 204, answer.text
    [again] = activate(api)
    assert again["jobKey"] != job["jobKey"]


def test_refusals_name_the_element_and_unknown_instances_are_404(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=3)
    assert_problem(_modify(api, key, {"startBefore": "ship"}), 400, key, "'ship'")
    assert_problem(_modify(api, key, {"cancel": "e"}), 400, "no token is active at 'e'")
    two = {"cancel": "charge", "startBefore": "e"}
    assert_problem(_modify(api, key, two), 400, "instructions[0]", "exactly one")
    stray = {"cancel": "charge", "variables": {"a": 1}}
    assert_problem(_modify(api, key, stray), 400, "variables go with")
    assert_problem(_modify(api, key), 400)
    assert_problem(_modify(api, "987654", {"cancel": "charge"}), 404, "987654")
    assert_problem(_modify(api, key, {"cancel": "charge"}, who="ann"), 403, "instances:modify")
    assert api.engine.instance(int(key)).active_elements == ("charge",)
