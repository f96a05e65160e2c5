"""The compiled DMN model: frozen objects holding pre-compiled FEEL, no XML and no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from legato.errors import ValidationIssue
from legato.feel import CompiledExpression, CompiledUnaryTests


@dataclass(frozen=True, slots=True)
class Href:
    """A reference to a DRG element: ``#id`` in the same model, ``namespace#id`` in another."""

    namespace: str | None
    """The namespace of the model holding the element (None for the same model)."""
    element_id: str
    """The id of the element."""


# -- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiteralExpression:
    """A FEEL expression (an empty text evaluates to null)."""

    text: str
    """The FEEL text."""
    compiled: CompiledExpression | None
    """The compiled expression (None when empty or invalid)."""
    problem: str | None = None
    """Why the text could not be compiled; evaluating it then yields null and this error."""
    type_ref: str | None = None
    """The declared type of the value."""


@dataclass(frozen=True, slots=True)
class UnaryTests:
    """Compiled unary tests (a decision table input entry, allowed values)."""

    text: str
    """The unary tests text."""
    compiled: CompiledUnaryTests | None
    """The compiled tests (None when invalid)."""
    problem: str | None = None
    """Why the text could not be compiled."""


class HitPolicy(Enum):
    """The hit policies of decision tables, by their DMN names."""

    UNIQUE = "UNIQUE"
    ANY = "ANY"
    PRIORITY = "PRIORITY"
    FIRST = "FIRST"
    RULE_ORDER = "RULE ORDER"
    OUTPUT_ORDER = "OUTPUT ORDER"
    COLLECT = "COLLECT"


class Aggregation(Enum):
    """The aggregations of the COLLECT hit policy."""

    SUM = "SUM"
    MIN = "MIN"
    MAX = "MAX"
    COUNT = "COUNT"


@dataclass(frozen=True, slots=True)
class TableInput:
    """An input column of a decision table."""

    expression: LiteralExpression
    """The input expression."""
    label: str
    """The label (or the expression text)."""
    allowed: UnaryTests | None = None
    """The input values the column accepts."""


@dataclass(frozen=True, slots=True)
class TableOutput:
    """An output column of a decision table."""

    name: str | None
    """The output name (a context key when the table has several outputs)."""
    type_ref: str | None
    """The declared type."""
    allowed: UnaryTests | None = None
    """The output values, as unary tests."""
    priorities: tuple[Any, ...] = ()
    """The output values in priority order (for PRIORITY and OUTPUT ORDER)."""
    default: LiteralExpression | None = None
    """The value when no rule matches."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule (row) of a decision table."""

    rule_id: str | None
    """The id from the XML."""
    index: int
    """The 1-based position in the table."""
    input_entries: tuple[UnaryTests, ...]
    """One test per input column."""
    output_entries: tuple[LiteralExpression, ...]
    """One expression per output column."""
    annotations: tuple[str, ...] = ()
    """The rule annotations, in column order."""


@dataclass(frozen=True, slots=True)
class DecisionTable:
    """A decision table."""

    element_id: str | None
    """The id from the XML."""
    hit_policy: HitPolicy
    """How the matching rules give the result."""
    aggregation: Aggregation | None
    """The aggregation of COLLECT (None for a list)."""
    inputs: tuple[TableInput, ...]
    """The input columns."""
    outputs: tuple[TableOutput, ...]
    """The output columns."""
    rules: tuple[Rule, ...]
    """The rules in order."""
    type_ref: str | None = None
    """The declared type of the table's value."""
    plan: Any = field(default=None, compare=False, repr=False)
    """How the table is evaluated, prepared from the above when first needed."""


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """An entry of a boxed context; the entry without a name gives the context's result."""

    name: str | None
    """The entry name (None for the final result entry)."""
    type_ref: str | None
    """The declared type of the entry's value."""
    expression: Expression | None
    """The value expression (None for null)."""


@dataclass(frozen=True, slots=True)
class BoxedContext:
    """A boxed context."""

    entries: tuple[ContextEntry, ...]
    """The entries in order; each may use the ones before it."""
    type_ref: str | None = None
    """The declared type."""


@dataclass(frozen=True, slots=True)
class Binding:
    """A parameter binding of an invocation."""

    parameter: str
    """The parameter name."""
    expression: Expression | None
    """The argument (None binds null)."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """A boxed invocation of a business knowledge model or any function."""

    callee: LiteralExpression
    """The expression giving the function (usually its name)."""
    bindings: tuple[Binding, ...]
    """The arguments by parameter name."""
    type_ref: str | None = None
    """The declared type of the result."""


@dataclass(frozen=True, slots=True)
class BoxedList:
    """A boxed list."""

    items: tuple[Expression | None, ...]
    """The item expressions."""
    type_ref: str | None = None
    """The declared type."""


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation: a list of contexts with the same keys."""

    columns: tuple[str, ...]
    """The column names."""
    rows: tuple[tuple[Expression | None, ...], ...]
    """The cell expressions, row by row."""
    type_ref: str | None = None
    """The declared type."""


@dataclass(frozen=True, slots=True)
class Conditional:
    """A boxed ``if``/``then``/``else`` (DMN 1.4+)."""

    condition: Expression | None
    """The ``if`` expression."""
    then: Expression | None
    """The value when the condition is true."""
    otherwise: Expression | None
    """The value otherwise."""
    type_ref: str | None = None
    """The declared type."""


@dataclass(frozen=True, slots=True)
class BoxedFilter:
    """A boxed filter (DMN 1.4+): the items of a list that match a condition."""

    source: Expression | None
    """The list (``in``)."""
    match: Expression | None
    """The condition, with ``item`` bound to each item."""
    type_ref: str | None = None
    """The declared type."""


class IteratorKind(Enum):
    """The kinds of boxed iterators."""

    FOR = "for"
    SOME = "some"
    EVERY = "every"


@dataclass(frozen=True, slots=True)
class BoxedIterator:
    """A boxed ``for``, ``some`` or ``every`` (DMN 1.4+)."""

    kind: IteratorKind
    """Which iterator."""
    variable: str
    """The iterator variable name."""
    source: Expression | None
    """The list or range iterated over (``in``)."""
    body: Expression | None
    """``return`` (for) or ``satisfies`` (some, every)."""
    type_ref: str | None = None
    """The declared type."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """A formal parameter of a function."""

    name: str
    """The parameter name."""
    type_ref: str | None
    """The declared type."""


@dataclass(frozen=True, slots=True)
class FunctionDefinition:
    """A boxed function definition (the logic of a business knowledge model)."""

    parameters: tuple[Parameter, ...]
    """The formal parameters."""
    body: Expression | None
    """The function body."""
    kind: str = "FEEL"
    """``FEEL`` (supported), ``Java`` or ``PMML`` (not supported: invoking yields null)."""
    type_ref: str | None = None
    """The declared type of the result."""


Expression = (
    LiteralExpression
    | DecisionTable
    | BoxedContext
    | Invocation
    | BoxedList
    | Relation
    | Conditional
    | BoxedFilter
    | BoxedIterator
    | FunctionDefinition
)
"""Any boxed expression."""


# -- item definitions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionItem:
    """The signature of a function type (an item definition's ``functionItem``)."""

    parameters: tuple[Parameter, ...]
    """The parameters."""
    output_type_ref: str | None
    """The result type."""


@dataclass(frozen=True, slots=True)
class ItemDefinition:
    """A named data type of the model (or a component of one)."""

    name: str
    """The type name (or component name)."""
    type_ref: str | None = None
    """The base type; None for a structure of components."""
    is_collection: bool = False
    """Whether values are lists of the described type."""
    allowed: UnaryTests | None = None
    """The allowed values (or DMN 1.5 type constraint)."""
    components: tuple[ItemDefinition, ...] = ()
    """The entries of a structured type."""
    function: FunctionItem | None = None
    """The signature when this is a function type."""


# -- DRG elements --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputData:
    """An input of the model, supplied by the caller."""

    element_id: str
    """The id from the XML."""
    name: str
    """The variable name."""
    type_ref: str | None
    """The declared type."""


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a decision or business knowledge model depends on."""

    decisions: tuple[Href, ...] = ()
    """Required decisions."""
    inputs: tuple[Href, ...] = ()
    """Required input data."""
    knowledge: tuple[Href, ...] = ()
    """Required business knowledge models and decision services."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision of the decision requirements graph."""

    element_id: str
    """The id from the XML."""
    name: str
    """The variable name of the decision's value."""
    type_ref: str | None
    """The declared type of the value."""
    expression: Expression | None
    """The decision logic (None for a decision without logic: null)."""
    requirements: Requirements = field(default_factory=Requirements)
    """The decisions, inputs and knowledge it needs."""
    line: int | None = None
    """The line of the element in the file."""


@dataclass(frozen=True, slots=True)
class BusinessKnowledgeModel:
    """A reusable function (a business knowledge model)."""

    element_id: str
    """The id from the XML."""
    name: str
    """The function's name."""
    type_ref: str | None
    """The declared type of the function's result (from its variable)."""
    logic: FunctionDefinition | None
    """The encapsulated logic."""
    requirements: Requirements = field(default_factory=Requirements)
    """Other knowledge it invokes."""


@dataclass(frozen=True, slots=True)
class DecisionService:
    """A decision service: output decisions computed from input decisions and data."""

    element_id: str
    """The id from the XML."""
    name: str
    """The service's name (also the name of the function it denotes)."""
    type_ref: str | None
    """The declared type of the result."""
    output_decisions: tuple[Href, ...]
    """The decisions whose values the service returns."""
    encapsulated_decisions: tuple[Href, ...]
    """Decisions evaluated inside the service."""
    input_decisions: tuple[Href, ...]
    """Decisions whose values are parameters of the service."""
    input_data: tuple[Href, ...]
    """Input data that are parameters of the service."""


@dataclass(frozen=True, slots=True)
class Import:
    """An import of another DMN model."""

    name: str
    """The prefix for the imported names (``name.element``)."""
    namespace: str
    """The namespace of the imported model."""
    location: str | None = None
    """The location URI, when given."""


@dataclass(frozen=True, slots=True)
class Definitions:
    """One DMN file, compiled."""

    name: str
    """The model name."""
    namespace: str
    """The model namespace."""
    file: str | None
    """The file read (None for a string)."""
    imports: tuple[Import, ...] = ()
    """Imported models."""
    item_definitions: tuple[ItemDefinition, ...] = ()
    """The named types."""
    inputs: tuple[InputData, ...] = ()
    """The input data."""
    decisions: tuple[Decision, ...] = ()
    """The decisions."""
    knowledge_models: tuple[BusinessKnowledgeModel, ...] = ()
    """The business knowledge models."""
    services: tuple[DecisionService, ...] = ()
    """The decision services."""
    problems: tuple[str, ...] = ()
    """Expressions that did not compile (their evaluation yields null and the problem)."""
    unknown_functions: tuple[ValidationIssue, ...] = ()
    """Calls of functions that are neither FEEL built-ins nor named in the model: a
    deployment refuses the model; evaluated anyway, such a call is null with a warning."""
