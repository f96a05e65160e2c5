"""XML navigation and FEEL compilation shared by the DMN readers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree

from legato import feel
from legato.dmn.model import Href, LiteralExpression, UnaryTests
from legato.errors import DmnParseError, SourceLocation
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
        return LiteralExpression(text, compiled, None, type_ref)

    def unary_tests(self, text: str, element: etree._Element | None) -> UnaryTests:
        """Compile unary tests (an empty text means ``-``, any value)."""
        source = text or "-"
        try:
            compiled = feel.compile_unary_tests(source, self.names)
        except FeelSyntaxError as exc:
            return UnaryTests(source, None, self._problem(source, exc, element))
        return UnaryTests(source, compiled)

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


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
