"""Rules about identity and references: unique ids, ids where needed, resolvable references.

The reference rule (the catalogue's ``REF``, reported as ``EXT002``) asks of every reference
attribute and reference element that it name an existing element of the right kind. References
are resolved within the document. A ``prefix:id`` reference whose prefix names another
(imported) namespace is not checked. References that name elements of other files by design
(``structureRef``, ``implementationRef``) are not checked, nor are lane members
(``flowNodeRef``): lanes carry no execution semantics and exporters leave stale entries in
them. ``calledElement`` and the loop data references may name a process deployed from another
file or a process variable: they are checked for their kind only when they name an element of
this document.
"""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    ACTIVITIES,
    EVENT_DEFINITIONS,
    FLOW_NODES,
    ModelContext,
    RefStatus,
    local,
    text_of,
)
from legato.errors import ValidationIssue

ITEM_AWARE = frozenset(
    {
        "dataObject",
        "dataObjectReference",
        "property",
        "dataStore",
        "dataStoreReference",
        "dataInput",
        "dataOutput",
    }
)
ANY: frozenset[str] = frozenset()
CALLABLE = frozenset(
    {
        "process",
        "globalTask",
        "globalUserTask",
        "globalManualTask",
        "globalScriptTask",
        "globalBusinessRuleTask",
    }
)

ATTRIBUTE_REFS: dict[str, dict[str, frozenset[str]]] = {
    "sourceRef": {
        "sequenceFlow": ANY,
        "messageFlow": ANY,
        "association": ANY,
        "conversationLink": ANY,
    },
    "targetRef": {
        "sequenceFlow": ANY,
        "messageFlow": ANY,
        "association": ANY,
        "conversationLink": ANY,
    },
    "attachedToRef": {"boundaryEvent": ACTIVITIES},
    "default": {"*": frozenset({"sequenceFlow"})},
    "messageRef": {"*": frozenset({"message"})},
    "signalRef": {"signalEventDefinition": frozenset({"signal"})},
    "errorRef": {"errorEventDefinition": frozenset({"error"})},
    "escalationRef": {"escalationEventDefinition": frozenset({"escalation"})},
    "operationRef": {"*": frozenset({"operation"})},
    "processRef": {"participant": frozenset({"process"})},
    "itemSubjectRef": {"*": frozenset({"itemDefinition"})},
    "itemRef": {"message": frozenset({"itemDefinition"})},
    "dataObjectRef": {"dataObjectReference": frozenset({"dataObject"})},
    "dataStoreRef": {"dataStoreReference": frozenset({"dataStore"})},
    "categoryValueRef": {"group": frozenset({"categoryValue"})},
    "activityRef": {"compensateEventDefinition": ACTIVITIES},
    "initiatingParticipantRef": {"*": frozenset({"participant"})},
    "correlationKeyRef": {"*": frozenset({"correlationKey"})},
    "correlationPropertyRef": {"*": frozenset({"correlationProperty"})},
    "parameterRef": {"resourceParameterBinding": frozenset({"resourceParameter"})},
    "calledElement": {"callActivity": CALLABLE},
    "inputDataRef": {"ioBinding": frozenset({"dataInput"})},
    "outputDataRef": {"ioBinding": frozenset({"dataOutput"})},
    "oneBehaviorEventRef": {"multiInstanceLoopCharacteristics": EVENT_DEFINITIONS},
    "noneBehaviorEventRef": {"multiInstanceLoopCharacteristics": EVENT_DEFINITIONS},
    "definitionalCollaborationRef": {"process": frozenset({"collaboration"})},
    "evaluatesToTypeRef": {"*": frozenset({"itemDefinition"})},
}

TEXT_REFS: dict[str, frozenset[str]] = {
    "eventDefinitionRef": EVENT_DEFINITIONS,
    "dataInputRefs": frozenset({"dataInput"}),
    "optionalInputRefs": frozenset({"dataInput"}),
    "whileExecutingInputRefs": frozenset({"dataInput"}),
    "dataOutputRefs": frozenset({"dataOutput"}),
    "optionalOutputRefs": frozenset({"dataOutput"}),
    "whileExecutingOutputRefs": frozenset({"dataOutput"}),
    "inputSetRefs": frozenset({"inputSet"}),
    "outputSetRefs": frozenset({"outputSet"}),
    "participantRef": frozenset({"participant"}),
    "messageFlowRef": frozenset({"messageFlow"}),
    "inMessageRef": frozenset({"message"}),
    "outMessageRef": frozenset({"message"}),
    "resourceRef": frozenset({"resource"}),
    "interfaceRef": frozenset({"interface"}),
    "operationRef": frozenset({"operation"}),
    "correlationPropertyRef": frozenset({"correlationProperty"}),
    "source": frozenset({"linkEventDefinition"}),
    "target": frozenset({"linkEventDefinition"}),
    "supportedInterfaceRef": frozenset({"interface"}),
    "errorRef": frozenset({"error"}),
    "endPointRef": frozenset({"endPoint"}),
    "partnerRoleRef": frozenset({"partnerRole"}),
    "partnerEntityRef": frozenset({"partnerEntity"}),
    "innerParticipantRef": frozenset({"participant"}),
    "outerParticipantRef": frozenset({"participant"}),
    "innerMessageFlowRef": frozenset({"messageFlow"}),
    "outerMessageFlowRef": frozenset({"messageFlow"}),
    "loopDataInputRef": ITEM_AWARE,
    "loopDataOutputRef": ITEM_AWARE,
}
LOCAL_WHEN_FOUND = frozenset({"calledElement", "loopDataInputRef", "loopDataOutputRef"})
"""References that may name something outside the document (another file, a variable)."""
DATA_ASSOCIATIONS = frozenset({"dataInputAssociation", "dataOutputAssociation"})

NEEDS_ID = FLOW_NODES | frozenset({"sequenceFlow", "messageFlow", "process", "participant"})


def _expected_for_attribute(owner: str, attribute: str) -> frozenset[str] | None:
    by_owner = ATTRIBUTE_REFS.get(attribute)
    if by_owner is None:
        return None
    if owner in by_owner:
        return by_owner[owner]
    return by_owner.get("*")


def _expected_for_text(element: etree._Element) -> frozenset[str] | None:
    name = local(element)
    parent = element.getparent()
    parent_name = local(parent) if parent is not None else ""
    if name in ("sourceRef", "targetRef") and parent_name in DATA_ASSOCIATIONS:
        return ITEM_AWARE
    if name in ("source", "target") and parent_name != "linkEventDefinition":
        return None
    return TEXT_REFS.get(name)


def _check(
    ctx: ModelContext,
    element: etree._Element,
    raw: str,
    expected: frozenset[str],
    what: str,
    name: str,
) -> ValidationIssue | None:
    resolved = ctx.resolve(element, raw)
    if resolved.status is RefStatus.EXTERNAL:
        return None
    if resolved.element is None and name in LOCAL_WHEN_FOUND:
        return None
    if resolved.element is None:
        return ctx.issue(
            "EXT002", f"{what} '{raw.strip()}' names no element of this model", element
        )
    kind = local(resolved.element)
    if expected and kind not in expected:
        allowed = ", ".join(sorted(expected)) if len(expected) <= 4 else "another kind"
        message = f"{what} '{raw.strip()}' names a {kind}, expected {allowed}"
        return ctx.issue("EXT002", message, element)
    return None


def check_references(ctx: ModelContext) -> list[ValidationIssue]:
    """Every reference resolves to an element of the right kind (REF, reported as EXT002)."""
    issues: list[ValidationIssue] = []
    for element in ctx.bpmn_elements():
        owner = local(element)
        for attribute, raw in element.attrib.items():
            expected = _expected_for_attribute(owner, str(attribute))
            value = str(raw)
            if expected is not None and value.strip():
                what = f"{owner}.{attribute!s}"
                found = _check(ctx, element, value, expected, what, str(attribute))
                if found is not None:
                    issues.append(found)
        expected = _expected_for_text(element)
        if expected is not None and text_of(element):
            found = _check(ctx, element, text_of(element), expected, owner, owner)
            if found is not None:
                issues.append(found)
    return issues


def check_unique_ids(ctx: ModelContext) -> list[ValidationIssue]:
    """Ids are unique within the document (EXT001)."""
    return [
        ctx.issue("EXT001", f"the id '{element.get('id')}' is used more than once", element)
        for element in ctx.duplicates
    ]


def check_required_ids(ctx: ModelContext) -> list[ValidationIssue]:
    """Flow elements, processes and participants carry an id (EXT003)."""
    return [
        ctx.issue("EXT003", f"a {local(element)} must have an id", element)
        for element in ctx.bpmn_elements(*NEEDS_ID)
        if not (element.get("id") or "").strip()
    ]


ROOT_ELEMENTS = frozenset(
    {
        "import",
        "extension",
        "relationship",
        "category",
        "collaboration",
        "choreography",
        "globalConversation",
        "correlationProperty",
        "dataStore",
        "endPoint",
        "error",
        "escalation",
        "globalBusinessRuleTask",
        "globalManualTask",
        "globalScriptTask",
        "globalTask",
        "globalUserTask",
        "interface",
        "itemDefinition",
        "message",
        "partnerEntity",
        "partnerRole",
        "process",
        "resource",
        "signal",
        "documentation",
        "extensionElements",
    }
    | EVENT_DEFINITIONS
)


def check_root_elements(ctx: ModelContext) -> list[ValidationIssue]:
    """Only root elements may be children of ``definitions`` (EXT078)."""
    return [
        ctx.issue(
            "EXT078",
            f"a {local(element)} cannot be defined at the top level of the definitions",
            element,
        )
        for element in ctx.root
        if local(element) and local(element) not in ROOT_ELEMENTS
    ]


RULES = [check_unique_ids, check_required_ids, check_references, check_root_elements]
