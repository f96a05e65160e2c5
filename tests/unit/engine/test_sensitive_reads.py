"""Sensitive data declared in the model (and the policy) and masked on the engine's read side
for a viewer without the reveal permission, while handlers get the real values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bpmn_helpers import chain, process, service
from legato.errors import BpmnValidationError
from legato.runtime.types import Job
from legato.security import Principal
from legato.security.sensitive import MASK, SensitivePolicy, Viewer
from legato.testing import TestEngine

SSN = "078-05-1120"


def onboarding(declaration: str) -> str:
    return process(
        f"<bpmn:extensionElements>{declaration}</bpmn:extensionElements>"
        '<bpmn:startEvent id="s"/>' + service("check", "credit-check") + '<bpmn:userTask id="u"/>'
        '<bpmn:endEvent id="e"/>' + chain("s", "check", "u", "e"),
        "onboarding",
    )


MODEL = onboarding('<legato:sensitive variables="applicant.ssn, creditScore"/>')


def admin() -> Viewer:
    return Viewer(Principal("root", frozenset({"admin"})))


def operator() -> Viewer:
    return Viewer(Principal("op", frozenset({"operator"})))


def run(engine: TestEngine) -> int:
    engine.deploy(MODEL)
    seen: list[Job] = []

    @engine.task("credit-check")
    def check(job: Job) -> dict[str, object]:
        seen.append(job)
        return {"creditScore": 712}

    instance = engine.start("onboarding", {"applicant": {"name": "Ada", "ssn": SSN}})
    engine.run_until_idle()
    assert seen[0].variables["applicant"]["ssn"] == SSN  # the handler gets the real value
    return instance.key


def test_the_model_declares_paths_in_both_spellings() -> None:
    engine = TestEngine()
    engine.deploy(MODEL)
    engine.deploy(
        onboarding(
            '<zeebe:properties><zeebe:property name="legato.sensitive" value="iban"/>'
            "</zeebe:properties>"
        )
    )

    # every deployed version counts: an instance of version 1 keeps its protection
    assert engine.sensitive_paths("onboarding") == ["applicant.ssn", "creditScore", "iban"]
    assert engine.sensitive_paths("other") == []


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            '<legato:sensitive variables="applicant..ssn"/>',
            r":4, element 'onboarding'.*applicant..ssn",
        ),
        ('<legato:sensitive variables=" , "/>', r":4, element 'onboarding'.*names no variable"),
        (
            '<zeebe:properties><zeebe:property name="legato.sensitive" value=".ssn"/>'
            "</zeebe:properties>",
            r":4, element 'onboarding'.*legato.sensitive.*'.ssn'",
        ),
    ],
)
def test_a_malformed_declaration_refuses_the_deployment_naming_element_and_line(
    declaration: str, message: str
) -> None:
    with pytest.raises(BpmnValidationError, match=message):
        TestEngine().deploy(onboarding(declaration))


def test_reads_are_masked_for_a_viewer_without_reveal_and_plain_without_a_viewer() -> None:
    engine = TestEngine()
    key = run(engine)

    shown = engine.instance(key, viewer=operator())
    assert shown.variables == {"applicant": {"name": "Ada", "ssn": MASK}, "creditScore": MASK}
    assert engine.instances(viewer=operator())[0].variables["creditScore"] == MASK
    assert engine.state(key, viewer=operator()).variables[key]["creditScore"] == MASK
    (task,) = engine.user_tasks(instance_key=key)
    assert engine.user_task_variables(task.user_task_key, viewer=operator())["creditScore"] == MASK
    history = str([e.details for e in engine.history(key, viewer=operator())])
    assert SSN not in history and "712" not in history
    # the stored state is untouched, and the application without a viewer sees it all
    assert engine.instance(key).variables["creditScore"] == 712
    assert SSN in str([e.details for e in engine.history(key)])


def test_a_viewer_with_reveal_sees_the_values_and_the_reveal_is_noted() -> None:
    engine = TestEngine()
    key = run(engine)
    viewer = admin()

    assert engine.instance(key, viewer=viewer).variables["creditScore"] == 712
    assert viewer.revealed == {("onboarding", key): {"applicant", "creditScore"}}


def test_incident_messages_and_job_errors_lose_the_values_they_quote(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = TestEngine()
    engine.deploy(MODEL)

    @engine.task("credit-check")
    def check(job: Job) -> None:
        raise ValueError(f"no score for {job.variables['applicant']['ssn']}")

    instance = engine.start("onboarding", {"applicant": {"ssn": SSN}})
    engine.run_until_idle()
    engine.clock.advance(timedelta(hours=1))

    (incident,) = engine.incidents(viewer=operator())
    assert SSN not in incident.message and MASK in incident.message
    assert SSN not in (incident.details or "")
    assert SSN in engine.incidents()[0].message
    for job in engine.jobs(instance_key=instance.key, viewer=operator()):
        assert SSN not in (job.error_message or "") + (job.error_details or "")
    assert engine.incidents(viewer=admin())[0].message == engine.incidents()[0].message
    # the engine's log lines of the failed attempts and of the incident are masked too
    assert "no score for" in caplog.text and SSN not in caplog.text


def test_the_policy_and_its_detectors_add_to_the_model(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[sensitive]\ndetect = ["iban"]\n[sensitive.processes]\nonboarding = ["applicant.name"]\n'
    )
    engine = TestEngine(policy=policy)
    engine.deploy(MODEL)
    key = engine.start(
        "onboarding", {"applicant": {"name": "Ada"}, "account": "DE89 3704 0044 0532 0130 00"}
    ).key

    shown = engine.instance(key, viewer=operator()).variables
    assert shown["applicant"]["name"] == MASK
    assert shown["account"] == MASK
    assert TestEngine(policy=SensitivePolicy()).sensitive_paths("onboarding") == []


def test_a_failed_attempts_span_status_quotes_no_sensitive_value() -> None:
    exporter = InMemorySpanExporter()
    engine = TestEngine(tracing=exporter)
    engine.deploy(MODEL)

    @engine.task("credit-check")
    def check(job: Job) -> None:
        raise ValueError(f"no score for {job.variables['applicant']['ssn']}")

    engine.start("onboarding", {"applicant": {"ssn": SSN}})
    engine.run_until_idle()

    statuses = [span.status.description or "" for span in exporter.get_finished_spans()]
    assert any("no score for ****" in status for status in statuses)
    assert not any(SSN in status for status in statuses)
