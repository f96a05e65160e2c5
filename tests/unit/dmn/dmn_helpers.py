"""Small DMN documents for the unit tests."""

from __future__ import annotations

import re

DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def model(body: str, namespace: str = DMN15, prefix: str = "", name: str = "test") -> str:
    """A ``definitions`` document around ``body`` (elements written without prefix)."""
    if prefix:
        body = _prefixed(body, prefix)
        root = f"{prefix}:definitions"
        xmlns = f'xmlns:{prefix}="{namespace}"'
    else:
        root = "definitions"
        xmlns = f'xmlns="{namespace}"'
    return (
        f'<{root} {xmlns} name="{name}" namespace="urn:{name}" id="defs_{name}">\n{body}\n</{root}>'
    )


def literal(name: str, text: str, element_id: str | None = None) -> str:
    """A decision ``name`` whose logic is the literal expression ``text``."""
    return (
        f'<decision id="{element_id or name}" name="{name}">'
        f"<literalExpression><text>{text}</text></literalExpression></decision>"
    )


def _prefixed(body: str, prefix: str) -> str:
    return re.sub(r"<(/?)([a-zA-Z])", lambda m: f"<{m.group(1)}{prefix}:{m.group(2)}", body)


def table(
    hit_policy: str,
    rules: list[tuple[str, str]],
    *,
    output: str = "",
    input_expression: str = "x",
    name: str = "d",
) -> str:
    """A decision ``name`` with a one-input, one-output table over input data ``x``."""
    rows = "".join(
        f'<rule id="r{i + 1}"><inputEntry><text>{test}</text></inputEntry>'
        f"<outputEntry><text>{value}</text></outputEntry></rule>"
        for i, (test, value) in enumerate(rules)
    )
    return f"""
    <inputData id="x" name="x"><variable name="x" typeRef="number"/></inputData>
    <decision id="{name}" name="{name}">
      <variable name="{name}"/>
      <informationRequirement><requiredInput href="#x"/></informationRequirement>
      <decisionTable hitPolicy="{hit_policy}">
        <input><inputExpression><text>{input_expression}</text></inputExpression></input>
        <output>{output}</output>
        {rows}
      </decisionTable>
    </decision>"""
