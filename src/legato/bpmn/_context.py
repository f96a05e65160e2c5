"""What reading one BPMN document needs: its root-level index and the problems found."""

from __future__ import annotations

from dataclasses import dataclass, field

from legato.bpmn._dom import (
    Element,
    all_text,
    attribute,
    bpmn_children,
    bpmn_name,
    line_of,
    local_ref,
)
from legato.bpmn.juel import JuelTranslationError, is_juel, translate_juel
from legato.errors import ExpressionError, SourceLocation, ValidationIssue
from legato.model.expressions import Expression

_ROOT_TABLES = {"message", "signal", "error", "escalation"}
_UNDERSTOOD_LANGUAGES = ("feel", "xpath", "juel", "/el", "unified expression language")


@dataclass(frozen=True, slots=True)
class DocumentIndex:
    """Root elements of ``definitions`` that events and tasks refer to, by id."""

    messages: dict[str, Element] = field(default_factory=dict)
    signals: dict[str, Element] = field(default_factory=dict)
    errors: dict[str, Element] = field(default_factory=dict)
    escalations: dict[str, Element] = field(default_factory=dict)
    event_definitions: dict[str, Element] = field(default_factory=dict)

    @classmethod
    def of(cls, root: Element) -> DocumentIndex:
        """Index the root elements of a ``definitions`` element."""
        index = cls()
        tables = {
            "message": index.messages,
            "signal": index.signals,
            "error": index.errors,
            "escalation": index.escalations,
        }
        for child in bpmn_children(root):
            name = bpmn_name(child) or ""
            element_id = child.get("id")
            if element_id is None:
                continue
            if name in _ROOT_TABLES:
                tables[name][element_id] = child
            elif name.endswith("EventDefinition"):
                index.event_definitions[element_id] = child
        return index

    @staticmethod
    def lookup(table: dict[str, Element], reference: str | None) -> Element | None:
        """Resolve a reference, with or without a namespace prefix."""
        if reference is None:
            return None
        found = table.get(reference)
        return found if found is not None else table.get(local_ref(reference))


@dataclass(slots=True)
class ReadContext:
    """The state of reading one process: the document index and the problems found."""

    file_name: str | None
    index: DocumentIndex
    problems: list[ValidationIssue] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)

    def problem(self, rule: str, message: str, owner: Element) -> None:
        """Record what keeps the process from being executed, at ``owner``."""
        location = SourceLocation(self.file_name, line_of(owner), owner.get("id"))
        self.problems.append(ValidationIssue(rule, message, location))

    def condition(self, text: str | None, owner: Element, what: str) -> Expression | None:
        """Compile FEEL (a leading ``=`` optional) or translated JUEL; None if blank."""
        if text is None or not text.strip():
            return None
        return self._compile(text, owner, what)

    def formal_expression(
        self, element: Element | None, owner: Element, what: str
    ) -> Expression | None:
        """Compile a ``tFormalExpression`` element (a condition, a cardinality, ...).

        FEEL and JUEL are understood. The ``language`` attribute is only heeded when it names
        a scripting language: XPath is the schema's default that modelers write without
        meaning it.
        """
        if element is None:
            return None
        language = (attribute(element, "language") or "").lower()
        if language and not any(known in language for known in _UNDERSTOOD_LANGUAGES):
            self.problem("expression-language", f"{what} is in {language!r}, not FEEL", owner)
            return None
        return self.condition(all_text(element), owner, what)

    def value(self, text: str | None, owner: Element, what: str) -> Expression | None:
        """An attribute value: a constant unless it starts with ``=`` or holds JUEL."""
        if text is None:
            return None
        stripped = text.strip()
        if stripped.startswith("=") or is_juel(stripped):
            return self._compile(stripped, owner, what)
        return Expression.static(stripped, text)

    def _compile(self, text: str, owner: Element, what: str) -> Expression | None:
        source = text.strip()
        if is_juel(source):
            try:
                source = translate_juel(source)
            except JuelTranslationError as exc:
                self.problem("juel-expression", f"{what} {text.strip()!r}: {exc}", owner)
                return None
        try:
            expression = Expression.compile(source)
        except ExpressionError as exc:
            self.problem("expression", f"{what} does not compile: {exc}", owner)
            return None
        unknown = expression.compiled.unknown_functions if expression.compiled else ()
        for name in sorted(unknown):
            message = (
                f"{what} calls the function '{name}()', which is neither a FEEL built-in "
                "nor defined in the expression"
            )
            self.problem("unknown-function", message, owner)
        return expression


def reference_name(element: Element | None, reference: str | None) -> str | None:
    """The ``name`` of a referenced root element, else its id, else the reference itself."""
    if element is not None:
        return attribute(element, "name") or element.get("id")
    return reference
