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


def services_in_sequence(*tasks: tuple[str, str], process_id: str = "p") -> str:
    """A process that runs service tasks, given as (element id, job type), one after the
    other, from start event ``s`` to end event ``e``."""
    return process(
        '<bpmn:startEvent id="s"/>'
        + "".join(service(element_id, job_type) for element_id, job_type in tasks)
        + '<bpmn:endEvent id="e"/>'
        + chain("s", *(element_id for element_id, _ in tasks), "e"),
        process_id,
    )


CREDIT_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="credit"
             name="Credit" namespace="https://legato.dev/tests/credit">
  <decision id="approval" name="Approval">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="in_score" label="Score">
        <inputExpression id="ie" typeRef="number"><text>score</text></inputExpression>
      </input>
      <output id="out" name="route" typeRef="string"/>
      <rule id="auto"><inputEntry id="r1i"><text>&gt; 700</text></inputEntry>
        <outputEntry id="r1o"><text>"approve"</text></outputEntry></rule>
      <rule id="manual"><inputEntry id="r2i"><text>-</text></inputEntry>
        <outputEntry id="r2o"><text>"manager"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""
"""A DMN model with the decision ``approval``: ``route`` is "approve" above 700, else
"manager"."""
