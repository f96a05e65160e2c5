"""Small helpers for writing BPMN models inline in tests."""

from __future__ import annotations

import itertools

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
    ' xmlns:legato="https://legato.dev/schema/bpmn/1.0"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' id="defs" targetNamespace="http://example.org/tests">\n'
)


def process(body: str, process_id: str = "p", extra: str = "") -> str:
    """A definitions document with one executable process around ``body``."""
    return (
        f'{HEADER}<bpmn:process id="{process_id}" isExecutable="true">\n{body}\n</bpmn:process>\n'
        f"{extra}</bpmn:definitions>\n"
    )


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    """A sequence flow, optionally with a FEEL condition."""
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'
    escaped = condition.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escaped}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )


def service(element_id: str, job_type: str, extra: str = "", attrs: str = "") -> str:
    """A service task with a Zeebe job type."""
    return (
        f'<bpmn:serviceTask id="{element_id}" {attrs}><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}"/>{extra}</bpmn:extensionElements>'
        "</bpmn:serviceTask>"
    )


def chain(*element_ids: str, prefix: str = "f") -> str:
    """Unconditional flows along ``element_ids`` in order."""
    return "\n".join(flow(f"{prefix}_{a}_{b}", a, b) for a, b in itertools.pairwise(element_ids))
