"""Rules about activities: quantities, loops, ad-hoc and call activities, resources."""

from __future__ import annotations

import re

from lxml import etree

from legato.bpmn.rules.context import (
    ACTIVITIES,
    BPMN_NS,
    CHOREOGRAPHY_ACTIVITIES,
    ModelContext,
    child,
    children,
    local,
    text_of,
)
from legato.bpmn.rules.items import is_collection, item_of, same_item
from legato.errors import ValidationIssue


def _quantity_issue(
    ctx: ModelContext, activity: etree._Element, attribute: str, rule: str
) -> ValidationIssue | None:
    raw = activity.get(attribute)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value >= 1:
        return None
    message = f"{attribute} must be an integer of at least 1, not '{raw}'"
    return ctx.issue(rule, message, activity)


def check_quantities(ctx: ModelContext) -> list[ValidationIssue]:
    """``startQuantity`` (EXT037) and ``completionQuantity`` (EXT038) are at least 1."""
    issues: list[ValidationIssue] = []
    for activity in ctx.bpmn_elements(*ACTIVITIES):
        for attribute, rule in (("startQuantity", "EXT037"), ("completionQuantity", "EXT038")):
            found = _quantity_issue(ctx, activity, attribute, rule)
            if found is not None:
                issues.append(found)
    return issues


def _loop_issues(ctx: ModelContext, activity: etree._Element) -> list[ValidationIssue]:
    loops = children(activity, "standardLoopCharacteristics", "multiInstanceLoopCharacteristics")
    if len(loops) > 1:
        rule = "EXT054" if local(activity) == "adHocSubProcess" else "EXT041"
        message = "an activity cannot be both a standard loop and a multi-instance activity"
        return [ctx.issue(rule, message, activity)]
    multi = child(activity, "multiInstanceLoopCharacteristics")
    return _multi_instance_issues(ctx, activity, multi) if multi is not None else []


def _multi_instance_issues(
    ctx: ModelContext, activity: etree._Element, multi: etree._Element
) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    if _lacks_item_source(ctx, multi):
        message = "a multi-instance activity needs a loopCardinality or a loopDataInputRef"
        issues.append(ctx.issue("EXT067", message, activity))
    input_ref = child(multi, "loopDataInputRef")
    if input_ref is not None:
        target = ctx.target(input_ref, text_of(input_ref))
        if target is not None and not _is_input_of(target, activity):
            message = (
                f"loopDataInputRef '{text_of(input_ref)}' must name a data input of the "
                "activity (or a data object or property it reads)"
            )
            issues.append(ctx.issue("EXT068", message, activity))
    issues.extend(_data_item_issues(ctx, activity, multi))
    behavior = (multi.get("behavior") or "All").strip()
    if child(multi, "complexBehaviorDefinition") is not None and behavior != "Complex":
        message = "complexBehaviorDefinition only applies when behavior is 'Complex'"
        issues.append(ctx.issue("EXT072", message, activity))
    return issues


def _is_input_of(target: etree._Element, activity: etree._Element) -> bool:
    """EXT068: the collection is a data input the activity reads.

    The catalogue asks for a data input of the activity's ioSpecification; a data input of
    the process, a data object or a property (SpiffWorkflow models name data objects) is
    accepted too, a data output or any other element is not. A name that resolves to no
    element of the document names a process variable and is not checked.
    """
    if local(target) in ("dataObject", "dataObjectReference", "property"):
        return True
    spec = target.getparent()
    owner = spec.getparent() if spec is not None else None
    return (
        local(target) == "dataInput"
        and owner is not None
        and (owner is activity or local(owner) == "process")
    )


def _lacks_item_source(ctx: ModelContext, multi: etree._Element) -> bool:
    """No cardinality, no input collection, and no vendor extension that supplies one."""
    if not ctx.is_executable(multi):
        return False
    if child(multi, "loopCardinality") is not None or child(multi, "loopDataInputRef") is not None:
        return False
    if any(not local(c) and isinstance(c.tag, str) for c in multi):
        return False
    if child(multi, "extensionElements") is not None:
        return False
    return all(str(name).startswith("{" + BPMN_NS) or "}" not in str(name) for name in multi.attrib)


ITEM_AWARE = frozenset({"dataInput", "dataOutput", "dataObject", "dataObjectReference", "property"})


def _data_item_issues(
    ctx: ModelContext, activity: etree._Element, multi: etree._Element
) -> list[ValidationIssue]:
    """The single data item is the scalar of the loop's collection (EXT069, EXT070)."""
    issues: list[ValidationIssue] = []
    for ref_name, item_name, rule in (
        ("loopDataOutputRef", "outputDataItem", "EXT069"),
        ("loopDataInputRef", "inputDataItem", "EXT070"),
    ):
        ref, data_item = child(multi, ref_name), child(multi, item_name)
        collection = ctx.target(ref, text_of(ref)) if ref is not None else None
        if collection is None or data_item is None:
            continue
        single, many = item_of(ctx, data_item), item_of(ctx, collection)
        if single is None or many is None:
            continue
        if is_collection(single) or not same_item_structure(single, many):
            message = f"the {item_name} must be a single item of the {ref_name} collection"
            issues.append(ctx.issue(rule, message, activity))
    return issues


def same_item_structure(single: etree._Element, many: etree._Element) -> bool:
    """Whether a single item and a collection item share their structure."""
    return (single.get("structureRef") or "") == (many.get("structureRef") or "")


def check_loops(ctx: ModelContext) -> list[ValidationIssue]:
    """Loop characteristics are consistent (EXT041, EXT054, EXT067-EXT070, EXT072)."""
    issues: list[ValidationIssue] = []
    for activity in ctx.bpmn_elements(*ACTIVITIES):
        issues.extend(_loop_issues(ctx, activity))
    return issues


def check_ad_hoc(ctx: ModelContext) -> list[ValidationIssue]:
    """An ad-hoc sub-process contains at least one activity (EXT061)."""
    return [
        ctx.issue("EXT061", "an ad-hoc sub-process must contain an activity", sub)
        for sub in ctx.bpmn_elements("adHocSubProcess")
        if not children(sub, *ACTIVITIES)
    ]


URI = re.compile(r"^([A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")
TRANSACTION_METHODS = frozenset({"##Compensate", "##Store", "##Image"})


def check_transactions(ctx: ModelContext) -> list[ValidationIssue]:
    """A transaction's method is one of the predefined ones or a URI (EXT060)."""
    issues: list[ValidationIssue] = []
    for transaction in ctx.bpmn_elements("transaction"):
        method = (transaction.get("method") or "##Compensate").strip()
        if method not in TRANSACTION_METHODS and not URI.match(method):
            message = f"the transaction method '{method}' is not a URI"
            issues.append(ctx.issue("EXT060", message, transaction))
    return issues


def check_resources(ctx: ModelContext) -> list[ValidationIssue]:
    """A resource role uses a resource reference or an assignment expression (EXT039)."""
    roles = ("performer", "humanPerformer", "potentialOwner", "resourceRole")
    issues: list[ValidationIssue] = []
    for role in ctx.bpmn_elements(*roles):
        by_reference = children(role, "resourceRef", "resourceParameterBinding")
        if by_reference and child(role, "resourceAssignmentExpression") is not None:
            message = "a resource role cannot combine a resource reference and an expression"
            owner = role.getparent()
            issues.append(ctx.issue("EXT039", message, owner if owner is not None else role))
    return issues


def check_choreography_placement(ctx: ModelContext) -> list[ValidationIssue]:
    """Choreography activities belong to choreographies, not to processes (EXT036, EXT056)."""
    issues: list[ValidationIssue] = []
    for activity in ctx.bpmn_elements(*CHOREOGRAPHY_ACTIVITIES):
        parent = activity.getparent()
        kind = local(parent) if parent is not None else ""
        if kind == "process" or kind in ACTIVITIES:
            rule = "EXT036" if kind == "process" else "EXT056"
            message = f"a {local(activity)} cannot be part of a {kind}"
            issues.append(ctx.issue(rule, message, activity))
    return issues


def _io_items(ctx: ModelContext, owner: etree._Element, name: str) -> list[etree._Element | None]:
    spec = child(owner, "ioSpecification")
    if spec is None:
        return []
    return [item_of(ctx, data) for data in children(spec, name)]


def _same_items(first: list[etree._Element | None], second: list[etree._Element | None]) -> bool:
    return len(first) == len(second) and all(
        same_item(a, b) for a, b in zip(first, second, strict=True)
    )


def check_call_activities(ctx: ModelContext) -> list[ValidationIssue]:
    """A call activity's inputs and outputs match those of what it calls (EXT063)."""
    issues: list[ValidationIssue] = []
    for call in ctx.bpmn_elements("callActivity"):
        called = ctx.target(call, call.get("calledElement"))
        if called is None or child(called, "ioSpecification") is None:
            continue
        if child(call, "ioSpecification") is None:
            continue
        for name in ("dataInput", "dataOutput"):
            if not _same_items(_io_items(ctx, call, name), _io_items(ctx, called, name)):
                called_name = call.get("calledElement")
                message = f"the {name}s of the call activity do not match those of '{called_name}'"
                issues.append(ctx.issue("EXT063", message, call))
    return issues


RULES = [
    check_quantities,
    check_loops,
    check_ad_hoc,
    check_transactions,
    check_resources,
    check_choreography_placement,
    check_call_activities,
]
