"""XML navigation and FEEL compilation shared by the DMN readers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree

from legato import feel
from legato.dmn.model import Href, LiteralExpression, UnaryTests
from legato.errors import DmnParseError, SourceLocation, ValidationIssue
from legato.feel import FeelSyntaxError
from legato.feel.types import TypeTest

DMN_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "https://www.omg.org/spec/DMN/20211108/MODEL/",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
    }
)
"""The model namespaces of DMN 1.1, 1.2, 1.3, 1.4 and 1.5."""

_HOSTILE = ("too long", "too deeply", "nested too")


class Compiler:
    """Reads DMN elements of one file and compiles their FEEL, collecting the problems."""

    def __init__(
        self,
        namespace: str,
        file_name: str | None,
        names: Iterable[str],
        types: Mapping[str, TypeTest] | None,
    ) -> None:
        self.ns = namespace
        self.file_name = file_name
        self.names = tuple(sorted(set(names)))
        self.types = types
        self.problems: list[str] = []
        self.unknown_functions: list[ValidationIssue] = []
        """Calls of functions that are neither built-ins nor named in the model."""
        self._defined = frozenset(self.names)

    # -- XML -----------------------------------------------------------------------------

    def children(self, element: etree._Element, name: str) -> list[etree._Element]:
        """The DMN children of ``element`` with local name ``name``."""
        tag = f"{{{self.ns}}}{name}"
        return [child for child in element if child.tag == tag]

    def child(self, element: etree._Element, name: str) -> etree._Element | None:
        """The first DMN child named ``name``, if any."""
        found = self.children(element, name)
        return found[0] if found else None

    def text(self, element: etree._Element | None) -> str:
        """The ``<text>`` of ``element`` (empty when absent)."""
        if element is None:
            return ""
        node = self.child(element, "text")
        return (node.text or "").strip() if node is not None else ""

    def type_ref(self, element: etree._Element | None) -> str | None:
        """A ``typeRef`` given as attribute (1.1-1.5) or child element (item definitions)."""
        if element is None:
            return None
        value = element.get("typeRef")
        if value is None:
            node = self.child(element, "typeRef")
            value = node.text if node is not None else None
        return value.strip() if value and value.strip() else None

    def href(self, element: etree._Element) -> Href:
        """The reference an ``href`` attribute makes (``#id`` or ``namespace#id``)."""
        value = (element.get("href") or "").strip()
        namespace, _, element_id = value.rpartition("#")
        return Href(namespace or None, element_id)

    def error(self, message: str, element: etree._Element | None = None) -> DmnParseError:
        """A parse error naming the file and the line of ``element``."""
        return DmnParseError(message, SourceLocation(self.file_name, line_of(element)))

    def where(self, element: etree._Element | None) -> str:
        """``file:line`` of ``element``, for problem messages."""
        return f"{self.file_name or '<string>'}:{line_of(element)}"

    # -- FEEL ----------------------------------------------------------------------------

    def literal(
        self, text: str, element: etree._Element | None, type_ref: str | None = None
    ) -> LiteralExpression:
        """Compile a FEEL expression; a syntax error becomes a problem evaluated as null."""
        if not text:
            return LiteralExpression(text, None, None, type_ref)
        types = (
            self.types if self.types is not None and ("instance" in text or ":" in text) else None
        )
        try:
            compiled = feel.compile(text, self.names, types)
        except FeelSyntaxError as exc:
            problem = self._problem(text, exc, element)
            return LiteralExpression(text, None, problem, type_ref)
        if compiled.unknown_functions:
            self._unknown(compiled.unknown_functions, text, element)
        return LiteralExpression(text, compiled, None, type_ref)

    def unary_tests(self, text: str, element: etree._Element | None) -> UnaryTests:
        """Compile unary tests (an empty text means ``-``, any value)."""
        source = text or "-"
        try:
            compiled = feel.compile_unary_tests(source, self.names)
        except FeelSyntaxError as exc:
            return UnaryTests(source, None, self._problem(source, exc, element))
        if compiled.unknown_functions:
            self._unknown(compiled.unknown_functions, source, element)
        return UnaryTests(source, compiled)

    def _unknown(self, names: frozenset[str], text: str, element: etree._Element | None) -> None:
        """Record the calls of functions the model does not define (checked at deployment).

        Any name the model gives (a business knowledge model, a decision service, a context
        entry, a parameter) may hold a function, so only the others are reported.
        """
        for name in sorted(names - self._defined):
            owner = _owner(element)
            where = f" of {owner[0]} '{owner[1]}'" if owner else ""
            message = (
                f"the expression {_short(text)!r}{where} calls the function '{name}()', which "
                "is neither a FEEL built-in nor defined in the model"
            )
            location = SourceLocation(self.file_name, line_of(element), _element_id(element))
            self.unknown_functions.append(ValidationIssue("unknown-function", message, location))

    def _problem(self, text: str, exc: FeelSyntaxError, element: etree._Element | None) -> str:
        if any(word in exc.reason for word in _HOSTILE):
            raise self.error(f"expression refused: {exc}", element) from exc
        problem = f"{self.where(element)}: invalid FEEL {_short(text)!r}: {exc}"
        self.problems.append(problem)
        return problem


def line_of(element: etree._Element | None) -> int | None:
    """The source line of ``element``, when known."""
    line = element.sourceline if element is not None else None
    return line if isinstance(line, int) else None


_OWNERS = frozenset({"decision", "businessKnowledgeModel", "decisionService", "inputData"})


def _owner(element: etree._Element | None) -> tuple[str, str] | None:
    """The kind and name of the DRG element around ``element``."""
    node = element
    while node is not None:
        kind = etree.QName(node).localname if isinstance(node.tag, str) else ""
        if kind in _OWNERS:
            return _KINDS.get(kind, kind), node.get("name") or node.get("id") or ""
        node = node.getparent()
    return None


_KINDS = {
    "decision": "decision",
    "businessKnowledgeModel": "business knowledge model",
    "decisionService": "decision service",
    "inputData": "input data",
}


def _element_id(element: etree._Element | None) -> str | None:
    """The id of ``element`` or of its nearest ancestor that has one."""
    node = element
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
