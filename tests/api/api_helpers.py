"""Requests the in-process API tests make again and again."""

from __future__ import annotations

from typing import Any

from api_support import Api


def deploy(api: Api, name: str, xml: str, who: str = "admin") -> Any:
    answer = api.client.post(
        "/v2/deployments", files={"resources": (name, xml.encode())}, **api.as_(who)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def start(api: Api, process_id: str, **variables: Any) -> str:
    answer = api.client.post(
        "/v2/process-instances",
        json={"processDefinitionId": process_id, "variables": variables},
        **api.as_("admin"),
    )
    assert answer.status_code == 200, answer.text
    key: str = answer.json()["processInstanceKey"]
    return key


def activate(api: Api, who: str = "worker", job_type: str = "charge") -> list[dict[str, Any]]:
    answer = api.client.post(
        "/v2/jobs/activation",
        json={"type": job_type, "timeout": 30_000, "maxJobsToActivate": 5, "requestTimeout": -1},
        **api.as_(who),
    )
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, Any]] = answer.json()["jobs"]
    return jobs


def assert_problem(answer: Any, status: int, *words: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    for word in words:
        assert word in body["detail"]
    return body
