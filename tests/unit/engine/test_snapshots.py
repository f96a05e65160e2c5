"""The state snapshot (``InstanceState.to_json``) reuses the parts it encoded before.

After every command the runtime saves the instance's snapshot. The parts that did not change
since the last one (a scope's variables, an element instance) are not encoded again: these
tests take a snapshot after every step of one state, and compare it, byte for byte, with the
snapshot of a state replayed from the same history (encoded from scratch), after each kind of
change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from bpmn_helpers import chain, process, service
from legato.bpmn import read_bpmn
from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.appliers import replay
from legato.engine.context import DeployedProcess, EngineContext
from legato.engine.state import InstanceState
from legato.engine.step import step
from step_helpers import OneProcess

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_every_store() -> None:
    """The pure core needs no store: these tests run once, not once per store."""


class _Run:
    """One instance stepped command by command, its snapshot checked after every step."""

    def __init__(self, xml: str, **variables: Any) -> None:
        deployed = DeployedProcess(
            definition_key=1, process_id="p", version=1, process=read_bpmn(xml).processes[0]
        )
        keys = count(100)
        self.ctx = EngineContext(
            now=NOW, new_key=lambda: next(keys), definitions=OneProcess(deployed)
        )
        self.history: list[ev.Event] = []
        self.state: InstanceState | None = None
        self.snapshots = 0
        self.do(cmd.StartInstance(instance_key=1, definition_key=1, variables=variables))

    def do(self, command: cmd.Command) -> list[ev.Event]:
        result = step(self.state, command, self.ctx)
        self.state = result.state
        self.history += result.events
        self.check()
        return result.events

    def check(self) -> None:
        assert self.state is not None
        cached = json.dumps(self.state.to_json())
        fresh = json.dumps(replay(1, self.history).to_json())
        assert cached == fresh
        self.snapshots += 1

    @property
    def current(self) -> InstanceState:
        assert self.state is not None
        return self.state

    def job(self, element_id: str) -> int:
        [key] = [
            job.job_key
            for job in self.current.jobs.values()
            if self.current.elements[job.element_instance_key].element_id == element_id
        ]
        return key

    def jobs(self, element_id: str) -> list[int]:
        return sorted(
            job.job_key
            for job in self.current.jobs.values()
            if self.current.elements[job.element_instance_key].element_id == element_id
        )

    def element(self, element_id: str) -> int:
        [key] = [e.key for e in self.current.elements.values() if e.element_id == element_id]
        return key


SUB_MI_TASK = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:subProcess id="sub"><bpmn:extensionElements><zeebe:ioMapping>'
    '<zeebe:input source="=1" target="inner"/></zeebe:ioMapping></bpmn:extensionElements>'
    '<bpmn:startEvent id="ss"/>'
    + service("a", "work")
    + '<bpmn:endEvent id="se"/>'
    + chain("ss", "a", "se", prefix="i")
    + "</bpmn:subProcess>"
    + '<bpmn:serviceTask id="each"><bpmn:extensionElements>'
    '<zeebe:taskDefinition type="each"/></bpmn:extensionElements>'
    "<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
    '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item"'
    ' outputCollection="results" outputElement="=item * 2"/></bpmn:extensionElements>'
    "</bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>"
    + '<bpmn:userTask id="approve"/>'
    + service("last", "last")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "sub", "each", "approve", "last", "e")
)


def test_variables_set_updated_nulled_and_scopes_removed_encode_as_from_scratch() -> None:
    run = _Run(SUB_MI_TASK, items=[1, 2], note="first", amount=1.5)
    sub = run.element("sub")
    # A local variable updated and one added, in a sub-process's scope.
    run.do(cmd.SetVariables(instance_key=1, variables={"inner": 2, "extra": "x"}, scope_key=sub))
    # Root variables updated, added (a nested value) and set to null, in one step.
    run.do(cmd.SetVariables(instance_key=1, variables={"note": "second", "added": {"k": [1]}}))
    run.do(cmd.SetVariables(instance_key=1, variables={"amount": None, "note": "third"}))
    # The task's job completes: the sub-process ends (its scope goes), the multi-instance
    # body starts with an inner instance (and a scope) per item.
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("a"), variables={"note": "4"}))
    assert sub not in run.current.variables
    first, second = run.jobs("each")
    run.do(cmd.CompleteJob(instance_key=1, job_key=first, local_variables={"own": 1}))
    run.do(cmd.CompleteJob(instance_key=1, job_key=second))
    assert run.current.variables[1]["results"] == [2, 4]
    assert run.snapshots == 7


def test_elements_added_changed_and_removed_encode_as_from_scratch() -> None:
    run = _Run(SUB_MI_TASK, items=[1, 2, 3], note="n")
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("a")))
    # An incident on an inner instance's job, then resolved with new retries.
    first, second, third = run.jobs("each")
    run.do(cmd.FailJob(instance_key=1, job_key=first, error_message="down", retries=0))
    [incident] = run.current.incidents
    run.do(cmd.ResolveIncident(instance_key=1, incident_key=incident, retries=2))
    run.do(cmd.CompleteJob(instance_key=1, job_key=second))
    run.do(cmd.SuspendInstance(instance_key=1))
    run.do(cmd.ResumeInstance(instance_key=1))
    run.do(cmd.CompleteJob(instance_key=1, job_key=first))
    run.do(cmd.CompleteJob(instance_key=1, job_key=third))
    # The user task: created, assigned, completed.
    [task] = run.current.user_tasks
    run.do(cmd.AssignUserTask(instance_key=1, user_task_key=task, assignee="ada"))
    run.do(cmd.CompleteUserTask(instance_key=1, user_task_key=task, variables={"ok": True}))
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("last")))
    assert run.current.status == "completed"
    assert run.current.to_json()["elements"] == []


def test_an_element_added_beside_waiting_ones_encodes_as_from_scratch() -> None:
    # A non-interrupting event sub-process starts beside the waiting task: the process's
    # element instance gains a child and nothing else in it changes.
    xml = process(
        '<bpmn:startEvent id="s"/>' + service("wait", "wait") + '<bpmn:endEvent id="e"/>'
        '<bpmn:subProcess id="esp" triggeredByEvent="true">'
        '<bpmn:startEvent id="tick" isInterrupting="false"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:startEvent>"
        + service("remind", "remind")
        + '<bpmn:endEvent id="re"/>'
        + chain("tick", "remind", "re", prefix="r")
        + "</bpmn:subProcess>"
        + chain("s", "wait", "e")
    )
    run = _Run(xml)
    [timer] = run.current.timers
    run.do(cmd.TriggerTimer(instance_key=1, timer_key=timer))
    assert run.current.elements[1].children == {run.element("wait"), run.element("esp")}
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("remind")))
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("wait")))
    assert run.current.status == "completed"


def test_a_cancelled_instance_encodes_as_from_scratch() -> None:
    run = _Run(SUB_MI_TASK, items=[1], note="n")
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("a")))
    run.do(cmd.CancelInstance(instance_key=1))
    assert run.current.status == "terminated"
    assert run.current.to_json()["elements"] == []


def _compensable(task: str, handler: str) -> str:
    return (
        service(task, "work") + f'<bpmn:boundaryEvent id="{task}_undo" attachedToRef="{task}">'
        "<bpmn:compensateEventDefinition/></bpmn:boundaryEvent>"
        + service(handler, "undo", attrs='isForCompensation="true"')
        + f'<bpmn:association id="{task}_a" sourceRef="{task}_undo" targetRef="{handler}"/>'
    )


def test_compensation_queues_encode_as_from_scratch() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + _compensable("a", "undo_a")
        + _compensable("b", "undo_b")
        + '<bpmn:intermediateThrowEvent id="undo"><bpmn:compensateEventDefinition/>'
        '</bpmn:intermediateThrowEvent><bpmn:endEvent id="e"/>' + chain("s", "a", "b", "undo", "e")
    )
    run = _Run(xml)
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("a")))
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("b")))
    # The throw event waits for its handlers, one after the other (its queue shrinks).
    assert run.current.elements[run.element("undo")].compensation_queue
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("undo_b")))
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("undo_a")))
    assert run.current.status == "completed"


def test_a_state_read_back_encodes_as_it_was_stored_and_goes_on() -> None:
    run = _Run(SUB_MI_TASK, items=[1, 2], note="n", amount=2.5)
    stored = json.dumps(run.current.to_json())
    read_back = InstanceState.from_json(json.loads(stored))
    assert json.dumps(read_back.to_json()) == stored
    run.state = read_back
    run.do(cmd.CompleteJob(instance_key=1, job_key=run.job("a"), variables={"note": "m"}))
    run.do(cmd.SetVariables(instance_key=1, variables={"note": None}))
