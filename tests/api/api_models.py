"""The processes the API tests deploy, as BPMN text."""

from __future__ import annotations

import json

from bpmn_helpers import CREDIT_DMN as CREDIT_DMN
from bpmn_helpers import chain, process, service

ORDER = process(
    '<bpmn:startEvent id="s"/>' + service("charge", "charge") + '<bpmn:endEvent id="e"/>'
    "" + chain("s", "charge", "e"),
    process_id="order",
)
"""order: one service task of job type ``charge``."""

RISKY_ORDER = process(
    '<bpmn:startEvent id="s"/>' + service("charge", "charge") + '<bpmn:endEvent id="done"/>'
    '<bpmn:boundaryEvent id="out_of_stock" attachedToRef="charge">'
    '<bpmn:errorEventDefinition errorRef="stock_error"/></bpmn:boundaryEvent>'
    '<bpmn:endEvent id="rejected"/>'
    + chain("s", "charge", "done")
    + chain("out_of_stock", "rejected", prefix="g"),
    process_id="risky",
    extra='<bpmn:error id="stock_error" errorCode="OUT_OF_STOCK"/>',
)
"""risky: the ``charge`` task with a boundary event catching the BPMN error OUT_OF_STOCK."""

PAYMENT = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:intermediateCatchEvent id="wait_paid">'
    '<bpmn:messageEventDefinition messageRef="paid"/></bpmn:intermediateCatchEvent>'
    '<bpmn:endEvent id="e"/>' + chain("s", "wait_paid", "e"),
    process_id="payment",
    extra='<bpmn:message id="paid" name="paid"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>',
)
"""payment: waits for the message ``paid`` correlated by the variable ``orderId``."""

APPROVAL = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:userTask id="approve" name="Approve order"><bpmn:extensionElements>'
    '<zeebe:userTask/><zeebe:assignmentDefinition candidateGroups="sales"/>'
    "</bpmn:extensionElements></bpmn:userTask>"
    '<bpmn:endEvent id="e"/>' + chain("s", "approve", "e"),
    process_id="approval",
)
"""approval: a user task for the candidate group ``sales``."""

BROKEN = process(
    '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
    '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="nowhere"/>',
    process_id="broken",
)
"""A process whose flow points at an element that does not exist."""

APPROVE_FORM = json.dumps(
    {
        "id": "approve-form",
        "type": "default",
        "components": [
            {
                "type": "number",
                "key": "amount",
                "label": "Amount",
                "validate": {"required": True, "min": 1},
            },
            {"type": "checkbox", "key": "approved"},
        ],
    }
)
"""A Camunda form: ``amount`` is required and at least 1."""

FORM_APPROVAL = process(
    '<bpmn:startEvent id="s"/>'
    '<bpmn:userTask id="approve" name="Approve with form"><bpmn:extensionElements>'
    '<zeebe:userTask/><zeebe:formDefinition formId="approve-form"/>'
    '<zeebe:assignmentDefinition candidateGroups="sales"/>'
    "</bpmn:extensionElements></bpmn:userTask>"
    '<bpmn:endEvent id="e"/>' + chain("s", "approve", "e"),
    process_id="form_approval",
)
"""form_approval: a user task for ``sales`` with the linked form ``approve-form``."""
