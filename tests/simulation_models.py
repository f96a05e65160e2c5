"""Models and scenarios of the simulation tests."""

from __future__ import annotations

from pathlib import Path

from bpmn_helpers import chain, process, service

ONBOARDING = Path(__file__).resolve().parents[1] / "examples" / "onboarding"
ONBOARDING_BPMN = ONBOARDING / "onboarding.bpmn"
ONBOARDING_SCENARIO = ONBOARDING / "scenario.toml"

CLERK = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:userTask id="review"/>'
    '<bpmn:endEvent id="e"/>' + chain("s", "review", "e"),
    "claims",
)
"""start -> user task ``review`` -> end."""

CLERK_AFTER_AN_HOUR = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:intermediateCatchEvent id="hour"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    '<bpmn:userTask id="review"/>'
    '<bpmn:endEvent id="e"/>' + chain("s", "hour", "review", "e"),
    "claims",
)
"""start -> a one-hour timer -> user task ``review`` -> end."""

PAID_OR_REMINDED = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:eventBasedGateway id="wait"/>'
    '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m"/>'
    "</bpmn:intermediateCatchEvent>"
    '<bpmn:intermediateCatchEvent id="day"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P1D</bpmn:timeDuration>'
    "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    + service("remind", "remind")
    + '<bpmn:endEvent id="e"/><bpmn:endEvent id="late"/>'
    + chain("s", "wait", "paid", "e")
    + chain("wait", "day", "remind", "late", prefix="g"),
    "invoice",
    extra='<bpmn:message id="m" name="payment"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=invoice"/></bpmn:extensionElements></bpmn:message>',
)
"""An invoice waits for its payment (a message) or, after a day, sends a reminder."""

SERVICE_THEN_TASK = process(
    '<bpmn:startEvent id="s"/>'
    + service("check", "check")
    + '<bpmn:userTask id="review"/><bpmn:endEvent id="e"/>'
    + chain("s", "check", "review", "e"),
    "claims",
)

ONE_CLERK = """
seed = 1
[arrivals]
every = "PT30M"
instances = 4
start = 2025-01-06T00:00:00Z
duration = "P1D"

[tasks.review]
duration = "PT1H"
pool = "clerks"

[pools.clerks]
size = 1

[sla]
process = "PT2H"
review = "PT2H"
"""
"""Four claims, one every half hour, one clerk taking exactly an hour for each."""


def write(directory: Path, name: str, text: str) -> Path:
    """``text`` written to ``directory / name``."""
    path = directory / name
    path.write_text(text)
    return path
