"""Static checking of a BPMN document against the constraints of the BPMN 2.0 specification.

Runs at deployment, on the parsed XML tree, before the model is compiled. Every broken rule
becomes a :class:`~legato.errors.ValidationIssue` naming the rule, the file, the line and the
element, so that a modeler can find and fix it.

Validation profiles
-------------------

Every rule is checked in both profiles; a profile only decides how much a broken rule weighs.

``strict``
    The specification as written: every issue is an error and refuses the model. The betsy
    must-reject conformance models are checked in this profile.
``compatible`` (the engine's default)
    What Camunda 7, Camunda 8 and SpiffWorkflow accept: the rules listed in
    :data:`COMPATIBLE_WARNINGS` are warnings (``severity="warning"``), reported with the
    deployment (``Deployment.warnings``, ``legato deploy``), and the model deploys.

To make a rule a warning in the compatible profile, add its id to :data:`COMPATIBLE_WARNINGS`
with the reason other engines accept models that break it, and test both profiles; nothing
else changes. A rule that separates an acceptable breach from one that cannot run reports the
latter under a second rule id that is not in the table: an informal expression that parses
(``<timeDuration>PT60H</timeDuration>`` without ``xsi:type``) is ``EXT012``, a warning when
compatible, while prose that parses as no formal language is also ``natural-language``, an
error in every profile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

from lxml import etree

from legato.bpmn.rules import ALL_RULES
from legato.bpmn.rules.context import ModelContext
from legato.errors import ValidationIssue

Profile = Literal["compatible", "strict"]
"""A validation profile: ``"compatible"`` (the default of the engine) or ``"strict"``."""

PROFILES: Final[tuple[Profile, ...]] = get_args(Profile)
"""The names of the profiles."""

COMPATIBLE_WARNINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "EXT012": "text without xsi:type='tFormalExpression' that parses as ISO 8601, FEEL or "
        "JUEL is read as a formal expression (Camunda, Zeebe and SpiffWorkflow do so)",
        "EXT103": "a message flow into a start event without a message trigger documents the "
        "conversation only (Camunda ignores it)",
        "EXT109": "a message flow between events without a message trigger documents the "
        "conversation only (Camunda ignores it)",
        "EXT116": "an intermediate event without an outgoing sequence flow ends its path, as an "
        "implicit end event (Camunda runs it so)",
        "message-flow-trigger": "a message flow into an intermediate event without a message "
        "trigger documents the conversation only (Camunda ignores it)",
        "EXT053": "a script task without scriptFormat runs as a job (Camunda and SpiffWorkflow "
        "assume their default language)",
        "EXT105": "a level with a start event but no end event ends where its paths end "
        "(Camunda and SpiffWorkflow run such models)",
        "EXT127": "a sending message event or task without a messageRef sends through its job "
        "or its extension elements (Camunda's send tasks and message end events do so)",
        "EXT151": "a path that ends without an end event ends there, as an implicit end event "
        "(Camunda and SpiffWorkflow run such models)",
    }
)
"""The rules that are warnings in the compatible profile (errors in strict), with the reason."""


def validate_document(
    root: etree._Element, file_name: str | None, profile: Profile = "strict"
) -> list[ValidationIssue]:
    """Check a parsed BPMN document and return every issue found (empty when valid).

    Args:
        root: The ``definitions`` element, as returned by
            :func:`legato.safexml.parse_xml`.
        file_name: The file the document came from, used in issue locations.
        profile: ``"strict"`` makes every issue an error; ``"compatible"`` makes the issues of
            the rules in :data:`COMPATIBLE_WARNINGS` warnings.

    Returns:
        The issues in document order of the rules that found them; an empty list means the
        document breaks none of the checked rules.
    """
    if profile not in PROFILES:
        raise ValueError(f"the validation profile must be one of {PROFILES}, not {profile!r}")
    ctx = ModelContext.build(root, file_name)
    issues: list[ValidationIssue] = []
    for rule in ALL_RULES:
        issues.extend(rule(ctx))
    return apply_profile(issues, profile)


def apply_profile(issues: Iterable[ValidationIssue], profile: Profile) -> list[ValidationIssue]:
    """The issues with the severity ``profile`` gives them."""
    if profile == "strict":
        return list(issues)
    return [
        dataclasses.replace(issue, severity="warning")
        if issue.rule in COMPATIBLE_WARNINGS
        else issue
        for issue in issues
    ]
