"""The real ``pycamunda`` 0.6.1, unchanged, against a live Legato server. Its loaders read
every key of Camunda's DTOs (``data['x']``), parse dates with milliseconds and an offset and
incident types into a two-member enum, so each call here checks the full shapes: deploy,
definitions, start, external tasks (fetch, complete, failure to an incident, retries), the
task list (claim, complete), correlation with a result, signals, instances, version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests.auth
from c7_support import ADMIN, MODELS

from legato import Engine
from legato.api.c7 import ids
from legato.api.c7.ids import Kind

pytest.importorskip("pycamunda")

import pycamunda.deployment
import pycamunda.externaltask
import pycamunda.incident
import pycamunda.message
import pycamunda.processdef
import pycamunda.processinst
import pycamunda.signal
import pycamunda.task
import pycamunda.version

AUTH = requests.auth.HTTPBasicAuth(*ADMIN)


def call(request: object) -> object:
    """Send a pycamunda request as the admin (its way: an auth attribute on the request)."""
    request.auth = AUTH  # type: ignore[attr-defined]
    return request()  # type: ignore[operator]


def _key(instance_id: str) -> int:
    key = ids.key_of(Kind.INSTANCE, instance_id)
    assert key is not None
    return key


@pytest.fixture
def url(live_server: str) -> Iterator[str]:
    yield live_server


def test_deploy_list_and_version(url: str, engine: Engine, tmp_path: Path) -> None:
    model = tmp_path / "refund.bpmn"
    model.write_text((MODELS / "payment.bpmn").read_text().replace('id="payment"', 'id="refund"'))
    create = pycamunda.deployment.Create(url, "demo", enable_duplicate_filtering=True)
    with model.open("rb") as resource:
        create.add_resource(resource)
        deployed = call(create)
    [definition] = deployed.deployed_process_definitions.values()  # type: ignore[attr-defined]
    assert definition.key == "refund"
    assert definition.resource == "refund.bpmn"
    found = call(pycamunda.processdef.GetList(url, key="order"))
    assert [d.key for d in found] == ["order"]  # type: ignore[attr-defined]
    assert call(pycamunda.version.Get(url)) == "7.24.0"
    assert engine.start("refund").status == "active"


def test_start_fetch_complete(url: str, engine: Engine) -> None:
    start = pycamunda.processdef.StartInstance(url, key="order", business_key="bk-1")
    start.add_variable("amount", 5)
    started = call(start)
    key = _key(started.id_)  # type: ignore[attr-defined]
    assert started.business_key == "bk-1"  # type: ignore[attr-defined]
    fetch = pycamunda.externaltask.FetchAndLock(url, "pyc-worker", max_tasks=5)
    fetch.add_topic("charge", 10_000, variables=["amount"])
    [task] = call(fetch)  # type: ignore[misc]
    assert task.topic_name == "charge"
    assert task.variables["amount"].value == 5
    complete = pycamunda.externaltask.Complete(url, task.id_, "pyc-worker")
    complete.add_variable("charged", True)
    call(complete)
    info = engine.instance(key)
    assert info.status == "completed"
    assert info.variables["charged"] is True


def test_failure_incident_and_retries(url: str, engine: Engine) -> None:
    key = engine.start("order").key
    fetch = pycamunda.externaltask.FetchAndLock(url, "pyc-worker", max_tasks=1)
    fetch.add_topic("charge", 10_000)
    [task] = call(fetch)  # type: ignore[misc]
    call(
        pycamunda.externaltask.HandleFailure(
            url, task.id_, "pyc-worker", "card declined", "trace", retries=0, retry_timeout=0
        )
    )
    [incident] = call(pycamunda.incident.GetList(url, process_instance_id=task.process_instance_id))  # type: ignore[misc]
    assert incident.incident_type == pycamunda.incident.IncidentType.failed_external_task
    assert incident.incident_message == "card declined"
    assert len(engine.incidents(instance_key=key)) == 1
    shown = call(pycamunda.externaltask.Get(url, task.id_, request_error_details=False))
    assert shown.error_message == "card declined"  # type: ignore[attr-defined]
    call(pycamunda.externaltask.SetRetries(url, task.id_, retries=1))
    assert engine.incidents(instance_key=key) == []


def test_tasks_claim_and_complete(url: str, engine: Engine) -> None:
    key = engine.start("approval").key
    [task] = call(pycamunda.task.GetList(url, candidate_group="sales"))  # type: ignore[misc]
    assert task.process_instance_id == ids.to_uuid(Kind.INSTANCE, key)
    call(pycamunda.task.Claim(url, task.id_, "ann"))
    claimed = call(pycamunda.task.Get(url, task.id_))
    assert claimed.assignee == "ann"  # type: ignore[attr-defined]
    complete = pycamunda.task.Complete(url, task.id_)
    complete.add_variable("approved", True)
    call(complete)
    info = engine.instance(key)
    assert info.status == "completed"
    assert info.variables["approved"] is True


def test_correlate_signal_and_instances(url: str, engine: Engine) -> None:
    paid = engine.start("payment", business_key="p-1")
    dropped = engine.start("payment", business_key="p-2")
    listed = call(pycamunda.processinst.GetList(url, process_definition_key="payment"))
    assert {i.business_key for i in listed} == {"p-1", "p-2"}  # type: ignore[attr-defined]
    [result] = call(
        pycamunda.message.CorrelateSingle(url, "paid", business_key="p-1", result_enabled=True)
    )  # type: ignore[misc]
    assert result.result_type == pycamunda.message.ResultType.execution
    assert engine.instance(paid.key).status == "completed"
    [started] = call(pycamunda.message.CorrelateSingle(url, "kickoff", result_enabled=True))  # type: ignore[misc]
    kicked = _key(started.process_instance.id_)
    call(pycamunda.signal.EventAll(url, "go"))
    assert engine.instance(kicked).status == "completed"
    instance_id = ids.to_uuid(Kind.INSTANCE, dropped.key)
    assert call(pycamunda.processinst.Get(url, instance_id)).business_key == "p-2"  # type: ignore[attr-defined]
    call(pycamunda.processinst.Delete(url, instance_id))
    assert engine.instance(dropped.key).status == "terminated"
