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


ACCEPTED_ELSEWHERE = frozenset({"EXT053", "EXT105", "EXT127", "EXT151"})
"""Rules that models Camunda and SpiffWorkflow run commonly break, and that do not keep Legato
from executing the model: a script task without ``scriptFormat`` (EXT053), a level with a
start event but no end event (EXT105), a sending message event or task without a
``messageRef`` (EXT127), a path that ends without an end event in a level that has one
(EXT151). :func:`validate_document` reports them; deployment does not refuse a model for
them."""


def deployment_issues(root: etree._Element, file_name: str | None) -> list[ValidationIssue]:
    """The issues of :func:`validate_document` that refuse a deployment.

    Those of the rules in :data:`ACCEPTED_ELSEWHERE` are left out.
    """
    return [i for i in validate_document(root, file_name) if i.rule not in ACCEPTED_ELSEWHERE]
