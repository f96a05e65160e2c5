"""Rules about data: item definitions, input/output sets and data associations."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import (
    ModelContext,
    child,
    children,
    flag,
    local,
    text_of,
)
from legato.bpmn.rules.items import is_collection, item_of, same_item
from legato.errors import ValidationIssue

ITEM_AWARE = (
    "dataObject",
    "dataInput",
    "dataOutput",
    "property",
    "dataStore",
    "inputDataItem",
    "outputDataItem",
)


def check_collection_flags(ctx: ModelContext) -> list[ValidationIssue]:
    """``isCollection`` of an executable data element matches its item definition (EXT020)."""
    issues: list[ValidationIssue] = []
    for element in ctx.bpmn_elements(*ITEM_AWARE):
        item = item_of(ctx, element) if ctx.is_executable(element) else None
        if item is None or is_collection(item) == flag(element, "isCollection", False):
            continue
        item_kind, element_kind = ("is", "is not") if is_collection(item) else ("is not", "is")
        message = (
            f"the {local(element)} '{ctx.node_id(element)}' and its item definition "
            f"'{ctx.node_id(item)}' disagree: the item {item_kind} a collection, "
            f"the element {element_kind}"
        )
        issues.append(ctx.issue("EXT020", message, element))
    return issues


def check_state_names(ctx: ModelContext) -> list[ValidationIssue]:
    """A data object reference with a state is named ``Object name [state]`` (EXT076)."""
    issues: list[ValidationIssue] = []
    for reference in ctx.bpmn_elements("dataObjectReference"):
        state = child(reference, "dataState")
        data_object = ctx.target(reference, reference.get("dataObjectRef"))
        name = (reference.get("name") or "").strip()
        if state is None or data_object is None or not name:
            continue
        state_name = (state.get("name") or "").strip()
        object_name = (data_object.get("name") or "").strip()
        expected = f"{object_name} [{state_name}]" if object_name else f"… [{state_name}]"
        written = " ".join(name.split())
        fits = written == expected or (not object_name and written.endswith(f"[{state_name}]"))
        if state_name and not fits:
            message = f"the data object reference '{name}' should be named '{expected}'"
            issues.append(ctx.issue("EXT076", message, reference))
    return issues


def _owner_of(association: etree._Element) -> etree._Element | None:
    return association.getparent()


def _input_association_issues(
    ctx: ModelContext, association: etree._Element
) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    owner = _owner_of(association)
    for source_ref in children(association, "sourceRef"):
        source = ctx.target(source_ref, text_of(source_ref))
        if source is None:
            continue
        if local(source) == "dataOutput":
            message = (
                f"a data output ('{text_of(source_ref)}') cannot feed a data input association"
            )
            issues.append(ctx.issue("EXT082", message, association))
        elif local(source) == "dataInput" and not _visible_input(source, owner):
            message = f"the data input '{text_of(source_ref)}' is not visible here"
            issues.append(ctx.issue("data-input-visibility", message, association))
        issues.extend(_structure_issues(ctx, association, source))
    return issues


def _structure_issues(
    ctx: ModelContext, association: etree._Element, source: etree._Element
) -> list[ValidationIssue]:
    target_ref = child(association, "targetRef")
    target = ctx.target(target_ref, text_of(target_ref)) if target_ref is not None else None
    if target is None or child(association, "transformation") is not None:
        return []
    owner = _owner_of(association)
    if children(association, "assignment") or (
        owner is not None and child(owner, "multiInstanceLoopCharacteristics") is not None
    ):
        return []
    first, second = item_of(ctx, source), item_of(ctx, target)
    if first is None or second is None or same_item(first, second):
        return []
    message = "the source and target of a data association carry different item structures"
    return [ctx.issue("EXT091", message, association)]


def _is_process_input(element: etree._Element) -> bool:
    spec = element.getparent()
    owner = spec.getparent() if spec is not None else None
    return owner is not None and local(owner) == "process"


def _visible_input(data: etree._Element, owner: etree._Element | None) -> bool:
    return _is_process_input(data) or _belongs_to(data, owner)


def _belongs_to(data: etree._Element, owner: etree._Element | None) -> bool:
    return owner is not None and any(a is owner for a in data.iterancestors())


def _output_association_issues(
    ctx: ModelContext, association: etree._Element
) -> list[ValidationIssue]:
    target_ref = child(association, "targetRef")
    target = ctx.target(target_ref, text_of(target_ref)) if target_ref is not None else None
    if target is None:
        return []
    if local(target) == "dataInput":
        message = f"a data input ('{text_of(target_ref)}') cannot receive a data output association"
        return [ctx.issue("EXT080", message, association)]
    if local(target) == "dataOutput" and _belongs_to(target, _owner_of(association)):
        message = "a data output association cannot write into its own data output"
        return [ctx.issue("EXT080", message, association)]
    return []


def check_data_associations(ctx: ModelContext) -> list[ValidationIssue]:
    """Data associations read visible sources and write proper targets (EXT080-EXT082)."""
    issues: list[ValidationIssue] = []
    for association in ctx.bpmn_elements("dataInputAssociation"):
        issues.extend(_input_association_issues(ctx, association))
    for association in ctx.bpmn_elements("dataOutputAssociation"):
        issues.extend(_output_association_issues(ctx, association))
    return issues


def check_association_sources(ctx: ModelContext) -> list[ValidationIssue]:
    """Without a transformation, a data association has a single source (EXT092)."""
    return [
        ctx.issue(
            "EXT092",
            "a data association without a transformation can have only one sourceRef",
            association,
        )
        for association in ctx.bpmn_elements("dataInputAssociation", "dataOutputAssociation")
        if child(association, "transformation") is None
        and len(children(association, "sourceRef")) > 1
    ]


def _refs(ctx: ModelContext, owner: etree._Element, name: str) -> list[etree._Element]:
    found = []
    for entry in children(owner, name):
        target = ctx.target(entry, text_of(entry))
        if target is not None:
            found.append(target)
    return found


def _membership_issues(ctx: ModelContext, spec: etree._Element) -> list[ValidationIssue]:
    """Every data input (output) is in an input (output) set: EXT084, EXT088."""
    issues: list[ValidationIssue] = []
    for name, set_name, refs, rule in (
        ("dataInput", "inputSet", "dataInputRefs", "EXT084"),
        ("dataOutput", "outputSet", "dataOutputRefs", "EXT088"),
    ):
        in_any_set = {id(d) for s in children(spec, set_name) for d in _refs(ctx, s, refs)}
        for data in children(spec, name):
            if id(data) not in in_any_set:
                message = f"the {name} '{ctx.node_id(data)}' belongs to no {set_name}"
                issues.append(ctx.issue(rule, message, data))
    return issues


def _set_issues(ctx: ModelContext, spec: etree._Element) -> list[ValidationIssue]:
    issues = _membership_issues(ctx, spec)
    input_sets, output_sets = children(spec, "inputSet"), children(spec, "outputSet")
    for input_set in input_sets:
        for output_set in _refs(ctx, input_set, "outputSetRefs"):
            if input_set not in _refs(ctx, output_set, "inputSetRefs"):
                message = "an input set and an output set must reference each other"
                issues.append(ctx.issue("EXT087", message, input_set))
    for output_set in output_sets:
        for input_set in _refs(ctx, output_set, "inputSetRefs"):
            if output_set not in _refs(ctx, input_set, "outputSetRefs"):
                message = "an output set and an input set must reference each other"
                issues.append(ctx.issue("EXT087", message, output_set))
    for data_set in (*input_sets, *output_sets):
        issues.extend(_subset_issues(ctx, data_set))
    return issues


SUBSETS = {
    "optionalInputRefs": ("dataInputRefs", "EXT085"),
    "whileExecutingInputRefs": ("dataInputRefs", "EXT086"),
    "optionalOutputRefs": ("dataOutputRefs", "EXT089"),
    "whileExecutingOutputRefs": ("dataOutputRefs", "EXT090"),
}


def _subset_issues(ctx: ModelContext, data_set: etree._Element) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for name, (whole, rule) in SUBSETS.items():
        members = _refs(ctx, data_set, whole)
        for data in _refs(ctx, data_set, name):
            if data not in members:
                message = f"'{ctx.node_id(data)}' is listed in {name} but not in {whole}"
                issues.append(ctx.issue(rule, message, data_set))
    return issues


def check_io_specifications(ctx: ModelContext) -> list[ValidationIssue]:
    """Input and output sets are complete and consistent (EXT084-EXT090)."""
    issues: list[ValidationIssue] = []
    for spec in ctx.bpmn_elements("ioSpecification"):
        issues.extend(_set_issues(ctx, spec))
    return issues


RULES = [
    check_collection_flags,
    check_state_names,
    check_data_associations,
    check_association_sources,
    check_io_specifications,
]
