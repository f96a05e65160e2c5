"""The ``/legato/v1`` routes in process: nodes and an instance's history."""

from __future__ import annotations

import threading

from api_helpers import assert_problem, deploy, start
from api_models import ORDER
from api_support import Api, wait_until


def test_nodes_are_listed_while_an_engine_serves(api: Api) -> None:
    assert api.client.get("/legato/v1/nodes", **api.as_("audit")).json() == []
    node = threading.Thread(target=api.engine.serve, kwargs={"poll_interval": 0.05})
    node.start()
    try:

        def listed() -> bool:
            nodes = api.client.get("/legato/v1/nodes", **api.as_("audit")).json()
            return bool(nodes) and nodes[0]["status"] == "running"

        wait_until(listed, "the node in /legato/v1/nodes")
    finally:
        api.engine.stop()
        node.join()
    [entry] = api.client.get("/legato/v1/nodes", **api.as_("audit")).json()
    assert entry["nodeId"] == api.engine.worker_name
    assert entry["status"] == "stopped"
    assert_problem(api.client.get("/legato/v1/nodes"), 401)


def test_the_history_of_an_instance_is_read_event_by_event(api: Api) -> None:
    deploy(api, "order.bpmn", ORDER)
    key = start(api, "order", amount=1.5)
    answer = api.client.get(f"/legato/v1/instances/{key}/history", **api.as_("audit")).json()
    assert answer["processInstanceKey"] == key
    events = [e["eventType"] for e in answer["items"]]
    assert events[0] == "InstanceCreated"
    assert "JobCreated" in events
    assert [e["position"] for e in answer["items"]] == list(range(1, len(events) + 1))
    assert all(e["at"].endswith("Z") for e in answer["items"])
    assert_problem(api.client.get("/legato/v1/instances/5/history", **api.as_("audit")), 404)
    assert_problem(api.client.get(f"/legato/v1/instances/{key}/history", **api.as_("worker")), 403)
