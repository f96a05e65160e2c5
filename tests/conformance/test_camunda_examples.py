"""Camunda 7's example repository, file by file: what a Camunda 7 user gets from Legato.

``camunda-bpm-examples/`` in the corpora (``LEGATO_CORPORA``) holds every BPMN and DMN file
of Camunda 7's example repository (Apache-2.0). Each one is deployed in the compatible
profile: a file that is refused must be listed in :data:`REFUSED` with the reason (the rule
or message the refusal names, and why the reason is real). Each executable process deployed
is then started and driven with generated handlers (one per job type its tasks have, reading
the types from the deployed model as ``legato deploy`` lists them), its user tasks completed,
the messages and signals it waits for published, its timers brought due on the virtual
clock, until it completes; one that cannot is listed in :data:`STOPS_AT` with the element
where it stops and why. The test fails when any of that changes.

Today the 55 files (54 BPMN, 1 DMN) give: 52 deploy (the DMN's two decisions evaluate), 3 are
refused (two scripts in JavaScript, one bean method call), and every executable process of the
51 BPMN files deployed completes; none stops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from legato import Job
from legato.engine.context import DeployedProcess
from legato.errors import BpmnValidationError
from legato.model import Expression, MessageEventDefinition, ProcessDefinition, StartEvent
from legato.testing import TestEngine

_DEFAULT_CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
EXAMPLES = Path(os.environ.get("LEGATO_CORPORA", _DEFAULT_CORPORA)) / "camunda-bpm-examples"

pytestmark = pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason=f"Camunda examples not found at {EXAMPLES}"
)

FILES = (
    sorted(
        str(path.relative_to(EXAMPLES))
        for pattern in ("*.bpmn", "*.dmn")
        for path in EXAMPLES.rglob(pattern)
    )
    if EXAMPLES.is_dir()
    else []
)


@dataclass(frozen=True)
class Refusal:
    """Why a file is refused: a fragment of the error (the rule id or message) and why."""

    fragment: str
    reason: str


@dataclass(frozen=True)
class Stop:
    """Where a started instance stays (an element holding a token or an incident) and why."""

    element_id: str
    reason: str


REFUSED: dict[str, Refusal] = {
    "servicetask/rest-service/src/main/resources/invokeRestService.bpmn": Refusal(
        "a parameter script in javascript format",
        "the HTTP connector's output parameter is a JavaScript file (parseHoliday.js) that "
        "parses the response: Legato runs no JavaScript inside the engine (the connector "
        "itself is a job of type http-connector that a handler runs)",
    ),
    "spring-boot-starter/external-task-client/loan-granting-spring-boot-webapp/"
    "src/main/resources/bpmn/loan-granting.bpmn": Refusal(
        "a parameter script in javascript format",
        "an input parameter is a JavaScript script: Legato evaluates FEEL (and JUEL translated "
        "to it), and runs no JavaScript inside the engine",
    ),
    "testing/assert/job-announcement-publication-process/src/test/resources/"
    "camunda-testing-job-announcement.bpmn": Refusal(
        "method 'findRequester' has no FEEL translation",
        "the user tasks' assignees call a Spring bean's method "
        "(#{jobAnnouncementService.findRequester(jobAnnouncementId)}): a JUEL method call with "
        "no FEEL equivalent, since no Java bean runs inside the engine",
    ),
}
"""Files refused in the compatible profile, by path under ``camunda-bpm-examples/``."""

COMPANIONS: dict[str, tuple[str, ...]] = {
    "multi-tenancy/tenant-identifier-shared-definitions/src/main/resources/processes/default/"
    "mainProcess.bpmn": (
        "multi-tenancy/tenant-identifier-shared-definitions/src/main/resources/processes/"
        "default/subProcess.bpmn",
    ),
}
"""Files deployed first because the file's call activities call their processes."""

START_VARIABLES: dict[str, dict[str, Any]] = {
    # The conditions read what a form or a client sets in Camunda: the generated values.
    "quarkus-extension/spin-plugin-example/src/main/resources/process.bpmn": {
        "orderItems": [{"id": 1}, {"id": 2}],
    },
    # An execution listener written in Groovy reads the customers from a file in Camunda;
    # Legato does not run execution listeners, so the instance starts with them.
    "scripttask/xslt-scripttask/src/main/resources/xslt-example.bpmn": {
        "customers": "<customers><customer>Ada</customer></customers>",
    },
    "spring-boot-starter/example-twitter/src/main/resources/TwitterDemoProcess.bpmn": {
        "approved": True,
    },
    "testing/assert/job-announcement-publication-process/src/test/resources/"
    "camunda-testing-job-announcement-publication.bpmn": {
        "jobAnnouncementId": 1,
        "twitter": True,
        "facebook": True,
    },
    "usertask/task-form-embedded-json-variables/src/main/resources/process.bpmn": {
        "customer": {"firstName": "Ada", "lastName": "Lovelace", "age": 36},
    },
    "usertask/task-form-embedded-react/src/main/resources/react-example.bpmn": {
        "approved": True,
    },
}
"""Variables an instance starts with, where its conditions need them."""

STOPS_AT: dict[str, Stop] = {}
"""Executable processes that do not complete, by file: where they stay and why."""

DECISIONS: dict[str, tuple[str, dict[str, Any], Any]] = {
    "dmn-engine/dmn-engine-drg/src/main/resources/org/camunda/bpm/example/drg/"
    "dinnerDecisions.dmn": (
        "beverages",
        {"season": "Spring", "guestCount": 4, "guestsWithChildren": False},
        ["Pinot Noir", "Water"],
    ),
}
"""DMN files: a decision, its generated inputs and the value it gives."""

RUNNABLE = [key for key in FILES if key.endswith(".bpmn") and key not in REFUSED]

ROUNDS = 20
"""How many times the driver completes what waits before it gives up."""


def job_types(process: ProcessDefinition) -> set[str]:
    """The job types of a process's tasks and events, as ``legato deploy`` lists them."""
    return {
        str(job_type.constant)
        for element in process.elements.values()
        if isinstance(job_type := getattr(element, "job_type", None), Expression)
        and job_type.is_static
    }


def _refusal_text(error: BpmnValidationError) -> str:
    return str(error) + "".join(f"\n[{i.rule}] {i.message}" for i in error.issues)


@pytest.mark.parametrize("key", FILES)
def test_deploys_or_is_refused_for_a_listed_reason(key: str) -> None:
    engine = TestEngine()

    if key in REFUSED:
        with pytest.raises(BpmnValidationError) as refused:
            engine.deploy(EXAMPLES / key)
        assert REFUSED[key].fragment in _refusal_text(refused.value)
        return
    deployment = engine.deploy(EXAMPLES / key)

    assert deployment.processes or deployment.decisions
    assert all(w.severity == "warning" for w in deployment.warnings)


def _start(engine: TestEngine, deployed: DeployedProcess, variables: dict[str, Any]) -> int:
    """Start an instance: by its none start event, else its message or timer start event."""
    starts = [
        element
        for element in deployed.process.elements.values()
        if isinstance(element, StartEvent) and element.scope_id == deployed.process_id
    ]
    if any(not start.event_definitions for start in starts):
        return engine.start(deployed.process_id, variables).key
    for start in starts:
        for definition in start.event_definitions:
            if isinstance(definition, MessageEventDefinition) and definition.message_name:
                engine.publish_message(definition.message_name, variables=variables)
                return _only_instance(engine, deployed.process_id)
    for _ in range(ROUNDS):  # a timer start event: wait for its first firing
        engine.clock.advance(timedelta(seconds=1))
        if engine.instances():
            break
    return _only_instance(engine, deployed.process_id)


def _only_instance(engine: TestEngine, process_id: str) -> int:
    return min(i.key for i in engine.instances() if i.process_id == process_id)


def _family(engine: TestEngine, instance_key: int) -> list[int]:
    """The instance and the instances its call activities started, at any depth."""
    keys = [instance_key]
    for info in sorted(engine.instances(), key=lambda i: i.key):
        if info.parent_instance_key in keys:
            keys.append(info.key)
    return keys


def drive(engine: TestEngine, instance_key: int) -> str | None:
    """Run an instance until it completes (None), else say where it stays or how it ended."""
    for _ in range(ROUNDS):
        engine.run_until_idle()
        status = engine.instance(instance_key).status
        if status != "active":
            return None if status == "completed" else status
        family = _family(engine, instance_key)
        incidents = [i for key in family for i in engine.incidents(instance_key=key)]
        if incidents:
            return incidents[0].element_id
        if not _move_on(engine, family):
            break
    return ",".join(engine.instance(instance_key).active_elements)


def _move_on(engine: TestEngine, family: list[int]) -> bool:
    """Complete user tasks, publish awaited messages and signals, else bring a timer due."""
    moved = False
    for key in family:
        for task in engine.user_tasks(instance_key=key):
            engine.complete_user_task(task.user_task_key, {})
            moved = True
        for subscription in engine.state(key).subscriptions.values():
            if subscription.kind == "message":
                engine.publish_message(subscription.name, subscription.correlation_key)
                moved = True
            elif subscription.kind == "signal":
                engine.broadcast_signal(subscription.name)
                moved = True
    if moved:
        return True
    due = [timer.due_at for key in family for timer in engine.state(key).timers.values()]
    if due:
        engine.clock.advance(max(min(due) - engine.clock.now(), timedelta(0)))
        return True
    return False


def generated_handler(job: Job) -> None:
    """The handler registered for every job type: it does the job's work by doing nothing."""


@pytest.mark.parametrize("key", RUNNABLE)
def test_executable_processes_complete_or_stop_where_listed(key: str) -> None:
    engine = TestEngine()
    for companion in COMPANIONS.get(key, ()):
        engine.deploy(EXAMPLES / companion)
    deployment = engine.deploy(EXAMPLES / key)
    stops: list[str] = []
    executable = [d for d in deployment.processes if d.process.is_executable]

    assert executable
    for deployed in executable:
        for job_type in sorted(job_types(deployed.process)):
            engine.register(job_type, generated_handler)
        instance_key = _start(engine, deployed, dict(START_VARIABLES.get(key, {})))
        if (stop := drive(engine, instance_key)) is not None:
            stops.append(stop)

    expected = STOPS_AT.get(key)
    assert stops == ([] if expected is None else [expected.element_id])


@pytest.mark.parametrize("key", sorted(DECISIONS))
def test_decisions_evaluate(key: str) -> None:
    engine = TestEngine()
    engine.deploy(EXAMPLES / key)
    decision_id, inputs, expected = DECISIONS[key]

    result = engine.evaluate_decision(decision_id, inputs)

    assert not result.errors
    assert result.value == expected


def test_every_listed_file_exists_and_every_decision_file_is_evaluated() -> None:
    listed = {*REFUSED, *COMPANIONS, *START_VARIABLES, *STOPS_AT, *DECISIONS}
    assert listed <= set(FILES)
    assert {key for key in FILES if key.endswith(".dmn") and key not in REFUSED} == set(DECISIONS)
