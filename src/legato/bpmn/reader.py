"""Reading BPMN 2.0 XML into the executable model.

Reading is lenient: every process of any well-formed BPMN 2.0 file is read, whatever prefix
the modeler bound to the BPMN namespace. What keeps a process from running (an unsupported
element, a dangling sequence flow, an expression that does not compile, a task without a job
type) is recorded in :attr:`ProcessDefinition.problems`; :func:`load_for_deployment` turns
those problems, and the static BPMN rules, into one :class:`BpmnValidationError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from legato.bpmn._context import DocumentIndex, ReadContext
from legato.bpmn._dom import (
    BPMN_NS,
    CAMUNDA_NS,
    Element,
    attribute,
    bpmn_child,
    bpmn_children,
    bpmn_name,
    line_of,
    tag,
)
from legato.bpmn.extensions import process_version_tag
from legato.bpmn.nodes import SCOPE_KINDS, NodeDraft, node_reader
from legato.bpmn.sensitive import read_sensitive
from legato.bpmn.service_levels import read_service_levels
from legato.bpmn.validate import Profile, validate_document
from legato.errors import BpmnParseError, BpmnValidationError, SourceLocation, ValidationIssue
from legato.model.elements import (
    Activity,
    CompensateEventDefinition,
    EndEvent,
    FlowNode,
    StartEvent,
)
from legato.model.expressions import Expression
from legato.model.process import Definitions, ProcessDefinition, SequenceFlow
from legato.safexml import ModelSource, parse_xml, read_source

__all__ = [
    "CheckedModel",
    "check_for_deployment",
    "load_for_deployment",
    "read_bpmn",
    "read_definitions",
]

_UNSUPPORTED = frozenset({"choreographyTask", "subChoreography", "callChoreography"})
"""Flow elements of choreographies, which no process engine runs."""

_NOT_FLOW = frozenset(
    {
        "documentation", "extensionElements", "auditing", "monitoring", "categoryValueRef",
        "supportedInterfaceRef", "ioSpecification", "ioBinding", "property", "laneSet",
        "association", "group", "textAnnotation", "resourceRole", "performer",
        "humanPerformer", "potentialOwner", "correlationSubscription", "supports", "dataObject",
        "dataObjectReference", "dataStoreReference", "dataInputAssociation",
        "dataOutputAssociation", "standardLoopCharacteristics",
        "multiInstanceLoopCharacteristics", "incoming", "outgoing", "completionCondition",
        "rendering",
    }
)  # fmt: skip
"""Children of processes and sub-processes that carry no token flow."""


def read_bpmn(source: ModelSource) -> Definitions:
    """Read every process of a BPMN 2.0 file.

    Args:
        source: a path, or the XML itself as ``str`` or ``bytes``.

    Returns:
        The processes, each with the problems that keep it from being executed.

    Raises:
        BpmnParseError: for a file that cannot be read, malformed or hostile XML, or a root
            element that is not BPMN 2.0 ``definitions``; the error names file and line.
    """
    data, file_name = read_source(source, BpmnParseError)
    return read_definitions(parse_xml(data, file_name, BpmnParseError), file_name)


def load_for_deployment(source: ModelSource, profile: Profile = "compatible") -> Definitions:
    """Read a BPMN file and check that it can be deployed (see :func:`check_for_deployment`).

    Raises:
        BpmnParseError: as :func:`read_bpmn`.
        BpmnValidationError: as :func:`check_for_deployment`.
    """
    return check_for_deployment(source, profile).definitions


@dataclass(frozen=True, slots=True)
class CheckedModel:
    """A BPMN file that can be deployed, with the warnings its validation profile allowed."""

    definitions: Definitions
    warnings: tuple[ValidationIssue, ...]
    """Issues of rules that ``profile`` makes warnings (``severity="warning"``)."""


def check_for_deployment(source: ModelSource, profile: Profile = "compatible") -> CheckedModel:
    """Read a BPMN file and check that it can be deployed in a validation profile.

    Runs the static BPMN rules over the document and collects the problems of every
    executable process. ``profile`` (``"compatible"`` or ``"strict"``, see
    :mod:`legato.bpmn.validate`) decides which broken rules are only warnings.

    Raises:
        BpmnParseError: as :func:`read_bpmn`.
        BpmnValidationError: listing every error, when there are any, or when the file has no
            executable process.
    """
    data, file_name = read_source(source, BpmnParseError)
    root = parse_xml(data, file_name, BpmnParseError)
    definitions = read_definitions(root, file_name)
    issues = validate_document(root, file_name, profile)
    for process in definitions.executable_processes:
        issues.extend(issue for issue in process.problems if issue not in issues)
    if not definitions.executable_processes:
        location = SourceLocation(file_name, line_of(root))
        issues.append(
            ValidationIssue("no-executable-process", "the file has no executable process", location)
        )
    errors = [issue for issue in issues if issue.severity == "error"]
    if errors:
        raise BpmnValidationError(errors)
    return CheckedModel(definitions, tuple(i for i in issues if i.severity == "warning"))


def read_definitions(root: Element, file_name: str | None) -> Definitions:
    """Read the parsed root element of a BPMN file (see :func:`read_bpmn`)."""
    if root.tag != tag(BPMN_NS, "definitions"):
        raise BpmnParseError(
            f"the root element {root.tag!r} is not BPMN 2.0 definitions ({BPMN_NS})",
            SourceLocation(file_name, line_of(root)),
        )
    index = DocumentIndex.of(root)
    participants = _participant_names(root)
    processes = []
    decisions: list[str] = []
    for element in bpmn_children(root, "process"):
        context = ReadContext(file_name, index)
        processes.append(_read_process(context, element, participants))
        decisions.extend(d for d in context.decisions if d not in decisions)
    for element in bpmn_children(root):
        task_kind = _GLOBAL_TASKS.get(bpmn_name(element) or "")
        if task_kind is not None and element.get("id"):
            processes.append(
                _global_task_process(ReadContext(file_name, index), element, task_kind)
            )
    return Definitions(
        definitions_id=root.get("id"),
        target_namespace=root.get("targetNamespace"),
        processes=tuple(processes),
        source_file=file_name,
        decisions=tuple(decisions),
    )


_GLOBAL_TASKS = {
    "globalTask": "task",
    "globalManualTask": "manualTask",
    "globalScriptTask": "scriptTask",
    "globalUserTask": "userTask",
    "globalBusinessRuleTask": "businessRuleTask",
}
"""Global tasks, which call activities may call, and the task kind each runs as."""


def _global_task_process(
    context: ReadContext, element: Element, task_kind: str
) -> ProcessDefinition:
    """A global task as a process of its own: start, the task, end.

    A call activity that calls a global task then runs it like any called process, with the
    same variable passing.
    """
    task_id = element.get("id", "")
    reader = node_reader(task_kind)
    assert reader is not None
    draft = reader(context, element, task_id)
    start_id, end_id = f"{task_id}__start", f"{task_id}__end"
    into, out_of = f"{task_id}__in", f"{task_id}__out"
    draft.incoming.append(into)
    draft.outgoing.append(out_of)
    nodes: dict[str, FlowNode] = {
        start_id: StartEvent(element_id=start_id, scope_id=task_id, outgoing=(into,)),
        task_id: draft.build(),
        end_id: EndEvent(element_id=end_id, scope_id=task_id, incoming=(out_of,)),
    }
    flows = {
        into: SequenceFlow(flow_id=into, source_id=start_id, target_id=task_id),
        out_of: SequenceFlow(flow_id=out_of, source_id=task_id, target_id=end_id),
    }
    return ProcessDefinition(
        process_id=task_id,
        name=attribute(element, "name"),
        elements=nodes,
        flows=flows,
        source_file=context.file_name,
        line=line_of(element),
        global_task=True,
        sensitive=read_sensitive(context, element),
        problems=tuple(context.problems),
    )


def _participant_names(root: Element) -> dict[str, str]:
    """Pool names by process id, to name processes that have no name of their own."""
    names: dict[str, str] = {}
    for collaboration in bpmn_children(root, "collaboration"):
        for participant in bpmn_children(collaboration, "participant"):
            process_ref, name = attribute(participant, "processRef"), attribute(participant, "name")
            if process_ref and name:
                names.setdefault(process_ref.rsplit(":", 1)[-1], name)
    return names


def _read_process(
    context: ReadContext, element: Element, participants: dict[str, str]
) -> ProcessDefinition:
    process_id = element.get("id", "")
    drafts: dict[str, NodeDraft] = {}
    flow_elements: list[Element] = []
    _read_scope(context, element, process_id, drafts, flow_elements)
    flows = _link_flows(context, drafts, flow_elements)
    _attach_boundary_events(context, drafts)
    _link_compensation_handlers(element, drafts)
    _check_default_flows(context, drafts, flows)
    elements: dict[str, FlowNode] = {key: draft.build() for key, draft in drafts.items()}
    return ProcessDefinition(
        process_id=process_id,
        name=attribute(element, "name") or participants.get(process_id),
        is_executable=(attribute(element, "isExecutable") or "true").lower() != "false",
        elements=elements,
        flows=flows,
        source_file=context.file_name,
        line=line_of(element),
        variables=_properties(element),
        version_tag=process_version_tag(element),
        service_levels=read_service_levels(
            context, element, ((key, draft.element) for key, draft in drafts.items())
        ),
        sensitive=read_sensitive(context, element),
        problems=tuple(context.problems),
    )


def _read_scope(
    context: ReadContext,
    scope: Element,
    scope_id: str,
    drafts: dict[str, NodeDraft],
    flow_elements: list[Element],
) -> None:
    """Read the flow elements of a scope and, depth first, of its sub-processes."""
    for child in bpmn_children(scope):
        name = bpmn_name(child) or ""
        if name == "sequenceFlow":
            flow_elements.append(child)
            continue
        reader = node_reader(name)
        if reader is None:
            _check_not_flow(context, child, name)
            continue
        element_id = child.get("id")
        if not element_id:
            context.problem("missing-id", f"a {name} without an id", child)
            continue
        if element_id in drafts:
            context.problem("duplicate-id", f"the id {element_id!r} is used twice", child)
            continue
        drafts[element_id] = reader(context, child, scope_id)
        if name in SCOPE_KINDS:
            _read_scope(context, child, element_id, drafts, flow_elements)


def _check_not_flow(context: ReadContext, element: Element, name: str) -> None:
    if name in _UNSUPPORTED:
        context.problem("unsupported-element", f"{name} (choreography) is not executable", element)
    elif name not in _NOT_FLOW:
        context.problem("unsupported-element", f"{name} is not a supported flow element", element)


def _link_flows(
    context: ReadContext, drafts: dict[str, NodeDraft], flow_elements: list[Element]
) -> dict[str, SequenceFlow]:
    """Build the sequence flows and fill the incoming and outgoing lists of their nodes."""
    flows: dict[str, SequenceFlow] = {}
    for element in flow_elements:
        flow = _read_flow(context, element, drafts)
        if flow is None:
            continue
        if flow.flow_id in flows or flow.flow_id in drafts:
            context.problem("duplicate-id", f"the id {flow.flow_id!r} is used twice", element)
            continue
        flows[flow.flow_id] = flow
        drafts[flow.source_id].outgoing.append(flow.flow_id)
        drafts[flow.target_id].incoming.append(flow.flow_id)
    return flows


def _read_flow(
    context: ReadContext, element: Element, drafts: dict[str, NodeDraft]
) -> SequenceFlow | None:
    """A sequence flow whose ends exist and share a scope, else None and a problem.

    Where the flow is written does not matter (some modelers put every flow at process level):
    its ends must be in one scope, since a token cannot cross a sub-process boundary.
    """
    flow_id = element.get("id")
    if not flow_id:
        context.problem("missing-id", "a sequence flow without an id", element)
        return None
    source_id, target_id = attribute(element, "sourceRef"), attribute(element, "targetRef")
    for role, reference in (("sourceRef", source_id), ("targetRef", target_id)):
        if reference is None or reference not in drafts:
            context.problem(
                "flow-reference",
                f"sequence flow {flow_id!r}: {role} {reference!r} is no flow node of the process",
                element,
            )
            return None
    assert source_id is not None and target_id is not None
    if drafts[source_id].scope_id != drafts[target_id].scope_id:
        context.problem(
            "flow-scope",
            f"sequence flow {flow_id!r} crosses the boundary of a sub-process",
            element,
        )
        return None
    return SequenceFlow(
        flow_id=flow_id,
        source_id=source_id,
        target_id=target_id,
        condition=_flow_condition(context, element, flow_id),
        name=attribute(element, "name"),
        line=line_of(element),
    )


def _flow_condition(context: ReadContext, element: Element, flow_id: str) -> Expression | None:
    condition = bpmn_child(element, "conditionExpression")
    what = f"the condition of sequence flow {flow_id!r}"
    return context.formal_expression(condition, element, what)


def _attach_boundary_events(context: ReadContext, drafts: dict[str, NodeDraft]) -> None:
    for draft in list(drafts.values()):
        host_id = draft.fields.get("attached_to")
        if host_id is None:
            continue
        host = drafts.get(host_id) if host_id else None
        if host is None or not issubclass(host.cls, Activity):
            context.problem(
                "boundary-attachment",
                f"the boundary event is attached to {host_id!r}, which is no activity",
                draft.element,
            )
            continue
        host.boundary_events.append(draft.element_id)


def _link_compensation_handlers(process: Element, drafts: dict[str, NodeDraft]) -> None:
    """Compensation boundary events name their handler through an association."""
    for association in process.iter(tag(BPMN_NS, "association")):
        source = drafts.get(attribute(association, "sourceRef") or "")
        target = attribute(association, "targetRef")
        if source is None or target not in drafts or not source.fields.get("attached_to"):
            continue
        definitions = source.fields.get("event_definitions", ())
        if any(isinstance(d, CompensateEventDefinition) for d in definitions):
            source.fields["compensation_handler"] = target


def _check_default_flows(
    context: ReadContext, drafts: dict[str, NodeDraft], flows: dict[str, SequenceFlow]
) -> None:
    for draft in drafts.values():
        default = draft.fields.get("default_flow")
        if default is not None and default not in draft.outgoing:
            context.problem(
                "default-flow",
                f"the default flow {default!r} is not an outgoing sequence flow of the element",
                draft.element,
            )
            draft.fields["default_flow"] = None


def _properties(process: Element) -> tuple[str, ...]:
    """The declared properties, and the variables Camunda 7's ``camunda:initiator`` names.

    Camunda 7 sets an initiator variable to the authenticated user who started the instance,
    null without one; Legato knows no authenticated user, so it starts null (as a declared
    property does) unless the start variables give it.
    """
    names = [attribute(p, "name") or p.get("id") for p in bpmn_children(process, "property")]
    names += [
        attribute(start, "initiator", CAMUNDA_NS) for start in bpmn_children(process, "startEvent")
    ]
    return tuple(dict.fromkeys(name for name in names if name))
