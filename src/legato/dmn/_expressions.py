"""Reading boxed expressions (literal, decision table, context, invocation, ...) from XML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from legato import feel
from legato.dmn._compiler import Compiler
from legato.dmn.model import (
    Aggregation,
    Binding,
    BoxedContext,
    BoxedFilter,
    BoxedIterator,
    BoxedList,
    Conditional,
    ContextEntry,
    DecisionTable,
    Expression,
    FunctionDefinition,
    HitPolicy,
    Invocation,
    IteratorKind,
    Parameter,
    Relation,
    Rule,
    TableInput,
    TableOutput,
    UnaryTests,
)
from legato.feel import FeelLimitError, FeelSyntaxError

EXPRESSION_TAGS = frozenset(
    {
        "literalExpression",
        "decisionTable",
        "context",
        "invocation",
        "list",
        "relation",
        "conditional",
        "filter",
        "for",
        "some",
        "every",
        "functionDefinition",
    }
)
"""Local names of the elements that are boxed expressions."""

_HIT_POLICIES = {
    "U": HitPolicy.UNIQUE,
    "A": HitPolicy.ANY,
    "P": HitPolicy.PRIORITY,
    "F": HitPolicy.FIRST,
    "R": HitPolicy.RULE_ORDER,
    "O": HitPolicy.OUTPUT_ORDER,
    "C": HitPolicy.COLLECT,
}
_AGGREGATIONS = {"+": Aggregation.SUM, "<": Aggregation.MIN, ">": Aggregation.MAX}
_AGGREGATIONS["#"] = Aggregation.COUNT


class ExpressionReader:
    """Turns boxed expression elements into model objects with compiled FEEL."""

    def __init__(self, compiler: Compiler) -> None:
        self.c = compiler
        self._dispatch: dict[str, Callable[[etree._Element], Expression]] = {
            "literalExpression": self._literal,
            "decisionTable": self._table,
            "context": self._context,
            "invocation": self._invocation,
            "list": self._list,
            "relation": self._relation,
            "conditional": self._conditional,
            "filter": self._filter,
            "for": self._iterator,
            "some": self._iterator,
            "every": self._iterator,
            "functionDefinition": self.function,
        }

    def find(self, parent: etree._Element | None) -> Expression | None:
        """The boxed expression among the children of ``parent`` (None when it has none)."""
        if parent is None:
            return None
        for child in parent:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child.tag)
            if qname.namespace == self.c.ns and qname.localname in self._dispatch:
                return self._dispatch[qname.localname](child)
        return None

    def function(self, element: etree._Element) -> FunctionDefinition:
        """A ``functionDefinition`` (also a business knowledge model's encapsulated logic)."""
        params = tuple(
            Parameter(p.get("name", "").strip(), self.c.type_ref(p))
            for p in self.c.children(element, "formalParameter")
        )
        kind = (element.get("kind") or "FEEL").strip()
        return FunctionDefinition(params, self.find(element), kind, self.c.type_ref(element))

    def _literal(self, element: etree._Element) -> Expression:
        return self.c.literal(self.c.text(element), element, self.c.type_ref(element))

    def _context(self, element: etree._Element) -> Expression:
        entries = []
        for entry in self.c.children(element, "contextEntry"):
            variable = self.c.child(entry, "variable")
            name = variable.get("name", "").strip() if variable is not None else None
            entries.append(ContextEntry(name or None, self.c.type_ref(variable), self.find(entry)))
        return BoxedContext(tuple(entries), self.c.type_ref(element))

    def _invocation(self, element: etree._Element) -> Expression:
        callee_element = self.c.child(element, "literalExpression")
        callee = self.c.literal(self.c.text(callee_element), callee_element)
        bindings = []
        for binding in self.c.children(element, "binding"):
            parameter = self.c.child(binding, "parameter")
            name = parameter.get("name", "").strip() if parameter is not None else ""
            bindings.append(Binding(name, self.find(binding)))
        return Invocation(callee, tuple(bindings), self.c.type_ref(element))

    def _list(self, element: etree._Element) -> Expression:
        items = tuple(self._expression(child) for child in self._expression_children(element))
        return BoxedList(items, self.c.type_ref(element))

    def _relation(self, element: etree._Element) -> Expression:
        columns = tuple(c.get("name", "").strip() for c in self.c.children(element, "column"))
        rows = tuple(
            tuple(self._expression(cell) for cell in self._expression_children(row))
            for row in self.c.children(element, "row")
        )
        return Relation(columns, rows, self.c.type_ref(element))

    def _conditional(self, element: etree._Element) -> Expression:
        parts = [self.find(self.c.child(element, name)) for name in ("if", "then", "else")]
        return Conditional(parts[0], parts[1], parts[2], self.c.type_ref(element))

    def _filter(self, element: etree._Element) -> Expression:
        source = self.find(self.c.child(element, "in"))
        match = self.find(self.c.child(element, "match"))
        return BoxedFilter(source, match, self.c.type_ref(element))

    def _iterator(self, element: etree._Element) -> Expression:
        kind = IteratorKind(etree.QName(element.tag).localname)
        body_tag = "return" if kind is IteratorKind.FOR else "satisfies"
        return BoxedIterator(
            kind,
            (element.get("iteratorVariable") or "").strip(),
            self.find(self.c.child(element, "in")),
            self.find(self.c.child(element, body_tag)),
            self.c.type_ref(element),
        )

    def _expression_children(self, element: etree._Element) -> list[etree._Element]:
        return [
            child
            for child in element
            if isinstance(child.tag, str)
            and etree.QName(child.tag).namespace == self.c.ns
            and etree.QName(child.tag).localname in self._dispatch
        ]

    def _expression(self, element: etree._Element) -> Expression | None:
        local = etree.QName(element.tag).localname
        reader = self._dispatch.get(local)
        return reader(element) if reader is not None else None

    # -- decision tables -----------------------------------------------------------------

    def _table(self, element: etree._Element) -> Expression:
        c = self.c
        inputs = tuple(self._table_input(i) for i in c.children(element, "input"))
        outputs = tuple(self._table_output(o) for o in c.children(element, "output"))
        rules = tuple(
            self._rule(rule, index + 1, len(inputs), len(outputs))
            for index, rule in enumerate(c.children(element, "rule"))
        )
        hit_policy, aggregation = self._hit_policy(element)
        return DecisionTable(
            element.get("id"), hit_policy, aggregation, inputs, outputs, rules, c.type_ref(element)
        )

    def _hit_policy(self, element: etree._Element) -> tuple[HitPolicy, Aggregation | None]:
        text = (element.get("hitPolicy") or "UNIQUE").strip().upper()
        policy = _HIT_POLICIES.get(text[:1]) if len(text) <= 2 else None
        aggregation: Aggregation | None = None
        if policy is HitPolicy.COLLECT and len(text) == 2:
            aggregation = _AGGREGATIONS.get(text[1])
            if aggregation is None:
                raise self.c.error(f"unknown hit policy '{text}'", element)
        if policy is None:
            try:
                policy = HitPolicy(text)
            except ValueError:
                raise self.c.error(f"unknown hit policy '{text}'", element) from None
        name = (element.get("aggregation") or "").strip().upper()
        if name:
            try:
                aggregation = Aggregation(name)
            except ValueError:
                raise self.c.error(f"unknown aggregation '{name}'", element) from None
        return policy, aggregation

    def _table_input(self, element: etree._Element) -> TableInput:
        expression_element = self.c.child(element, "inputExpression")
        text = self.c.text(expression_element)
        expression = self.c.literal(text, expression_element, self.c.type_ref(expression_element))
        return TableInput(
            expression,
            element.get("label") or text,
            self._allowed(self.c.child(element, "inputValues")),
        )

    def _table_output(self, element: etree._Element) -> TableOutput:
        values = self.c.child(element, "outputValues")
        default = self.c.child(element, "defaultOutputEntry")
        return TableOutput(
            (element.get("name") or "").strip() or None,
            self.c.type_ref(element),
            self._allowed(values),
            _priorities(self.c.text(values)),
            self.c.literal(self.c.text(default), default) if default is not None else None,
        )

    def _allowed(self, element: etree._Element | None) -> UnaryTests | None:
        text = self.c.text(element)
        return self.c.unary_tests(text, element) if text and text != "-" else None

    def _rule(self, element: etree._Element, index: int, n_inputs: int, n_outputs: int) -> Rule:
        c = self.c
        entries = [c.unary_tests(c.text(e), e) for e in c.children(element, "inputEntry")]
        outputs = [c.literal(c.text(e), e) for e in c.children(element, "outputEntry")]
        if len(entries) != n_inputs or len(outputs) != n_outputs:
            raise c.error(
                f"rule {index} has {len(entries)} input and {len(outputs)} output entries; "
                f"the table has {n_inputs} inputs and {n_outputs} outputs",
                element,
            )
        annotations = tuple(c.text(e) for e in c.children(element, "annotationEntry"))
        return Rule(element.get("id"), index, tuple(entries), tuple(outputs), annotations)


def _priorities(text: str) -> tuple[Any, ...]:
    if not text or text == "-":
        return ()
    try:
        value = feel.evaluate(f"[{text}]")
    except (FeelSyntaxError, FeelLimitError):
        return ()
    return tuple(value) if isinstance(value, list) else ()
