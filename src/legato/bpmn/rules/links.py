"""Rules about link events: every catching link has a throwing partner in the same scope."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import ModelContext, children, local, scope_of, text_of
from legato.errors import ValidationIssue


def _link_definitions(ctx: ModelContext, kind: str) -> list[tuple[etree._Element, etree._Element]]:
    pairs: list[tuple[etree._Element, etree._Element]] = []
    for event in ctx.bpmn_elements(kind):
        for definition in ctx.event_definitions(event):
            if local(definition) == "linkEventDefinition":
                pairs.append((event, definition))
    return pairs


def _refs(ctx: ModelContext, definition: etree._Element, name: str) -> list[etree._Element]:
    found = []
    for entry in children(definition, name):
        target = ctx.target(entry, text_of(entry))
        if target is not None:
            found.append(target)
    return found


def _throw_issues(
    ctx: ModelContext,
    event: etree._Element,
    definition: etree._Element,
    catches: list[tuple[etree._Element, etree._Element]],
) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    event_id = ctx.node_id(event)
    targets = _refs(ctx, definition, "target")
    for target in targets:
        sources = _refs(ctx, target, "source")
        if sources and definition not in sources:
            message = f"the link target of '{event_id}' does not name it as a source"
            issues.append(ctx.issue("EXT118", message, event))
        catch = target.getparent()
        if catch is not None and scope_of(catch) is not scope_of(event):
            message = f"the link throw event '{event_id}' targets another scope"
            issues.append(ctx.issue("EXT126", message, event))
    partners = targets or _named_partners(event, definition, catches)
    if not partners:
        message = f"the link throw event '{event_id}' has no catching link to go to"
        issues.append(ctx.issue("EXT118", message, event))
        message = f"the link throw event '{event_id}' names no target"
        issues.append(ctx.issue("EXT125", message, event))
    elif len(partners) > 1:
        message = f"the link throw event '{event_id}' has {len(partners)} targets, not one"
        issues.append(ctx.issue("EXT125", message, event))
    return issues


def _named_partners(
    event: etree._Element,
    definition: etree._Element,
    catches: list[tuple[etree._Element, etree._Element]],
) -> list[etree._Element]:
    """The catching links of the throw event's scope that bear its name."""
    name = (definition.get("name") or "").strip()
    return [
        catch_definition
        for catch_event, catch_definition in catches
        if name
        and scope_of(catch_event) is scope_of(event)
        and (catch_definition.get("name") or "").strip() == name
    ]


def _has_partner(
    catch: tuple[etree._Element, etree._Element],
    throws: list[tuple[etree._Element, etree._Element]],
    ctx: ModelContext,
) -> bool:
    event, definition = catch
    name = (definition.get("name") or "").strip()
    for throw_event, throw_definition in throws:
        if scope_of(throw_event) is not scope_of(event):
            continue
        if definition in _refs(ctx, throw_definition, "target"):
            return True
        if throw_definition in _refs(ctx, definition, "source"):
            return True
        if name and (throw_definition.get("name") or "").strip() == name:
            return True
    return False


def check_links(ctx: ModelContext) -> list[ValidationIssue]:
    """Link throw/catch pairs agree (EXT118), stay in one scope (EXT126), exist (EXT124).

    A throwing link goes to exactly one catching link (EXT125), named by ``target`` or, as
    modeling tools write it, by the shared name.
    """
    throws = _link_definitions(ctx, "intermediateThrowEvent")
    catches = _link_definitions(ctx, "intermediateCatchEvent")
    issues: list[ValidationIssue] = []
    for event, definition in throws:
        issues.extend(_throw_issues(ctx, event, definition, catches))
    for catch in catches:
        if not _has_partner(catch, throws, ctx):
            message = f"the link catch event '{ctx.node_id(catch[0])}' has no throwing link"
            issues.append(ctx.issue("EXT124", message, catch[0]))
    return issues


RULES = [check_links]
