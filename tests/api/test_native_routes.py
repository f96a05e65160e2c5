"""The ``/legato/v1`` routes in process: nodes and an instance's history."""

from __future__ import annotations

import re
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


def test_the_interactive_docs_are_served_from_the_server_itself(api: Api) -> None:
    # Without credentials the browser is asked for them (Basic), as for every route.
    refused = api.client.get("/docs")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")

    page = api.client.get("/docs", **api.as_("audit"))
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
    for source in sources:
        asset = api.client.get(source, **api.as_("audit"))
        assert asset.status_code == 200, source
        assert asset.content  # the file itself (a favicon is a few hundred bytes)
    assert "/openapi.json" in page.text
    schema = api.client.get("/openapi.json", **api.as_("audit")).json()
    assert "/v2/jobs/activation" in schema["paths"]
