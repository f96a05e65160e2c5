"""Rules about expressions, scripts and formats in executable processes.

The specification types several expressions as ``tExpression``: natural-language text that
cannot be executed, unless ``xsi:type`` marks it as a ``tFormalExpression``. Modelers commonly
leave the type off conditions and loop expressions and still mean code (``x &lt; 2``), so for
those only text that reads as prose (several bare words, no operator) is refused. Timers,
completion and activation conditions and assignments must be marked formal.
"""

from __future__ import annotations

import re

from lxml import etree

from legato.bpmn.rules.context import ModelContext, is_formal, local, text_of
from legato.errors import ValidationIssue

STRICT = frozenset(
    {
        "timeDate",
        "timeCycle",
        "timeDuration",
        "completionCondition",
        "activationCondition",
        "from",
        "to",
        "loopCondition",
    }
)
LENIENT = frozenset({"conditionExpression", "loopCardinality"})
FORMAL_BY_SCHEMA = frozenset({"messagePath", "dataPath", "transformation", "formalExpression"})
WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
KEYWORDS = frozenset({"not", "and", "or", "in", "is", "if", "then", "else", "true", "false"})


def reads_as_prose(text: str) -> bool:
    """Whether expression text is several bare words with no operator or keyword."""
    words = text.split()
    if len(words) < 2:
        return False
    return all(WORD.match(w) and w.lower() not in KEYWORDS for w in words)


def _informal_issue(ctx: ModelContext, expression: etree._Element) -> ValidationIssue | None:
    name = local(expression)
    text = text_of(expression)
    if is_formal(expression) or (name == "condition" and _is_behavior_condition(expression)):
        return None
    if name in STRICT or (name in LENIENT and reads_as_prose(text)):
        message = (
            f"the {name} '{text}' of an executable process must be a formal expression "
            "(xsi:type='tFormalExpression')"
        )
        return ctx.issue("EXT012", message, _owner(expression))
    return None


def _is_behavior_condition(expression: etree._Element) -> bool:
    parent = expression.getparent()
    return parent is not None and local(parent) == "complexBehaviorDefinition"


def _owner(element: etree._Element) -> etree._Element:
    for ancestor in element.iterancestors():
        if ancestor.get("id"):
            return ancestor
    return element


def check_formal_expressions(ctx: ModelContext) -> list[ValidationIssue]:
    """Expressions of executable processes are formal (EXT012)."""
    issues: list[ValidationIssue] = []
    for expression in ctx.bpmn_elements(*(STRICT | LENIENT)):
        if ctx.is_executable(expression):
            found = _informal_issue(ctx, expression)
            if found is not None:
                issues.append(found)
    return issues


def check_expression_bodies(ctx: ModelContext) -> list[ValidationIssue]:
    """Formal expressions of executable processes are not empty (EXT013)."""
    issues: list[ValidationIssue] = []
    for element in ctx.bpmn_elements():
        formal = local(element) in FORMAL_BY_SCHEMA or is_formal(element)
        formal = formal or (local(element) == "condition" and _is_behavior_condition(element))
        if formal and not text_of(element) and ctx.is_executable(element):
            message = f"the formal expression {local(element)} of an executable process is empty"
            issues.append(ctx.issue("EXT013", message, _owner(element)))
    return issues


MIME = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;.*)?$")
SCRIPT_LANGUAGES = frozenset(
    {
        "groovy",
        "javascript",
        "js",
        "ecmascript",
        "python",
        "jython",
        "ruby",
        "jruby",
        "juel",
        "feel",
        "java",
        "kotlin",
        "lua",
        "nashorn",
        "graal.js",
        "jexl",
        "mvel",
        "spel",
        "xpath",
        "beanshell",
        "bsh",
    }
)


def check_formats(ctx: ModelContext) -> list[ValidationIssue]:
    """Text formats are MIME types (EXT004); script formats name a language (EXT145)."""
    issues: list[ValidationIssue] = []
    for element in ctx.bpmn_elements("documentation", "textAnnotation"):
        text_format = (element.get("textFormat") or "").strip()
        if text_format and not MIME.match(text_format):
            message = f"the textFormat '{text_format}' is not a MIME type"
            issues.append(ctx.issue("EXT004", message, _owner(element)))
    for element in ctx.bpmn_elements("scriptTask", "globalScriptTask"):
        script_format = (element.get("scriptFormat") or "").strip()
        known = MIME.match(script_format) or script_format.lower() in SCRIPT_LANGUAGES
        if script_format and not known:
            message = f"the scriptFormat '{script_format}' is neither a MIME type nor a language"
            issues.append(ctx.issue("EXT145", message, element))
    return issues


RULES = [check_formal_expressions, check_expression_bodies, check_formats]
