"""Reading DMN 1.1-1.5 XML into :class:`~legato.dmn.model.Definitions`.

Every file goes through the hardened XML parser of :mod:`legato.safexml` (no DTDs, no
entities, size limits). Elements are matched by namespace, whatever prefix a file uses.
"""

from __future__ import annotations

from lxml import etree

from legato.dmn._compiler import DMN_NAMESPACES, Compiler, line_of
from legato.dmn._expressions import ExpressionReader
from legato.dmn.model import (
    BusinessKnowledgeModel,
    Decision,
    DecisionService,
    Definitions,
    FunctionItem,
    Href,
    Import,
    InputData,
    ItemDefinition,
    Parameter,
    Requirements,
)
from legato.dmn.types import TypeRegistry
from legato.errors import DmnParseError, SourceLocation
from legato.feel import FeelSyntaxError
from legato.feel.lexer import Kind, tokenize
from legato.safexml import ModelSource, parse_xml, read_source


def parse_root(source: ModelSource) -> tuple[etree._Element, str | None]:
    """Parse a DMN file safely: its ``definitions`` element and file name.

    Raises:
        DmnParseError: For malformed, hostile or oversized XML, or XML that is not DMN.
    """
    data, file_name = read_source(source, DmnParseError)
    root = parse_xml(data, file_name, DmnParseError)
    qname = etree.QName(root.tag)
    if qname.localname != "definitions" or qname.namespace not in DMN_NAMESPACES:
        raise DmnParseError(
            f"not a DMN 1.1-1.5 model: the root element is {root.tag!r}",
            SourceLocation(file_name, line_of(root)),
        )
    return root, file_name


def read_definitions(
    root: etree._Element, file_name: str | None
) -> tuple[Definitions, TypeRegistry]:
    """Compile a parsed ``definitions`` element (FEEL included) into frozen model objects.

    Returns:
        The definitions and the registry of their types (to be linked to imported models).

    Raises:
        DmnParseError: For a structural error (a bad hit policy, a rule with the wrong number
            of entries, a missing name or id) or an expression too large or deep to compile.
    """
    namespace = etree.QName(root.tag).namespace or ""
    probe = Compiler(namespace, file_name, (), None)
    imports = tuple(_import(probe, element) for element in probe.children(root, "import"))
    items = tuple(_item(probe, e) for e in probe.children(root, "itemDefinition"))
    registry = TypeRegistry(items, tuple(i.name for i in imports))
    compiler = Compiler(namespace, file_name, _names(root), registry.feel_types())
    reader = _DrgReader(compiler, ExpressionReader(compiler))
    decisions = tuple(reader.decision(e) for e in compiler.children(root, "decision"))
    bkms = tuple(reader.bkm(e) for e in compiler.children(root, "businessKnowledgeModel"))
    services = tuple(reader.service(e) for e in compiler.children(root, "decisionService"))
    inputs = tuple(reader.input_data(e) for e in compiler.children(root, "inputData"))
    definitions = Definitions(
        name=root.get("name", ""),
        namespace=root.get("namespace", ""),
        file=file_name,
        imports=imports,
        item_definitions=items,
        inputs=inputs,
        decisions=decisions,
        knowledge_models=bkms,
        services=services,
        problems=tuple(compiler.problems + probe.problems),
        unknown_functions=tuple(compiler.unknown_functions),
    )
    return definitions, registry


def _names(root: etree._Element) -> set[str]:
    """Every name the model declares, so FEEL can recognise names with spaces."""
    names: set[str] = set()
    for element in root.iter():
        if isinstance(element.tag, str):
            name = element.get("name") or element.get("iteratorVariable")
            if name and name.strip() and not _reads_as_path(name):
                names.add(" ".join(name.split()))
    return names


def _reads_as_path(name: str) -> bool:
    """Whether FEEL reads ``name`` as a path (``a.b``); a dot inside a number, as in
    ``decision A 2.1``, is part of the name."""
    try:
        return any(token.kind is Kind.OP and token.text == "." for token in tokenize(name))
    except FeelSyntaxError:
        return False


def _import(c: Compiler, element: etree._Element) -> Import:
    namespace = (element.get("namespace") or "").strip()
    if not namespace:
        raise c.error("an import needs a namespace", element)
    return Import((element.get("name") or "").strip(), namespace, element.get("locationURI"))


def _item(c: Compiler, element: etree._Element) -> ItemDefinition:
    name = (element.get("name") or "").strip()
    if not name:
        raise c.error("an item definition needs a name", element)
    allowed_element = c.child(element, "allowedValues")
    if allowed_element is None:
        allowed_element = c.child(element, "typeConstraint")
    allowed_text = c.text(allowed_element)
    allowed = c.unary_tests(allowed_text, allowed_element) if allowed_text else None
    function_element = c.child(element, "functionItem")
    function = None
    if function_element is not None:
        params = tuple(
            Parameter(p.get("name", "").strip(), c.type_ref(p))
            for p in c.children(function_element, "parameters")
        )
        function = FunctionItem(params, function_element.get("outputTypeRef"))
    return ItemDefinition(
        name=name,
        type_ref=c.type_ref(element),
        is_collection=(element.get("isCollection") or "").strip() == "true",
        allowed=allowed,
        components=tuple(_item(c, e) for e in c.children(element, "itemComponent")),
        function=function,
    )


class _DrgReader:
    def __init__(self, compiler: Compiler, expressions: ExpressionReader) -> None:
        self.c = compiler
        self.expressions = expressions

    def _identity(self, element: etree._Element) -> tuple[str, str, str | None]:
        name = " ".join((element.get("name") or "").split())
        if not name:
            raise self.c.error(f"a {etree.QName(element.tag).localname} needs a name", element)
        variable = self.c.child(element, "variable")
        element_id = (element.get("id") or name).strip()
        return element_id, name, self.c.type_ref(variable)

    def _hrefs(self, element: etree._Element, outer: str, inner: str) -> tuple[Href, ...]:
        found: list[Href] = []
        for requirement in self.c.children(element, outer):
            found.extend(self.c.href(ref) for ref in self.c.children(requirement, inner))
        return tuple(found)

    def _requirements(self, element: etree._Element) -> Requirements:
        return Requirements(
            decisions=self._hrefs(element, "informationRequirement", "requiredDecision"),
            inputs=self._hrefs(element, "informationRequirement", "requiredInput"),
            knowledge=self._hrefs(element, "knowledgeRequirement", "requiredKnowledge"),
        )

    def input_data(self, element: etree._Element) -> InputData:
        element_id, name, type_ref = self._identity(element)
        return InputData(element_id, name, type_ref)

    def decision(self, element: etree._Element) -> Decision:
        element_id, name, type_ref = self._identity(element)
        return Decision(
            element_id,
            name,
            type_ref,
            self.expressions.find(element),
            self._requirements(element),
            line_of(element),
        )

    def bkm(self, element: etree._Element) -> BusinessKnowledgeModel:
        element_id, name, type_ref = self._identity(element)
        logic = self.c.child(element, "encapsulatedLogic")
        function = self.expressions.function(logic) if logic is not None else None
        return BusinessKnowledgeModel(
            element_id, name, type_ref, function, self._requirements(element)
        )

    def service(self, element: etree._Element) -> DecisionService:
        element_id, name, type_ref = self._identity(element)

        def refs(tag: str) -> tuple[Href, ...]:
            return tuple(self.c.href(e) for e in self.c.children(element, tag))

        return DecisionService(
            element_id,
            name,
            type_ref,
            refs("outputDecision"),
            refs("encapsulatedDecision"),
            refs("inputDecision"),
            refs("inputData"),
        )
