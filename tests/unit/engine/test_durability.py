"""History replay, idempotent starts, versions, and the same behaviour on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpmn_helpers import chain, flow, process, service
from legato import Engine, InvalidCommandError, NotFoundError
from legato.testing import TestEngine

ROOT = Path(__file__).resolve().parents[3]
ONBOARDING = ROOT / "examples" / "onboarding" / "onboarding.bpmn"

MIXED = process(
    '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
    + service("a", "work")
    + '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/>'
    + service("b", "work")
    + '<bpmn:endEvent id="se"/>'
    + chain("ss", "b", "se", prefix="i")
    + "</bpmn:subProcess>"
    + '<bpmn:userTask id="u"/><bpmn:parallelGateway id="join"/>'
    + '<bpmn:exclusiveGateway id="x" default="fd"/><bpmn:task id="t1"/><bpmn:endEvent id="e"/>'
    + chain("s", "fork")
    + flow("f1", "fork", "a")
    + flow("f2", "fork", "sub")
    + flow("f3", "fork", "u")
    + flow("j1", "a", "join")
    + flow("j2", "sub", "join")
    + flow("j3", "u", "join")
    + chain("join", "x")
    + flow("fc", "x", "t1", "n > 1")
    + flow("fd", "x", "e")
    + chain("t1", "e", prefix="z")
)


def _drive(engine: Engine) -> list[int]:
    engine.deploy(MIXED)
    engine.register("work", lambda job: {"n": 2, job.element_id: [1.5, {"k": None}]})
    keys = []
    for _ in range(3):
        instance = engine.start("p", {"n": 0})
        keys.append(instance.key)
    engine.run_until_idle()
    for task in engine.user_tasks():
        engine.complete_user_task(task.user_task_key, {"approved": True})
    return keys


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_history_replays_into_the_stored_state(backend: str, tmp_path: Path) -> None:
    engine = TestEngine() if backend == "memory" else Engine(f"sqlite:///{tmp_path / 'r.db'}")
    keys = _drive(engine)
    waiting = engine.start("p", {"n": 0})
    for key in [*keys, waiting.key]:
        stored = engine.state(key)
        assert engine.replay(key).to_json() == stored.to_json()
    assert all(engine.instance(k).status == "completed" for k in keys)
    engine.close()


def test_same_request_id_and_business_key_start_one_instance(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'i.db'}")
    engine.deploy(MIXED)
    first = engine.start("p", {"n": 0}, business_key="cust-42", request_id="req-1")
    again = engine.start("p", {"n": 0}, business_key="cust-42", request_id="req-1")
    other = engine.start("p", {"n": 0}, business_key="cust-43", request_id="req-1")
    assert again.key == first.key
    assert other.key != first.key
    assert len(engine.instances()) == 2
    engine.close()


def test_instances_survive_a_reopen_of_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    engine = Engine(url)
    engine.deploy(MIXED)
    instance = engine.start("p", {"n": 5})
    engine.close()

    reopened = Engine(url)
    reopened.register("work", lambda job: None)
    reopened.run_until_idle()
    [task] = reopened.user_tasks()
    reopened.complete_user_task(task.user_task_key)
    info = reopened.instance(instance.key)
    assert info.status == "completed"
    assert "t1" in [h.element_id for h in reopened.history(instance.key)]
    reopened.close()


def test_redeploying_changed_content_makes_a_new_version_and_old_instances_keep_theirs() -> None:
    engine = TestEngine()
    v1 = engine.deploy(MIXED).processes[0]
    assert engine.deploy(MIXED).processes[0].version == 1
    old = engine.start("p", {"n": 0})
    changed = MIXED.replace('<bpmn:task id="t1"/>', '<bpmn:task id="t1" name="renamed"/>')
    v2 = engine.deploy(changed).processes[0]
    assert (v1.version, v2.version) == (1, 2)
    new = engine.start("p", {"n": 0})
    pinned = engine.start("p", {"n": 0}, version=1)
    assert (engine.instance(old.key).version, new.version, pinned.version) == (1, 2, 1)
    with pytest.raises(NotFoundError):
        engine.start("p", version=7)
    with pytest.raises(NotFoundError):
        engine.start("nope")


def test_variables_that_cannot_be_stored_are_refused_and_nothing_is_started() -> None:
    engine = TestEngine()
    engine.deploy(MIXED)
    with pytest.raises(InvalidCommandError, match="cannot store"):
        engine.start("p", {"n": object()})
    assert engine.instances() == []


def test_two_engines_on_one_database_see_each_others_changes(tmp_path: Path) -> None:
    """A worker process and the command line share a database: cached states stay current."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    worker, cli = Engine(url), Engine(url)
    worker.deploy(
        process(
            '<bpmn:startEvent id="s"/><bpmn:userTask id="u"/>'
            + service("after", "work")
            + '<bpmn:endEvent id="e"/>'
            + chain("s", "u", "after", "e")
        )
    )
    worker.register("work", lambda job: {"done": job.variables["approved"]})
    instance = worker.start("p")  # the worker caches the instance, waiting at the user task
    [task] = cli.user_tasks()
    cli.complete_user_task(task.user_task_key, {"approved": True})  # moved on elsewhere
    assert worker.run_once() == 1
    info = cli.instance(instance.key)
    assert info.status == "completed" and info.variables["done"] is True
    assert worker.replay(instance.key).to_json() == worker.state(instance.key).to_json()
    worker.close()
    cli.close()
