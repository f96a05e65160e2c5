"""Namespaces and small helpers for walking BPMN XML with lxml."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
LEGATO_NS = "https://legato.dev/schema/bpmn/1.0"

Element = etree._Element


def tag(namespace: str, name: str) -> str:
    """The Clark notation ``{namespace}name`` lxml uses for tags and attributes."""
    return f"{{{namespace}}}{name}"


def bpmn_name(element: Element) -> str | None:
    """The local name of a BPMN element, None for anything outside the BPMN namespace."""
    name = element.tag
    if isinstance(name, str) and name.startswith("{" + BPMN_NS + "}"):
        return name[len(BPMN_NS) + 2 :]
    return None


def bpmn_children(element: Element, name: str | None = None) -> Iterator[Element]:
    """The BPMN child elements, all of them or those with one local name."""
    for child in element:
        child_name = bpmn_name(child)
        if child_name is not None and (name is None or child_name == name):
            yield child


def bpmn_child(element: Element, name: str) -> Element | None:
    """The first BPMN child with this local name."""
    return next(bpmn_children(element, name), None)


def extensions(element: Element, namespace: str, name: str) -> Iterator[Element]:
    """The elements ``{namespace}name`` inside the ``extensionElements`` of ``element``."""
    for container in bpmn_children(element, "extensionElements"):
        yield from container.iterchildren(tag(namespace, name))


def extension(element: Element, namespace: str, name: str) -> Element | None:
    """The first extension element ``{namespace}name`` of ``element``."""
    return next(extensions(element, namespace, name), None)


def text_of(element: Element | None) -> str | None:
    """The trimmed text content (CDATA included); None when absent or blank."""
    if element is None:
        return None
    text = all_text(element).strip()
    return text or None


def all_text(element: Element) -> str:
    """The text content of an element and its descendants, untrimmed."""
    return "".join(str(part) for part in element.itertext())


def attribute(element: Element, name: str, namespace: str | None = None) -> str | None:
    """An attribute's value, trimmed; None when absent or blank."""
    value = element.get(tag(namespace, name) if namespace else name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def flag(element: Element, name: str, default: bool, namespace: str | None = None) -> bool:
    """A boolean attribute (``true``/``false``, any case)."""
    value = attribute(element, name, namespace)
    if value is None:
        return default
    return value.lower() == "true"


def local_ref(reference: str) -> str:
    """A reference without a namespace prefix (``tns:Message_1`` -> ``Message_1``)."""
    return reference.rsplit(":", 1)[-1]


def line_of(element: Element) -> int | None:
    """The line where the element starts."""
    line = element.sourceline
    return line if isinstance(line, int) else None
