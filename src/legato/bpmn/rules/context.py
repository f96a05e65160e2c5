"""The indexed view of a BPMN document that every rule module works on.

A :class:`ModelContext` is built once per document: it maps ids to elements, resolves
references (``id`` and ``prefix:id`` forms), knows which sequence flows leave and enter each
node, and which event definitions an event carries (inline or through
``eventDefinitionRef``). Rules only read it; each returns a list of issues.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

from lxml import etree

from legato.errors import SourceLocation, ValidationIssue

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

TASKS = frozenset(
    {
        "task",
        "sendTask",
        "receiveTask",
        "serviceTask",
        "userTask",
        "manualTask",
        "scriptTask",
        "businessRuleTask",
    }
)
SUB_PROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
ACTIVITIES = TASKS | SUB_PROCESSES | {"callActivity"}
GATEWAYS = frozenset(
    {
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "complexGateway",
        "eventBasedGateway",
    }
)
EVENTS = frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "implicitThrowEvent",
    }
)
CHOREOGRAPHY_ACTIVITIES = frozenset({"choreographyTask", "callChoreography", "subChoreography"})
FLOW_NODES = ACTIVITIES | GATEWAYS | EVENTS | CHOREOGRAPHY_ACTIVITIES
ARTIFACTS = frozenset({"association", "group", "textAnnotation"})
CONTAINERS = frozenset({"process", "subChoreography", "choreography"}) | SUB_PROCESSES
EVENT_DEFINITIONS = frozenset(
    {
        "messageEventDefinition",
        "timerEventDefinition",
        "escalationEventDefinition",
        "conditionalEventDefinition",
        "linkEventDefinition",
        "errorEventDefinition",
        "cancelEventDefinition",
        "compensateEventDefinition",
        "signalEventDefinition",
        "terminateEventDefinition",
    }
)


def local(element: etree._Element) -> str:
    """The local name of a BPMN element, or ``""`` for anything else."""
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{" + BPMN_NS + "}"):
        return ""
    return tag[len(BPMN_NS) + 2 :]


def children(element: etree._Element, *names: str) -> list[etree._Element]:
    """The BPMN child elements, all of them or those with one of ``names``."""
    return [c for c in element if local(c) and (not names or local(c) in names)]


def child(element: etree._Element, name: str) -> etree._Element | None:
    """The first BPMN child element called ``name``."""
    for c in element:
        if local(c) == name:
            return c
    return None


def text_of(element: etree._Element | None) -> str:
    """The stripped text content of an element (``""`` when absent)."""
    if element is None:
        return ""
    return "".join(str(t) for t in element.itertext()).strip()


def flag(element: etree._Element, name: str, default: bool) -> bool:
    """A boolean XSD attribute (``true``/``1`` or ``false``/``0``)."""
    value = element.get(name)
    if value is None:
        return default
    return value.strip() in ("true", "1")


class RefStatus(Enum):
    """The outcome of resolving a reference."""

    FOUND = "found"
    MISSING = "missing"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved reference: its status and, when found, the element."""

    status: RefStatus
    element: etree._Element | None = None


@dataclass
class ModelContext:
    """The document with its indexes. Build it with :meth:`build`."""

    root: etree._Element
    file_name: str | None
    target_namespace: str | None = None
    by_id: dict[str, etree._Element] = field(default_factory=dict)
    duplicates: list[etree._Element] = field(default_factory=list)
    flows_from: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    flows_to: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    sequence_flows: list[etree._Element] = field(default_factory=list)

    @classmethod
    def build(cls, root: etree._Element, file_name: str | None) -> ModelContext:
        """Index ``root``: ids, duplicate ids and the sequence flows of every node."""
        ctx = cls(root, file_name, root.get("targetNamespace"))
        for element in ctx.bpmn_elements():
            element_id = element.get("id")
            if element_id is not None:
                if element_id in ctx.by_id:
                    ctx.duplicates.append(element)
                else:
                    ctx.by_id[element_id] = element
            if local(element) == "sequenceFlow":
                ctx.sequence_flows.append(element)
        for flow in ctx.sequence_flows:
            ctx.flows_from[ctx.ref_id(flow, flow.get("sourceRef"))].append(flow)
            ctx.flows_to[ctx.ref_id(flow, flow.get("targetRef"))].append(flow)
        return ctx

    def bpmn_elements(self, *names: str) -> Iterator[etree._Element]:
        """Every BPMN element of the document (outside extension elements), in order."""
        wanted = frozenset(names)
        stack = [self.root]
        while stack:
            element = stack.pop()
            name = local(element)
            if not name:
                continue
            if not wanted or name in wanted:
                yield element
            if name != "extensionElements":
                stack.extend(reversed(list(element)))

    def issue(self, rule: str, message: str, element: etree._Element) -> ValidationIssue:
        """An issue located at ``element``, named by its id or that of its nearest ancestor."""
        line = element.sourceline if isinstance(element.sourceline, int) else None
        named = next((e for e in (element, *element.iterancestors()) if e.get("id")), element)
        location = SourceLocation(self.file_name, line, named.get("id"))
        return ValidationIssue(rule, message, location)

    def ref_id(self, element: etree._Element, raw: str | None) -> str:
        """The local id a reference names (the part after a ``prefix:``)."""
        value = (raw or "").strip()
        if ":" in value and value not in self.by_id:
            return value.split(":", 1)[1]
        return value

    def resolve(self, element: etree._Element, raw: str | None) -> Resolved:
        """Resolve an id reference written on ``element``.

        A ``prefix:id`` reference whose prefix names another namespace than the document's
        target namespace points into an imported document and is reported as external.
        """
        value = (raw or "").strip()
        if not value:
            return Resolved(RefStatus.MISSING)
        if value in self.by_id:
            return Resolved(RefStatus.FOUND, self.by_id[value])
        if ":" in value:
            prefix, name = value.split(":", 1)
            namespace = element.nsmap.get(prefix)
            if namespace is not None and namespace not in (self.target_namespace, BPMN_NS):
                return Resolved(RefStatus.EXTERNAL)
            if name in self.by_id:
                return Resolved(RefStatus.FOUND, self.by_id[name])
        return Resolved(RefStatus.MISSING)

    def target(self, element: etree._Element, raw: str | None) -> etree._Element | None:
        """The element a reference names, or ``None`` when it does not resolve here."""
        return self.resolve(element, raw).element

    def node_id(self, element: etree._Element) -> str:
        """The id of an element (``""`` when it has none)."""
        return element.get("id") or ""

    def outgoing(self, node: etree._Element) -> list[etree._Element]:
        """The sequence flows whose source is ``node``."""
        node_id = self.node_id(node)
        return self.flows_from.get(node_id, []) if node_id else []

    def incoming(self, node: etree._Element) -> list[etree._Element]:
        """The sequence flows whose target is ``node``."""
        node_id = self.node_id(node)
        return self.flows_to.get(node_id, []) if node_id else []

    def event_definitions(self, event: etree._Element) -> list[etree._Element]:
        """The event definitions of an event: inline ones and those named by reference."""
        found = children(event, *EVENT_DEFINITIONS)
        for ref in children(event, "eventDefinitionRef"):
            target = self.target(ref, text_of(ref))
            if target is not None and local(target) in EVENT_DEFINITIONS:
                found.append(target)
        return found

    def definition_kinds(self, event: etree._Element) -> list[str]:
        """The kinds of an event's definitions, e.g. ``["message", "timer"]``."""
        return [local(d).removesuffix("EventDefinition") for d in self.event_definitions(event)]

    def process_of(self, element: etree._Element) -> etree._Element | None:
        """The process an element belongs to."""
        for ancestor in element.iterancestors():
            if local(ancestor) == "process":
                return ancestor
        return None

    def is_executable(self, element: etree._Element) -> bool:
        """Whether the element lies in a process marked executable.

        Elements outside any process (global ones) count as executable when the document
        has an executable process.
        """
        process = self.process_of(element)
        if process is not None:
            return flag(process, "isExecutable", False)
        return any(flag(p, "isExecutable", False) for p in children(self.root, "process"))


Rule = Callable[[ModelContext], list[ValidationIssue]]
"""A rule: reads the context and returns the issues it finds."""


def scope_of(element: etree._Element) -> etree._Element | None:
    """The nearest flow elements container (process, sub-process, sub-choreography)."""
    for ancestor in element.iterancestors():
        if local(ancestor) in CONTAINERS:
            return ancestor
    return None


def is_event_sub_process(element: etree._Element) -> bool:
    """Whether ``element`` is a sub-process triggered by an event."""
    return local(element) in SUB_PROCESSES and flag(element, "triggeredByEvent", False)


def is_formal(expression: etree._Element) -> bool:
    """Whether an expression element is typed ``tFormalExpression``."""
    xsi_type = expression.get(XSI_TYPE)
    return xsi_type is not None and xsi_type.split(":")[-1] == "tFormalExpression"
