"""Rules about callable elements: processes called by call activities, and exposed as services."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import ModelContext, child, children, local, text_of
from legato.errors import ValidationIssue

CALLABLES = ("process", "globalTask", "globalUserTask", "globalManualTask", "globalScriptTask")


def _has_none_start(process: etree._Element, ctx: ModelContext) -> bool:
    return any(not ctx.event_definitions(s) for s in children(process, "startEvent"))


def check_called_processes(ctx: ModelContext) -> list[ValidationIssue]:
    """A process of this document called by a call activity has a none start event (EXT099)."""
    issues: list[ValidationIssue] = []
    for call in ctx.bpmn_elements("callActivity"):
        called = ctx.target(call, call.get("calledElement"))
        if called is None or local(called) != "process" or _has_none_start(called, ctx):
            continue
        message = (
            f"the call activity '{ctx.node_id(call)}' calls process '{ctx.node_id(called)}', "
            "which has no none start event"
        )
        issues.append(ctx.issue("EXT099", message, call))
    return issues


def _operations(ctx: ModelContext, callable_element: etree._Element) -> list[etree._Element]:
    found: list[etree._Element] = []
    for ref in children(callable_element, "supportedInterfaceRef"):
        interface = ctx.target(ref, text_of(ref))
        if interface is not None and local(interface) == "interface":
            found.extend(children(interface, "operation"))
    return found


def _spec_data(callable_element: etree._Element, name: str) -> list[etree._Element]:
    spec = child(callable_element, "ioSpecification")
    return children(spec, name) if spec is not None else []


def _binding_problem(
    ctx: ModelContext, binding: etree._Element, callable_element: etree._Element
) -> str | None:
    checks = (
        ("inputDataRef", _spec_data(callable_element, "dataInput"), "a data input"),
        ("outputDataRef", _spec_data(callable_element, "dataOutput"), "a data output"),
        ("operationRef", _operations(ctx, callable_element), "an operation of its interfaces"),
    )
    for attribute, allowed, what in checks:
        target = ctx.target(binding, binding.get(attribute))
        if target is None or not any(target is a for a in allowed):
            return f"{attribute} '{binding.get(attribute) or ''}' must name {what}"
    return None


def _service_issues(ctx: ModelContext, callable_element: etree._Element) -> list[ValidationIssue]:
    element_id = ctx.node_id(callable_element)
    bindings = children(callable_element, "ioBinding")
    if not bindings:
        message = f"'{element_id}' is exposed as a service, so it needs an ioBinding"
        return [ctx.issue("EXT064", message, callable_element)]
    issues: list[ValidationIssue] = []
    for binding in bindings:
        problem = _binding_problem(ctx, binding, callable_element)
        if problem is not None:
            issues.append(
                ctx.issue("EXT065", f"an ioBinding of '{element_id}': {problem}", binding)
            )
    return issues


def check_service_bindings(ctx: ModelContext) -> list[ValidationIssue]:
    """A callable element exposed as a service binds its data to operations (EXT064, EXT065)."""
    issues: list[ValidationIssue] = []
    for callable_element in ctx.bpmn_elements(*CALLABLES):
        if children(callable_element, "supportedInterfaceRef") and ctx.is_executable(
            callable_element
        ):
            issues.extend(_service_issues(ctx, callable_element))
    return issues


RULES = [check_called_processes, check_service_bindings]
