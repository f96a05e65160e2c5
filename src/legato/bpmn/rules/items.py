"""Helpers about item definitions: what an element carries and whether two items agree."""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules.context import ModelContext, flag, local

ITEM_ATTRIBUTE = {
    "message": "itemRef",
    "signal": "structureRef",
    "error": "structureRef",
    "escalation": "structureRef",
}


def item_of(ctx: ModelContext, element: etree._Element) -> etree._Element | None:
    """The item definition an element refers to (``itemSubjectRef``, ``itemRef`` …).

    Signals, errors and escalations name their item in ``structureRef``; a data object
    reference carries the item of its data object.
    """
    kind = local(element)
    if kind == "dataObjectReference":
        data_object = ctx.target(element, element.get("dataObjectRef"))
        if data_object is not None and element.get("itemSubjectRef") is None:
            return item_of(ctx, data_object)
    attribute = ITEM_ATTRIBUTE.get(kind, "itemSubjectRef")
    item = ctx.target(element, element.get(attribute))
    if item is not None and local(item) == "itemDefinition":
        return item
    return None


def same_item(first: etree._Element | None, second: etree._Element | None) -> bool:
    """Whether two item definitions describe the same data.

    They agree when they are the same definition, or when both name the same structure.
    An absent item on both sides agrees; on one side only, it does not.
    """
    if first is None or second is None:
        return first is second
    if first is second:
        return True
    first_structure = (first.get("structureRef") or "").strip()
    second_structure = (second.get("structureRef") or "").strip()
    return bool(first_structure) and first_structure == second_structure


def is_collection(item: etree._Element) -> bool:
    """Whether an item definition describes a collection."""
    return flag(item, "isCollection", False)
