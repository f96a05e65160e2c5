"""Variable mappings: ``zeebe:ioMapping``, ``camunda:inputOutput`` and ``camunda:in``/``out``.

A Camunda 7 parameter holds text (a constant), ``${...}`` (JUEL, translated to FEEL), a FEEL
``camunda:script``, or a ``camunda:list``/``camunda:map`` (built as a FEEL list or context).
"""

from __future__ import annotations

from legato.bpmn._context import ReadContext
from legato.bpmn._dom import CAMUNDA_NS, ZEEBE_NS, Element, attribute, extensions, tag, text_of
from legato.bpmn.juel import JuelTranslationError, is_juel, translate_juel
from legato.model.expressions import Expression, VariableMapping

__all__ = ["call_activity_mappings", "read_mappings"]


def read_mappings(
    context: ReadContext, element: Element
) -> tuple[tuple[VariableMapping, ...], tuple[VariableMapping, ...]]:
    """Input and output mappings from ``zeebe:ioMapping`` and ``camunda:inputOutput``.

    A ``camunda:connector``'s parameters are the task's too: its inputs (the request, e.g.
    ``url`` and ``method``) are the job's variables, and its outputs map what the handler
    returns (the response) to the process, as Camunda 7 maps the connector's.
    """
    inputs: list[VariableMapping] = []
    outputs: list[VariableMapping] = []
    for io in extensions(element, ZEEBE_NS, "ioMapping"):
        inputs.extend(_zeebe_mappings(context, io, "input", element))
        outputs.extend(_zeebe_mappings(context, io, "output", element))
    connector_ios = (
        io
        for connector in extensions(element, CAMUNDA_NS, "connector")
        for io in connector.iterchildren(tag(CAMUNDA_NS, "inputOutput"))
    )
    for io in [*connector_ios, *extensions(element, CAMUNDA_NS, "inputOutput")]:
        inputs.extend(_camunda_parameters(context, io, "inputParameter", element))
        outputs.extend(_camunda_parameters(context, io, "outputParameter", element))
    return tuple(inputs), tuple(outputs)


def _zeebe_mappings(
    context: ReadContext, io: Element, name: str, owner: Element
) -> list[VariableMapping]:
    result = []
    for mapping in io.iterchildren(tag(ZEEBE_NS, name)):
        target = attribute(mapping, "target")
        source = context.value(mapping.get("source", "=null"), owner, f"the {name} mapping")
        if target is None:
            context.problem("io-mapping", f"a zeebe:{name} without a target", owner)
        elif source is not None:
            result.append(VariableMapping(source, target))
    return result


def _camunda_parameters(
    context: ReadContext, io: Element, name: str, owner: Element
) -> list[VariableMapping]:
    result = []
    for parameter in io.iterchildren(tag(CAMUNDA_NS, name)):
        target = attribute(parameter, "name")
        source = _camunda_value(context, parameter, owner)
        if target is None:
            context.problem("io-mapping", f"a camunda:{name} without a name", owner)
        elif source is not None:
            result.append(VariableMapping(source, target))
    return result


def _camunda_value(context: ReadContext, parameter: Element, owner: Element) -> Expression | None:
    """A parameter's value: text, ``${...}``, a FEEL script, a list or a map."""
    script = parameter.find(tag(CAMUNDA_NS, "script"))
    if script is not None:
        return _camunda_script(context, script, owner)
    structured = [child for child in parameter if child.tag in _STRUCTURED]
    if not structured:
        text = text_of(parameter)
        if text is None:
            return Expression.static(None, "null")
        return (
            context.condition(text, owner, "the parameter")
            if is_juel(text)
            else (Expression.static(text))
        )
    try:
        source = _feel_text(structured[0])
    except JuelTranslationError as exc:
        context.problem("juel-expression", f"a parameter cannot be translated: {exc}", owner)
        return None
    return context.condition(source, owner, "the parameter")


def _camunda_script(context: ReadContext, script: Element, owner: Element) -> Expression | None:
    script_format = (script.get("scriptFormat") or "").lower()
    if script_format != "feel":
        context.problem(
            "script-format", f"a parameter script in {script_format or 'no'} format", owner
        )
        return None
    return context.condition(text_of(script), owner, "the parameter script")


_STRUCTURED = {tag(CAMUNDA_NS, "list"), tag(CAMUNDA_NS, "map")}


def _feel_text(element: Element) -> str:
    """A camunda:list, camunda:map or value as FEEL source text."""
    if element.tag == tag(CAMUNDA_NS, "list"):
        return "[" + ", ".join(_feel_text(child) for child in element) + "]"
    if element.tag == tag(CAMUNDA_NS, "map"):
        entries = (
            f"{_feel_string(entry.get('key', ''))}: {_entry_text(entry)}"
            for entry in element.iterchildren(tag(CAMUNDA_NS, "entry"))
        )
        return "{" + ", ".join(entries) + "}"
    return _entry_text(element)


def _entry_text(element: Element) -> str:
    nested = [child for child in element if child.tag in _STRUCTURED]
    if nested:
        return _feel_text(nested[0])
    text = text_of(element)
    if text is None:
        return "null"
    return translate_juel(text) if is_juel(text) else _feel_string(text)


def _feel_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def call_activity_mappings(
    context: ReadContext, element: Element
) -> tuple[tuple[VariableMapping, ...], tuple[VariableMapping, ...]]:
    """``camunda:in`` (into the child) and ``camunda:out`` (back to the parent) mappings."""
    result: list[list[VariableMapping]] = [[], []]
    for position, direction in enumerate(("in", "out")):
        for item in extensions(element, CAMUNDA_NS, direction):
            mapping = _camunda_in_out(context, item, element)
            if mapping is not None:
                result[position].append(mapping)
    return tuple(result[0]), tuple(result[1])


def _camunda_in_out(context: ReadContext, item: Element, owner: Element) -> VariableMapping | None:
    target = attribute(item, "target")
    if target is None:
        return None
    source_expression = attribute(item, "sourceExpression")
    source = attribute(item, "source")
    if source_expression is not None:
        expression = context.condition(source_expression, owner, "the sourceExpression")
    elif source is not None:
        expression = context.condition(source, owner, "the camunda:in/out source")
    else:
        return None
    return VariableMapping(expression, target) if expression is not None else None
