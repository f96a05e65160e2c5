"""Rules about expressions, scripts and formats in executable processes.

The specification types several expressions as ``tExpression``: natural-language text that
cannot be executed, unless ``xsi:type`` marks it as a ``tFormalExpression`` (EXT012). Modelers
and other engines commonly leave the type off and still mean code (``x &lt; 2``,
``<timeDuration>PT60H</timeDuration>``), so an informal expression is sorted by its text:

- text that parses as the expected formal language (ISO 8601 or a cron expression for
  timers, an ``=`` FEEL or ``${…}`` JUEL expression in a timer, FEEL or JUEL elsewhere) is
  ``EXT012`` only, which the compatible profile makes a warning (see
  :mod:`legato.bpmn.validate`);
- prose (several bare words with no operator, or text that parses as nothing) is ``EXT012``
  and ``natural-language``, refused in every profile.
"""

from __future__ import annotations

import re

from lxml import etree

from legato.bpmn.juel import JuelTranslationError, is_juel, translate_juel
from legato.bpmn.rules.context import ModelContext, is_formal, local, text_of
from legato.bpmn.rules.timers import TIME_ELEMENTS, is_time_literal, valid_literal
from legato.errors import ExpressionError, ValidationIssue
from legato.model.expressions import Expression

INFORMAL_CHECKED = frozenset(
    {
        "timeDate",
        "timeCycle",
        "timeDuration",
        "completionCondition",
        "activationCondition",
        "from",
        "to",
        "loopCondition",
        "conditionExpression",
        "loopCardinality",
    }
)
FORMAL_BY_SCHEMA = frozenset({"messagePath", "dataPath", "transformation", "formalExpression"})
WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
KEYWORDS = frozenset({"not", "and", "or", "in", "is", "if", "then", "else", "true", "false"})


def reads_as_prose(text: str) -> bool:
    """Whether expression text is several bare words with no operator or keyword."""
    words = text.split()
    if len(words) < 2:
        return False
    return all(WORD.match(w) and w.lower() not in KEYWORDS for w in words)


def compiles(text: str) -> bool:
    """Whether text is a FEEL expression (a leading ``=`` optional) or translatable JUEL."""
    source = text.strip()
    try:
        if is_juel(source):
            source = translate_juel(source)
        Expression.compile(source)
    except (JuelTranslationError, ExpressionError):
        return False
    return True


def _is_timer_expression(text: str) -> bool:
    return (text.startswith("=") or is_juel(text)) and compiles(text)


def parses_as_formal(kind: str, text: str) -> bool:
    """Whether the text of an informal ``kind`` element parses as its formal language."""
    if not text or reads_as_prose(text):
        return False
    if kind in TIME_ELEMENTS:
        return _is_timer_expression(text) or is_time_literal(kind, text)
    return compiles(text)


def _informal_issues(ctx: ModelContext, expression: etree._Element) -> list[ValidationIssue]:
    name = local(expression)
    text = text_of(expression)
    if is_formal(expression) or (name == "condition" and _is_behavior_condition(expression)):
        return []
    owner = _owner(expression)
    timer = name in TIME_ELEMENTS
    language = "ISO 8601, cron or an =FEEL or ${JUEL} expression" if timer else "FEEL or JUEL"
    formal = bool(text) and parses_as_formal(name, text)
    shown = f" '{text}'" if text else ""
    message = (
        f"the {name}{shown} of an executable process is not marked as a formal expression "
        "(xsi:type='tFormalExpression')" + (f"; it reads as {language}" if formal else "")
    )
    issues = [ctx.issue("EXT012", message, owner)]
    # An invalid ISO 8601 literal in a timer is EXT132-EXT134 already (see rules.timers).
    if text and not formal and (not timer or valid_literal(name, text)):
        message = (
            f"the {name} '{text}' reads as natural language, not as {language}: "
            "an executable process cannot run it"
        )
        issues.append(ctx.issue("natural-language", message, owner))
    return issues


def _is_behavior_condition(expression: etree._Element) -> bool:
    parent = expression.getparent()
    return parent is not None and local(parent) == "complexBehaviorDefinition"


def _owner(element: etree._Element) -> etree._Element:
    for ancestor in element.iterancestors():
        if ancestor.get("id"):
            return ancestor
    return element


def check_formal_expressions(ctx: ModelContext) -> list[ValidationIssue]:
    """Expressions of executable processes are formal (EXT012) and not prose."""
    issues: list[ValidationIssue] = []
    for expression in ctx.bpmn_elements(*INFORMAL_CHECKED):
        if ctx.is_executable(expression):
            issues.extend(_informal_issues(ctx, expression))
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
        "xslt",
        "freemarker",
        "velocity",
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
