"""``step()`` called directly: the exact events a command emits, with no store or runtime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from bpmn_helpers import chain, flow, process, service
from legato.bpmn import read_bpmn
from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.context import DeployedProcess, EngineContext
from legato.engine.state import InstanceState
from legato.engine.step import step
from step_helpers import OneProcess

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 1, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_every_store() -> None:
    """The pure core needs no store: these tests run once, not once per store."""


def _context(xml: str) -> EngineContext:
    deployed = DeployedProcess(
        definition_key=1, process_id="p", version=1, process=read_bpmn(xml).processes[0]
    )
    keys = count(100)
    return EngineContext(now=NOW, new_key=lambda: next(keys), definitions=OneProcess(deployed))


def _start(ctx: EngineContext, **variables: Any) -> tuple[InstanceState, list[ev.Event]]:
    result = step(
        None, cmd.StartInstance(instance_key=1, definition_key=1, variables=variables), ctx
    )
    return result.state, result.events


def _at(kind: Callable[..., ev.Event], **fields: Any) -> ev.Event:
    return kind(at=NOW, **fields)


ONE_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service("a", "work")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "a", "e")
)


ONE_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service("a", "work")
    + '<bpmn:endEvent id="e"/>'
    + chain("s", "a", "e")
)


def test_a_start_runs_to_the_job_of_a_service_task() -> None:
    ctx = _context(ONE_TASK)

    _, events = _start(ctx, x=1)

    assert events == [
        _at(
            ev.InstanceCreated,
            instance_key=1,
            definition_key=1,
            process_id="p",
            version=1,
        ),
        _at(ev.VariableSet, scope_key=1, name="x", value=1),
        _at(ev.ElementActivated, key=100, element_id="s", element_kind="startEvent", parent_key=1),
        _at(ev.ElementCompleted, key=100, element_id="s"),
        _at(
            ev.ElementActivated,
            key=101,
            element_id="a",
            element_kind="serviceTask",
            parent_key=1,
            flow_id="f_s_a",
        ),
        _at(
            ev.JobCreated,
            job_key=102,
            element_instance_key=101,
            element_id="a",
            job_type="work",
            retries=3,
        ),
    ]


FORK_AND_JOIN = process(
    '<bpmn:startEvent id="s"/>'
    + service("a", "work")
    + '<bpmn:exclusiveGateway id="x" default="f_no"/><bpmn:parallelGateway id="fork"/>'
    '<bpmn:task id="b"/><bpmn:task id="c"/><bpmn:parallelGateway id="join"/>'
    '<bpmn:endEvent id="e"/><bpmn:endEvent id="no"/>'
    + chain("s", "a", "x")
    + flow("f_yes", "x", "fork", "ok")
    + flow("f_no", "x", "no")
    + chain("fork", "b", "join", prefix="fb")
    + chain("fork", "c", "join", prefix="fc")
    + flow("f_end", "join", "e")
)


def _activated(key: int, element_id: str, kind: str, flow_id: str | None) -> ev.Event:
    return _at(
        ev.ElementActivated,
        key=key,
        element_id=element_id,
        element_kind=kind,
        parent_key=1,
        flow_id=flow_id,
    )


def test_a_job_completion_goes_through_an_exclusive_gateway_a_fork_and_a_join() -> None:
    ctx = _context(FORK_AND_JOIN)
    state, _ = _start(ctx)

    result = step(state, cmd.CompleteJob(instance_key=1, job_key=102, variables={"ok": True}), ctx)

    assert result.events == [
        _at(ev.JobCompleted, job_key=102, variables={"ok": True}),
        _at(ev.VariableSet, scope_key=1, name="ok", value=True),
        _at(ev.ElementCompleted, key=101, element_id="a"),
        _activated(103, "x", "exclusiveGateway", "f_a_x"),
        _at(ev.ElementCompleted, key=103, element_id="x"),
        _activated(104, "fork", "parallelGateway", "f_yes"),
        _at(ev.ElementCompleted, key=104, element_id="fork"),
        _activated(105, "b", "task", "fb_fork_b"),
        _activated(106, "c", "task", "fc_fork_c"),
        _at(ev.ElementCompleted, key=105, element_id="b"),
        _at(ev.JoinTokenArrived, scope_key=1, element_id="join", flow_id="fb_b_join"),
        _at(ev.ElementCompleted, key=106, element_id="c"),
        _at(ev.JoinTokenArrived, scope_key=1, element_id="join", flow_id="fc_c_join"),
        _at(
            ev.JoinTokensConsumed,
            scope_key=1,
            element_id="join",
            consumed={"fb_b_join": 1, "fc_c_join": 1},
        ),
        _activated(107, "join", "parallelGateway", None),
        _at(ev.ElementCompleted, key=107, element_id="join"),
        _activated(108, "e", "endEvent", "f_end"),
        _at(ev.ElementCompleted, key=108, element_id="e"),
        _at(ev.InstanceCompleted),
    ]
    assert result.state.status == "completed"


BOUNDARY_TIMER = process(
    '<bpmn:startEvent id="s"/>'
    + service("a", "work")
    + '<bpmn:endEvent id="e"/><bpmn:endEvent id="late"/>'
    '<bpmn:boundaryEvent id="t" attachedToRef="a"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    "</bpmn:boundaryEvent>" + chain("s", "a", "e") + flow("f_t", "t", "late")
)


def test_a_boundary_timer_fires_ends_the_task_and_leaves_along_its_own_flow() -> None:
    ctx = _context(BOUNDARY_TIMER)
    state, started = _start(ctx)
    assert started[-2:] == [
        _at(
            ev.TimerScheduled,
            timer_key=102,
            element_instance_key=101,
            element_id="t",
            due_at=LATER,
        ),
        _at(
            ev.JobCreated,
            job_key=103,
            element_instance_key=101,
            element_id="a",
            job_type="work",
            retries=3,
        ),
    ]

    ctx.now = LATER
    result = step(state, cmd.TriggerTimer(instance_key=1, timer_key=102), ctx)

    late = {"at": LATER}
    assert result.events == [
        ev.TimerTriggered(**late, timer_key=102, element_id="t"),
        ev.JobCanceled(**late, job_key=103),
        ev.ElementTerminated(**late, key=101, element_id="a"),
        ev.ElementActivated(
            **late, key=104, element_id="t", element_kind="boundaryEvent", parent_key=1
        ),
        ev.ElementCompleted(**late, key=104, element_id="t"),
        ev.ElementActivated(
            **late,
            key=105,
            element_id="late",
            element_kind="endEvent",
            parent_key=1,
            flow_id="f_t",
        ),
        ev.ElementCompleted(**late, key=105, element_id="late"),
        ev.InstanceCompleted(**late),
    ]


def test_a_failed_job_raises_an_incident_whose_retry_makes_the_job_available_again() -> None:
    ctx = _context(ONE_TASK)
    state, _ = _start(ctx)

    failed = step(
        state, cmd.FailJob(instance_key=1, job_key=102, error_message="down", retries=0), ctx
    )
    assert failed.events == [
        _at(ev.JobFailed, job_key=102, retries=0, error_message="down", element_id="a"),
        _at(
            ev.IncidentRaised,
            incident_key=103,
            element_instance_key=101,
            element_id="a",
            error_type="job_failed",
            message="down",
            phase="job",
            job_key=102,
        ),
    ]

    retried = step(
        failed.state, cmd.ResolveIncident(instance_key=1, incident_key=103, retries=2), ctx
    )
    assert retried.events == [
        _at(ev.JobRetriesUpdated, job_key=102, retries=2),
        _at(ev.IncidentResolved, incident_key=103),
    ]
    assert retried.state.jobs[102].retries == 2 and not retried.state.jobs[102].failed

    done = step(retried.state, cmd.CompleteJob(instance_key=1, job_key=102), ctx)
    assert done.events == [
        _at(ev.JobCompleted, job_key=102, variables={}),
        _at(ev.ElementCompleted, key=101, element_id="a"),
        _activated(104, "e", "endEvent", "f_a_e"),
        _at(ev.ElementCompleted, key=104, element_id="e"),
        _at(ev.InstanceCompleted),
    ]
