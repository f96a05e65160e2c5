"""Straight elements (none events, start events, gateways) entered and left within the
completion that reaches them: the same events, in the same order, as when each activation and
completion is planned on the agenda."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from bpmn_helpers import chain, flow, process, service
from legato.bpmn import read_bpmn
from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.appliers import replay
from legato.engine.context import DeployedProcess, EngineContext
from legato.engine.plan import compile_plan
from legato.engine.state import InstanceState
from legato.engine.step import step
from step_helpers import OneProcess

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_every_store() -> None:
    """The pure core needs no store: these tests run once, not once per store."""


class _Run:
    """One instance stepped command by command; its state checked against its replayed
    history after every step."""

    def __init__(self, xml: str, **variables: Any) -> None:
        self.process = read_bpmn(xml).processes[0]
        deployed = DeployedProcess(
            definition_key=1, process_id="p", version=1, process=self.process
        )
        keys = count(100)
        self.ctx = EngineContext(
            now=NOW, new_key=lambda: next(keys), definitions=OneProcess(deployed)
        )
        self.history: list[ev.Event] = []
        self.state: InstanceState | None = None
        self.events = self.do(
            cmd.StartInstance(instance_key=1, definition_key=1, variables=variables)
        )

    def do(self, command: cmd.Command) -> list[ev.Event]:
        result = step(self.state, command, self.ctx)
        self.state = result.state
        self.history += result.events
        assert json.dumps(self.state.to_json()) == json.dumps(replay(1, self.history).to_json())
        return result.events


def _names(events: list[ev.Event]) -> list[str]:
    return [
        f"{type(event).__name__} {getattr(event, 'element_id', '')}".rstrip() for event in events
    ]


def test_the_plan_marks_what_completes_on_entry_as_straight() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x"/>'
        '<bpmn:intermediateThrowEvent id="i"/>'
        + service("a", "work")
        + '<bpmn:intermediateCatchEvent id="m"><bpmn:messageEventDefinition/>'
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:parallelGateway id="g"><bpmn:extensionElements><zeebe:ioMapping>'
        '<zeebe:output source="=1" target="one"/></zeebe:ioMapping></bpmn:extensionElements>'
        '</bpmn:parallelGateway><bpmn:endEvent id="e"/>' + chain("s", "x", "i", "a", "m", "g", "e")
    )
    plan = compile_plan(read_bpmn(xml).processes[0])

    straight = {node.element_id for node in plan.nodes.values() if node.straight}

    assert straight == {"s", "x", "i", "e"}  # not a task, a catch event, a mapped gateway


def test_a_long_segment_of_straight_elements_runs_in_one_step_without_deep_recursion() -> None:
    length = 3000  # several times Python's recursion limit in frames
    ids = [f"i{n}" for n in range(length)]
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + "".join(f'<bpmn:intermediateThrowEvent id="{i}"/>' for i in ids)
        + '<bpmn:endEvent id="e"/>'
        + chain("s", *ids, "e")
    )

    run = _Run(xml)

    assert run.state is not None and run.state.status == "completed"
    assert _names(run.events)[-3:] == [
        "ElementActivated e",
        "ElementCompleted e",
        "InstanceCompleted",
    ]
    assert len(run.events) == 1 + 2 * (length + 2) + 1  # created, each in and out, completed


def test_parallel_branches_of_straight_elements_stay_breadth_first() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>'
        '<bpmn:intermediateThrowEvent id="i1"/><bpmn:intermediateThrowEvent id="i2"/>'
        '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
        + chain("s", "fork")
        + chain("fork", "i1", "e1", prefix="a")
        + chain("fork", "i2", "e2", prefix="b")
    )

    run = _Run(xml)

    assert _names(run.events) == [
        "InstanceCreated",
        "ElementActivated s",
        "ElementCompleted s",
        "ElementActivated fork",
        "ElementCompleted fork",
        "ElementActivated i1",
        "ElementActivated i2",
        "ElementCompleted i1",
        "ElementActivated e1",
        "ElementCompleted i2",
        "ElementActivated e2",
        "ElementCompleted e1",
        "ElementCompleted e2",
        "InstanceCompleted",
    ]


def test_a_gateway_in_a_straight_segment_with_no_true_condition_stops_with_an_incident() -> None:
    xml = process(
        '<bpmn:startEvent id="s"/>'
        + service("a", "work")
        + '<bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        + chain("s", "a", "x")
        + flow("f_ok", "x", "e", "ok")
    )
    run = _Run(xml, ok=False)
    assert run.state is not None
    [job] = run.state.jobs

    events = run.do(cmd.CompleteJob(instance_key=1, job_key=job))

    assert _names(events) == [
        "JobCompleted",
        "ElementCompleted a",
        "ElementActivated x",
        "IncidentRaised x",
    ]
    raised = events[-1]
    assert isinstance(raised, ev.IncidentRaised)
    assert (raised.phase, raised.error_type) == ("complete", "condition")
    assert [e.element_id for e in run.state.elements.values()] == ["p", "x"]

    run.do(cmd.SetVariables(instance_key=1, scope_key=1, variables={"ok": True}))
    events = run.do(cmd.ResolveIncident(instance_key=1, incident_key=raised.incident_key))

    assert _names(events)[-4:] == [
        "ElementCompleted x",
        "ElementActivated e",
        "ElementCompleted e",
        "InstanceCompleted",
    ]
