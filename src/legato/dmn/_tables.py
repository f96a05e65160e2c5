"""Evaluating decision tables under every hit policy."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from legato.dmn._evaluation import Env, Evaluation, evaluate_literal
from legato.dmn.model import (
    Aggregation,
    DecisionTable,
    HitPolicy,
    LiteralExpression,
    Rule,
    TableInput,
    TableOutput,
    UnaryTests,
)
from legato.dmn.result import RuleMatch
from legato.feel.predicates import Predicate, always
from legato.feel.semantics import compare, equals
from legato.feel.values import to_feel

_SINGLE_HIT = frozenset({HitPolicy.UNIQUE, HitPolicy.ANY, HitPolicy.PRIORITY, HitPolicy.FIRST})
_MISSING: Any = object()

Check = tuple[int, Predicate | None, UnaryTests]
"""One input entry to test: its column, its fast predicate (if any), the entry."""


class _Plan:
    """A table prepared for evaluation: per rule, only the entries that are not ``-``."""

    __slots__ = (
        "allowed",
        "assumes_unbound",
        "columns",
        "fast_rules",
        "general_rules",
        "keys",
        "recorded",
    )

    def __init__(self, table: DecisionTable) -> None:
        self.columns = tuple((column, _variable(column.expression)) for column in table.inputs)
        """The input columns, each with the variable its expression just names (else None)."""
        self.allowed = tuple(
            (index, column, column.allowed)
            for index, column in enumerate(table.inputs)
            if column.allowed is not None
        )
        """The input columns with input values: position, column, allowed values."""
        self.keys = tuple(output.name or str(i + 1) for i, output in enumerate(table.outputs))
        """The context keys of a row with several outputs."""
        unbound: set[str] = set()
        fast: list[tuple[Rule, tuple[Check, ...]]] = []
        general: list[tuple[Rule, tuple[Check, ...]]] = []
        for rule in table.rules:
            checks: list[Check] = []
            for index, entry in enumerate(rule.input_entries):
                compiled = entry.compiled
                predicate = _NEVER if compiled is None else compiled.predicate
                if predicate is always:
                    continue
                if compiled is not None:
                    unbound.update(compiled.assumes_unbound)
                checks.append((index, predicate, entry))
            fast.append((rule, tuple(checks)))
            general.append((rule, tuple((i, None, e) for i, _, e in checks)))
        self.fast_rules = tuple(fast)
        """The rules with their checks, using fast predicates."""
        self.general_rules = tuple(general)
        """The same checks without fast predicates (a variable shadows a function they use)."""
        self.assumes_unbound = tuple(sorted(unbound))
        """Function names the fast predicates assume no variable shadows."""
        self.recorded: dict[tuple[str, int], RuleMatch] = {}
        """The (immutable) records of matches, made once per table name and rule."""


def _never(value: Any) -> bool:
    return False


_NEVER: Predicate = _never


def _variable(expression: LiteralExpression) -> str | None:
    if expression.problem is not None or expression.compiled is None:
        return None
    return expression.compiled.variable


def _plan(table: DecisionTable) -> _Plan:
    plan = table.plan
    if not isinstance(plan, _Plan):
        plan = _Plan(table)
        object.__setattr__(table, "plan", plan)  # a cache: the table stays as read
    return plan


def evaluate_table(table: DecisionTable, env: Env, ev: Evaluation) -> Any:
    """The value of a decision table: one row, a list of rows, or an aggregate.

    A row is the single output's value, or a context keyed by output name. A violated hit
    policy, or an input outside its input values, yields null and an error naming the table
    and the rules.
    """
    plan = _plan(table)
    values = [_input_value(column, variable, env, ev) for column, variable in plan.columns]
    for index, column, allowed in plan.allowed:
        value = values[index]
        if not _passes(allowed, value, env):
            ev.warn(f"{_name(table, ev)}: input '{column.label}' value {value!r} is not allowed")
            return None
    shadowed = plan.assumes_unbound and any(name in env for name in plan.assumes_unbound)
    rules = plan.general_rules if shadowed else plan.fast_rules
    policy = table.hit_policy
    matched = _matching(rules, values, env, first=policy is HitPolicy.FIRST)
    if not matched:
        return _no_match(table, env, ev)
    if policy is HitPolicy.FIRST:
        _record(table, matched, ev)
        return _row(table, plan, matched[0], env, ev)
    if policy is HitPolicy.UNIQUE:
        _record(table, matched, ev)
        if len(matched) > 1:
            ev.warn(
                f"{_name(table, ev)}: hit policy UNIQUE violated: "
                f"rules {_rule_names(matched)} all match"
            )
            return None
        return _row(table, plan, matched[0], env, ev)
    rows = [_row(table, plan, rule, env, ev) for rule in matched]
    return _apply_policy(table, matched, rows, ev)


def _input_value(column: TableInput, variable: str | None, env: Env, ev: Evaluation) -> Any:
    """The value of an input expression, in FEEL form (a plain variable read directly)."""
    if variable is not None:
        value = env.get(variable, _MISSING)
        if value is not _MISSING:
            return to_feel(value)
    return to_feel(evaluate_literal(column.expression, env, ev))


def _matching(
    rules: tuple[tuple[Rule, tuple[Check, ...]], ...],
    values: list[Any],
    env: Env,
    first: bool,
) -> list[Rule]:
    """The rules whose input entries all pass, in order (only the first when ``first``)."""
    matched: list[Rule] = []
    for rule, checks in rules:
        for index, predicate, entry in checks:
            value = values[index]
            if predicate is not None:
                try:
                    if predicate(value):
                        continue
                    break
                except Exception:  # undecided: the general tester decides
                    pass
            if not _general(entry, value, env):
                break
        else:
            matched.append(rule)
            if first:
                break
    return matched


def _name(table: DecisionTable, ev: Evaluation) -> str:
    label = ev.label or "decision table"
    return f"{label} (table '{table.element_id}')" if table.element_id else label


def _general(tests: UnaryTests, value: Any, env: Env) -> bool:
    if tests.compiled is None:
        return False
    return tests.compiled.matches(value, env) is True


def _passes(tests: UnaryTests, value: Any, env: Env) -> bool:
    if tests.compiled is None:
        return False
    return tests.compiled.passes(value, env)


def _row(table: DecisionTable, plan: _Plan, rule: Rule, env: Env, ev: Evaluation) -> Any:
    values = [
        _output(output, _output_value(entry, env, ev), env, ev)
        for output, entry in zip(table.outputs, rule.output_entries, strict=True)
    ]
    if len(values) == 1:
        return values[0]
    return dict(zip(plan.keys, values, strict=True))


def _output_value(entry: LiteralExpression, env: Env, ev: Evaluation) -> Any:
    compiled = entry.compiled
    if compiled is not None and entry.problem is None and compiled.is_constant:
        return compiled.constant
    return evaluate_literal(entry, env, ev)


def _output(output: TableOutput, value: Any, env: Env, ev: Evaluation) -> Any:
    if value is None:
        return None
    type_ref = output.type_ref
    if type_ref is not None:
        dmn_type = ev.types.resolve(type_ref)
        if dmn_type is not None and not dmn_type.test(value):
            value = ev.conform(value, type_ref, f"{ev.label}: output '{output.name or ''}'")
    if value is not None and output.allowed is not None and not _passes(output.allowed, value, env):
        ev.warn(f"{ev.label}: output value {value!r} is not among the output values")
        return None
    return value


def _shape(table: DecisionTable, values: list[Any]) -> Any:
    if len(table.outputs) == 1:
        return values[0]
    return {
        output.name or str(i + 1): v
        for i, (output, v) in enumerate(zip(table.outputs, values, strict=True))
    }


def _no_match(table: DecisionTable, env: Env, ev: Evaluation) -> Any:
    if any(output.default is not None for output in table.outputs):
        defaults = [
            _output(output, evaluate_literal(output.default, env, ev), env, ev)
            if output.default is not None
            else None
            for output in table.outputs
        ]
        row = _shape(table, defaults)
        return row if table.hit_policy in _SINGLE_HIT or table.aggregation else [row]
    if table.hit_policy in _SINGLE_HIT:
        return None
    if table.aggregation is Aggregation.COUNT:
        return Decimal(0)
    return None if table.aggregation else []


def _record(table: DecisionTable, rules: Sequence[Rule], ev: Evaluation) -> None:
    plan = _plan(table)
    label = ev.label
    for rule in rules:
        match = plan.recorded.get((label, rule.index))
        if match is None:
            match = RuleMatch(label, rule.rule_id, rule.index, rule.annotations)
            plan.recorded[(label, rule.index)] = match
        ev.matches.append(match)


def _rule_names(rules: Sequence[Rule]) -> str:
    return ", ".join(
        f"{rule.index}" + (f" ({rule.rule_id})" if rule.rule_id else "") for rule in rules
    )


def _apply_policy(
    table: DecisionTable, matched: list[Rule], rows: list[Any], ev: Evaluation
) -> Any:
    """The value under the hit policies needing every matching rule's row (not FIRST, UNIQUE)."""
    policy = table.hit_policy
    if policy is HitPolicy.ANY:
        _record(table, matched, ev)
        if any(equals(row, rows[0]) is not True for row in rows[1:]):
            ev.warn(
                f"{_name(table, ev)}: hit policy ANY violated: "
                f"rules {_rule_names(matched)} match with different outputs"
            )
            return None
        return rows[0]
    if policy is HitPolicy.PRIORITY:
        order = _priority_order(table, rows)
        _record(table, [matched[order[0]]], ev)
        return rows[order[0]]
    _record(table, matched, ev)
    if policy is HitPolicy.OUTPUT_ORDER:
        return [rows[i] for i in _priority_order(table, rows)]
    if policy is HitPolicy.COLLECT and table.aggregation is not None:
        return _aggregate(table, rows, ev)
    return rows


def _priority_order(table: DecisionTable, rows: list[Any]) -> list[int]:
    def rank(index: int) -> tuple[int, ...]:
        row = rows[index]
        values = [row] if len(table.outputs) == 1 else [row.get(o.name) for o in table.outputs]
        return tuple(
            _position(output.priorities, value)
            for output, value in zip(table.outputs, values, strict=True)
        )

    return sorted(range(len(rows)), key=rank)


def _position(priorities: tuple[Any, ...], value: Any) -> int:
    for index, candidate in enumerate(priorities):
        if equals(candidate, value) is True:
            return index
    return len(priorities)


def _aggregate(table: DecisionTable, rows: list[Any], ev: Evaluation) -> Any:
    if len(table.outputs) != 1:
        ev.warn(f"{_name(table, ev)}: COLLECT with aggregation needs exactly one output")
        return None
    if table.aggregation is Aggregation.COUNT:
        return Decimal(len(rows))
    values = [row for row in rows if row is not None]
    if not values:
        return None
    if table.aggregation is Aggregation.SUM:
        if not all(isinstance(v, Decimal) for v in values):
            ev.warn(f"{_name(table, ev)}: COLLECT SUM needs numbers")
            return None
        return sum(values, Decimal(0))
    best = values[0]
    for value in values[1:]:
        order = compare(value, best)
        if order is None:
            ev.warn(f"{_name(table, ev)}: COLLECT of incomparable values")
            return None
        if (order < 0) == (table.aggregation is Aggregation.MIN) and order != 0:
            best = value
    return best
