"""An onboarding-like run that stores a sensitive value in every place the store has: start
variables, a job's result, a user task's completion, a buffered message, an incident and a
job error quoting a value, the history of it all."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from bpmn_helpers import HEADER, chain
from legato import Engine, NonRetryableError
from legato.model.sensitive import SensitivePath

SSN = "987-65-4321"
PASSPORT = "P-55501234"
SCORE = 713.25
LIMIT = "limit-77123"
MESSAGE_SECRET = "msg-secret-4417"

PLAINTEXTS = (SSN, PASSPORT, str(SCORE), LIMIT, MESSAGE_SECRET)
"""Every sensitive value of the run, as it would appear in a dump."""

MODEL = (
    HEADER + '<bpmn:process id="onboarding" isExecutable="true">'
    '<bpmn:startEvent id="s"/>'
    '<bpmn:serviceTask id="credit"><bpmn:extensionElements>'
    '<zeebe:taskDefinition type="credit-check"/></bpmn:extensionElements></bpmn:serviceTask>'
    '<bpmn:userTask id="review"/>'
    '<bpmn:serviceTask id="verify"><bpmn:extensionElements>'
    '<zeebe:taskDefinition type="verify" retries="1"/></bpmn:extensionElements>'
    "</bpmn:serviceTask>"
    '<bpmn:endEvent id="e"/>'
    + chain("s", "credit", "review", "verify", "e")
    + "</bpmn:process></bpmn:definitions>"
)


class Selector:
    """The applicant's identity number, the credit score and the approved limit."""

    detects = False

    def paths(self, process_id: str) -> Collection[SensitivePath]:
        return {("applicant", "ssn"), ("applicant", "passport"), ("creditScore",), ("limit",)}

    def detect(self, text: str) -> bool:
        return False


DECLARED_MODEL = MODEL.replace(
    '<bpmn:process id="onboarding" isExecutable="true">',
    '<bpmn:process id="onboarding" isExecutable="true"><bpmn:extensionElements>'
    '<legato:sensitive variables="applicant.ssn, applicant.passport creditScore"/>'
    "</bpmn:extensionElements>",
)
"""The model declaring the applicant's identity and the score sensitive itself (the limit is
left to a policy)."""


def onboarding_run(engine: Engine, model: str = MODEL) -> int:
    """Run the onboarding until its incident; returns the instance key."""
    engine.deploy(model)

    @engine.task("credit-check")
    def credit(job: Any) -> dict[str, Any]:
        return {"creditScore": SCORE, "band": "gold"}

    @engine.task("verify")
    def verify(job: Any) -> None:
        ssn = job.variables["applicant"]["ssn"]
        raise NonRetryableError(f"identity {ssn} could not be verified")

    instance = engine.start(
        "onboarding",
        variables={"applicant": {"name": "Ada", "ssn": SSN, "passport": PASSPORT}},
        business_key="cust-1",
    )
    engine.run_until_idle()
    (task,) = engine.user_tasks(instance_key=instance.key)
    engine.complete_user_task(task.user_task_key, {"limit": LIMIT, "note": "ok"})
    engine.run_until_idle()
    engine.publish_message(
        "documents", "cust-1", {"secret": MESSAGE_SECRET}, time_to_live=timedelta(hours=1)
    )
    return instance.key
