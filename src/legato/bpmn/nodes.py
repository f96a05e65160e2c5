"""Flow nodes: the fields each BPMN element kind contributes to its model class.

Reading a node gives a :class:`NodeDraft` (the class and its fields); the process reader adds
the sequence flows and boundary events once the whole scope is known, then builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from legato.bpmn._context import ReadContext
from legato.bpmn._dom import (
    CAMUNDA_NS,
    ZEEBE_NS,
    Element,
    attribute,
    bpmn_child,
    bpmn_children,
    bpmn_name,
    extension,
    flag,
    line_of,
    text_of,
)
from legato.bpmn.events import (
    event_definition_by_ref,
    message_definition,
    read_event_definitions,
)
from legato.bpmn.extensions import (
    business_rule_fields,
    call_activity_fields,
    has_job_extension,
    read_job,
    user_task_fields,
)
from legato.bpmn.mappings import call_activity_mappings, read_mappings
from legato.model.elements import (
    Activity,
    AdHocSubProcess,
    BoundaryEvent,
    BusinessRuleTask,
    CallActivity,
    ComplexBehavior,
    ComplexGateway,
    EndEvent,
    EventBasedGateway,
    EventDefinition,
    ExclusiveGateway,
    FlowNode,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    LoopCharacteristics,
    ManualTask,
    MessageEventDefinition,
    MultiInstanceLoop,
    ParallelGateway,
    ReceiveTask,
    ScriptTask,
    SendTask,
    ServiceTask,
    StandardLoop,
    StartEvent,
    SubProcess,
    Task,
    Transaction,
    UserTask,
)
from legato.model.expressions import Expression

__all__ = ["SCOPE_KINDS", "NodeDraft", "node_reader"]


@dataclass(slots=True)
class NodeDraft:
    """A flow node being read: its class, its fields so far and its XML element."""

    cls: type[FlowNode]
    fields: dict[str, Any]
    element: Element
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)
    boundary_events: list[str] = field(default_factory=list)

    @property
    def element_id(self) -> str:
        """The id of the element."""
        return str(self.fields["element_id"])

    @property
    def scope_id(self) -> str:
        """The id of the enclosing scope."""
        return str(self.fields["scope_id"])

    def build(self) -> FlowNode:
        """The frozen model element."""
        extra: dict[str, Any] = {"incoming": tuple(self.incoming), "outgoing": tuple(self.outgoing)}
        if issubclass(self.cls, Activity):
            extra["boundary_events"] = tuple(self.boundary_events)
        return self.cls(**self.fields, **extra)


_FieldReader = Callable[[ReadContext, Element], dict[str, Any]]


def node_reader(name: str) -> Callable[[ReadContext, Element, str], NodeDraft] | None:
    """The reader for a BPMN element's local name, None when it is not a flow node."""
    entry = _KINDS.get(name)
    if entry is None:
        return None
    cls, reader = entry

    def read(context: ReadContext, element: Element, scope_id: str) -> NodeDraft:
        fields = _common(context, element, scope_id)
        specific = reader(context, element)
        for key in ("input_mappings", "output_mappings"):
            if key in specific:
                specific[key] = fields[key] + specific[key]
        fields.update(specific)
        return NodeDraft(cls, fields, element)

    return read


SCOPE_KINDS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
"""Element kinds whose children form a scope of their own."""


def _common(context: ReadContext, element: Element, scope_id: str) -> dict[str, Any]:
    inputs, outputs = read_mappings(context, element)
    return {
        "element_id": element.get("id", ""),
        "name": attribute(element, "name"),
        "scope_id": scope_id,
        "line": line_of(element),
        "input_mappings": inputs,
        "output_mappings": outputs,
        "default_flow": attribute(element, "default"),
    }


# ---------------------------------------------------------------------------------------------
# Events


def _event(context: ReadContext, element: Element) -> dict[str, Any]:
    definitions = read_event_definitions(context, element)
    return {
        "event_definitions": definitions,
        "parallel_multiple": flag(element, "parallelMultiple", False),
    }


def _catch_event(context: ReadContext, element: Element) -> dict[str, Any]:
    fields = _event(context, element)
    for definition in fields["event_definitions"]:
        if isinstance(definition, MessageEventDefinition) and definition.message_name is None:
            context.problem("message-name", "the message event names no message", element)
    return fields


def _start_event(context: ReadContext, element: Element) -> dict[str, Any]:
    return {
        **_catch_event(context, element),
        "is_interrupting": flag(element, "isInterrupting", True),
    }


def _boundary_event(context: ReadContext, element: Element) -> dict[str, Any]:
    return {
        **_catch_event(context, element),
        "attached_to": attribute(element, "attachedToRef") or "",
        "cancel_activity": flag(element, "cancelActivity", True),
    }


def _throw_event(context: ReadContext, element: Element) -> dict[str, Any]:
    fields = _event(context, element)
    if any(isinstance(d, MessageEventDefinition) for d in fields["event_definitions"]):
        # Only with a job definition does a handler send the message; without one the engine
        # publishes it to the processes waiting for it.
        fields["job_type"] = read_job(context, element, fallback=False).job_type
        unnamed = any(
            isinstance(d, MessageEventDefinition) and not d.message_name
            for d in fields["event_definitions"]
        )
        if fields["job_type"] is None and unnamed:
            context.problem(
                "message-name", "the message throw event names no message and has no job", element
            )
    return fields


# ---------------------------------------------------------------------------------------------
# Activities


def _activity(context: ReadContext, element: Element) -> dict[str, Any]:
    return {
        "loop": _loop(context, element),
        "start_quantity": _quantity(context, element, "startQuantity"),
        "completion_quantity": _quantity(context, element, "completionQuantity"),
        "is_for_compensation": flag(element, "isForCompensation", False),
    }


def _quantity(context: ReadContext, element: Element, name: str) -> int:
    text = attribute(element, name)
    if text is None:
        return 1
    if not text.isdigit() or int(text) < 1:
        context.problem("quantity", f"{name} {text!r} is not a positive integer", element)
        return 1
    return int(text)


def _loop(context: ReadContext, element: Element) -> LoopCharacteristics | None:
    standard = bpmn_child(element, "standardLoopCharacteristics")
    if standard is not None:
        maximum = attribute(standard, "loopMaximum")
        return StandardLoop(
            loop_condition=context.formal_expression(
                bpmn_child(standard, "loopCondition"), element, "the loop condition"
            ),
            test_before=flag(standard, "testBefore", False),
            loop_maximum=_loop_maximum(context, maximum, element),
        )
    multi = bpmn_child(element, "multiInstanceLoopCharacteristics")
    return _multi_instance(context, multi, element) if multi is not None else None


def _loop_maximum(context: ReadContext, text: str | None, element: Element) -> int | None:
    """``loopMaximum``, the cap on the iterations (BPMN 2.0: an integer); a negative or
    unreadable one is refused rather than read as no cap at all."""
    if text is None:
        return None
    value = text.strip()
    if not (value.isascii() and value.isdigit()):
        context.problem(
            "loop-maximum",
            f"standardLoopCharacteristics loopMaximum {text!r} is not a whole number of at least 0",
            element,
        )
        return None
    return int(value)


def _multi_instance(context: ReadContext, multi: Element, owner: Element) -> MultiInstanceLoop:
    """Multi-instance settings: Zeebe, then Camunda 7, then plain BPMN data references.

    Plain BPMN names its collections by reference (``loopDataInputRef``) and its items by
    ``inputDataItem``/``outputDataItem``; their ids are taken as the variable names.
    """
    settings = _loop_settings(multi)
    cardinality_element = bpmn_child(multi, "loopCardinality")
    if settings["inputCollection"] is None and text_of(cardinality_element) is None:
        context.problem(
            "multi-instance", "the multi-instance activity has no collection or cardinality", owner
        )
    return MultiInstanceLoop(
        is_sequential=flag(multi, "isSequential", False),
        loop_cardinality=context.formal_expression(
            cardinality_element, owner, "the loop cardinality"
        ),
        input_collection=context.condition(
            settings["inputCollection"], owner, "the input collection"
        ),
        input_element=settings["inputElement"],
        output_collection=settings["outputCollection"],
        output_element=context.condition(settings["outputElement"], owner, "the output element"),
        completion_condition=context.formal_expression(
            bpmn_child(multi, "completionCondition"), owner, "the completion condition"
        ),
        **_behaviors(context, multi, owner),
    )


def _behaviors(context: ReadContext, multi: Element, owner: Element) -> dict[str, Any]:
    """Which events are thrown as inner instances complete (``behavior``, BPMN 2.0)."""
    behavior = (attribute(multi, "behavior") or "All").strip()
    if behavior not in ("All", "None", "One", "Complex"):
        context.problem("multi-instance", f"multi-instance behavior {behavior!r} is unknown", owner)
        behavior = "All"
    complex_behaviors = tuple(
        ComplexBehavior(
            condition=context.formal_expression(
                bpmn_child(definition, "condition"), owner, "the complex behavior condition"
            ),
            event_definitions=_implicit_throw(context, definition, owner),
        )
        for definition in bpmn_children(multi)
        if bpmn_name(definition) == "complexBehaviorDefinition"
    )
    return {
        "behavior": behavior,
        "none_behavior_event": event_definition_by_ref(
            context, attribute(multi, "noneBehaviorEventRef"), owner, "noneBehaviorEventRef"
        ),
        "one_behavior_event": event_definition_by_ref(
            context, attribute(multi, "oneBehaviorEventRef"), owner, "oneBehaviorEventRef"
        ),
        "complex_behaviors": complex_behaviors,
    }


def _implicit_throw(
    context: ReadContext, definition: Element, owner: Element
) -> tuple[EventDefinition, ...]:
    event = bpmn_child(definition, "event")
    return () if event is None else read_event_definitions(context, event)


def _loop_settings(multi: Element) -> dict[str, str | None]:
    zeebe = extension(multi, ZEEBE_NS, "loopCharacteristics")
    names = ("inputCollection", "inputElement", "outputCollection", "outputElement")
    found = {name: attribute(zeebe, name) if zeebe is not None else None for name in names}
    camunda = {
        "inputCollection": attribute(multi, "collection", CAMUNDA_NS),
        "inputElement": attribute(multi, "elementVariable", CAMUNDA_NS),
    }
    plain = {
        "inputCollection": text_of(bpmn_child(multi, "loopDataInputRef")),
        "inputElement": _data_item(multi, "inputDataItem"),
        "outputCollection": text_of(bpmn_child(multi, "loopDataOutputRef")),
        "outputElement": _data_item(multi, "outputDataItem"),
    }
    for name in names:
        found[name] = found[name] or camunda.get(name) or plain[name]
    return found


def _data_item(multi: Element, name: str) -> str | None:
    item = bpmn_child(multi, name)
    return None if item is None else item.get("id") or attribute(item, "name")


def _service_task(context: ReadContext, element: Element) -> dict[str, Any]:
    return {**_activity(context, element), **read_job(context, element).as_fields()}


def _send_task(context: ReadContext, element: Element) -> dict[str, Any]:
    """A send task: a job when it has a job definition; else the engine sends its message."""
    message = message_definition(context, attribute(element, "messageRef"), element)
    fallback = message.message_name is None
    fields = {
        **_activity(context, element),
        **read_job(context, element, fallback=fallback).as_fields(),
    }
    return {
        **fields,
        "message_name": message.message_name,
        "correlation_key": message.correlation_key,
    }


def _receive_task(context: ReadContext, element: Element) -> dict[str, Any]:
    message = message_definition(context, attribute(element, "messageRef"), element)
    if message.message_name is None:
        context.problem("message-name", "the receive task names no message", element)
    return {
        **_activity(context, element),
        "message": message,
        "instantiate": flag(element, "instantiate", False),
    }


def _business_rule_task(context: ReadContext, element: Element) -> dict[str, Any]:
    decision = None if has_job_extension(element) else business_rule_fields(context, element)
    if decision is None:
        return _service_task(context, element)
    return {**_activity(context, element), **decision}


def _script_task(context: ReadContext, element: Element) -> dict[str, Any]:
    """FEEL scripts are compiled; scripts in other languages become ``script:<format>`` jobs,
    also when the script is a Camunda 7 ``camunda:resource`` (a file the handler reads)."""
    fields = _activity(context, element)
    zeebe = extension(element, ZEEBE_NS, "script")
    script_format = attribute(element, "scriptFormat")
    body = text_of(bpmn_child(element, "script"))
    result_variable = attribute(element, "resultVariable", CAMUNDA_NS)
    if zeebe is not None:
        body = attribute(zeebe, "expression")
        result_variable = attribute(zeebe, "resultVariable")
        script_format = "feel"
    fields["result_variable"] = result_variable
    if has_job_extension(element):
        return {**fields, **read_job(context, element).as_fields(), "script_text": body}
    resource = None if zeebe is not None else attribute(element, "resource", CAMUNDA_NS)
    is_feel = (script_format or "").lower() == "feel"
    if body is None and (resource is None or is_feel):
        message = "a FEEL script task has no inline script" if resource else "no script"
        context.problem("script", f"the script task has {message}", element)
    elif is_feel and body is not None:
        fields["script"] = context.condition(body, element, "the script")
    else:
        language = (script_format or "unknown").lower()
        fields.update(script_text=body, script_format=script_format, script_resource=resource)
        fields.update(read_job(context, element, fallback=False).as_fields())
        fields["job_type"] = Expression.static(f"script:{language}")
        fields["headers"] = _script_headers(fields["headers"], script_format, body, resource)
    return fields


def _script_headers(
    headers: tuple[tuple[str, str], ...],
    script_format: str | None,
    body: str | None,
    resource: str | None,
) -> tuple[tuple[str, str], ...]:
    """What a script job's handler needs to run it: ``scriptFormat`` and the ``script`` or
    its ``resource`` (the task's own headers win over these)."""
    given = {key for key, _ in headers}
    script = {"scriptFormat": script_format, "script": body, "resource": resource}
    extra = tuple((k, v) for k, v in script.items() if v is not None and k not in given)
    return extra + headers


def _user_task(context: ReadContext, element: Element) -> dict[str, Any]:
    return {**_activity(context, element), **user_task_fields(context, element)}


def _sub_process(context: ReadContext, element: Element) -> dict[str, Any]:
    return {
        **_activity(context, element),
        "triggered_by_event": flag(element, "triggeredByEvent", False),
    }


def _ad_hoc_sub_process(context: ReadContext, element: Element) -> dict[str, Any]:
    return {
        **_sub_process(context, element),
        "ordering": attribute(element, "ordering") or "Parallel",
        "completion_condition": context.formal_expression(
            bpmn_child(element, "completionCondition"), element, "the completion condition"
        ),
    }


def _call_activity(context: ReadContext, element: Element) -> dict[str, Any]:
    fields = {**_activity(context, element), **call_activity_fields(context, element)}
    fields["input_mappings"], fields["output_mappings"] = call_activity_mappings(context, element)
    return fields


def _complex_gateway(context: ReadContext, element: Element) -> dict[str, Any]:
    condition = bpmn_child(element, "activationCondition")
    what = "the activation condition"
    return {"activation_condition": context.formal_expression(condition, element, what)}


def _nothing(context: ReadContext, element: Element) -> dict[str, Any]:
    return {}


_KINDS: dict[str, tuple[type[FlowNode], _FieldReader]] = {
    "startEvent": (StartEvent, _start_event),
    "endEvent": (EndEvent, _throw_event),
    "intermediateCatchEvent": (IntermediateCatchEvent, _catch_event),
    "intermediateThrowEvent": (IntermediateThrowEvent, _throw_event),
    "boundaryEvent": (BoundaryEvent, _boundary_event),
    "task": (Task, _activity),
    "manualTask": (ManualTask, _activity),
    "serviceTask": (ServiceTask, _service_task),
    "sendTask": (SendTask, _send_task),
    "receiveTask": (ReceiveTask, _receive_task),
    "scriptTask": (ScriptTask, _script_task),
    "userTask": (UserTask, _user_task),
    "businessRuleTask": (BusinessRuleTask, _business_rule_task),
    "subProcess": (SubProcess, _sub_process),
    "transaction": (Transaction, _sub_process),
    "adHocSubProcess": (AdHocSubProcess, _ad_hoc_sub_process),
    "callActivity": (CallActivity, _call_activity),
    "exclusiveGateway": (ExclusiveGateway, _nothing),
    "parallelGateway": (ParallelGateway, _nothing),
    "inclusiveGateway": (InclusiveGateway, _nothing),
    "eventBasedGateway": (EventBasedGateway, _nothing),
    "complexGateway": (ComplexGateway, _complex_gateway),
}
