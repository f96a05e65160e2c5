"""Static checking of a BPMN document against the constraints of the BPMN 2.0 specification.

Runs at deployment, on the parsed XML tree, before the model is compiled. Every broken rule
becomes a :class:`~legato.errors.ValidationIssue` naming the rule, the file, the line and the
element, so that a modeler can find and fix it.
"""

from __future__ import annotations

from lxml import etree

from legato.bpmn.rules import ALL_RULES
from legato.bpmn.rules.context import ModelContext
from legato.errors import ValidationIssue


def validate_document(root: etree._Element, file_name: str | None) -> list[ValidationIssue]:
    """Check a parsed BPMN document and return every issue found (empty when valid).

    Args:
        root: The ``definitions`` element, as returned by
            :func:`legato.bpmn.xml.parse_xml`.
        file_name: The file the document came from, used in issue locations.

    Returns:
        The issues in document order of the rules that found them; an empty list means the
        document breaks none of the checked rules.
    """
    ctx = ModelContext.build(root, file_name)
    issues: list[ValidationIssue] = []
    for rule in ALL_RULES:
        issues.extend(rule(ctx))
    return issues
