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
    Rule,
    TableOutput,
    UnaryTests,
)
from legato.dmn.result import RuleMatch
from legato.feel.semantics import compare, equals

_SINGLE_HIT = frozenset({HitPolicy.UNIQUE, HitPolicy.ANY, HitPolicy.PRIORITY, HitPolicy.FIRST})


def evaluate_table(table: DecisionTable, env: Env, ev: Evaluation) -> Any:
    """The value of a decision table: one row, a list of rows, or an aggregate.

    A row is the single output's value, or a context keyed by output name. A violated hit
    policy, or an input outside its input values, yields null and an error naming the table
    and the rules.
    """
    values = [evaluate_literal(column.expression, env, ev) for column in table.inputs]
    for column, value in zip(table.inputs, values, strict=True):
        if column.allowed is not None and not _passes(column.allowed, value, env):
            ev.warn(f"{_name(table, ev)}: input '{column.label}' value {value!r} is not allowed")
            return None
    matched = [rule for rule in table.rules if _matches(rule, values, env)]
    if not matched:
        return _no_match(table, env, ev)
    rows = [_row(table, rule, env, ev) for rule in matched]
    return _apply_policy(table, matched, rows, ev)


def _name(table: DecisionTable, ev: Evaluation) -> str:
    label = ev.label or "decision table"
    return f"{label} (table '{table.element_id}')" if table.element_id else label


def _passes(tests: UnaryTests, value: Any, env: Env) -> bool:
    if tests.compiled is None:
        return False
    return tests.compiled.matches(value, env) is True


def _matches(rule: Rule, values: Sequence[Any], env: Env) -> bool:
    return all(
        _passes(entry, value, env) for entry, value in zip(rule.input_entries, values, strict=True)
    )


def _row(table: DecisionTable, rule: Rule, env: Env, ev: Evaluation) -> Any:
    values = [
        _output(output, evaluate_literal(entry, env, ev), env, ev)
        for output, entry in zip(table.outputs, rule.output_entries, strict=True)
    ]
    return _shape(table, values)


def _output(output: TableOutput, value: Any, env: Env, ev: Evaluation) -> Any:
    value = ev.conform(value, output.type_ref, f"{ev.label}: output '{output.name or ''}'")
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
    for rule in rules:
        ev.matches.append(RuleMatch(ev.label, rule.rule_id, rule.index, rule.annotations))


def _rule_names(rules: Sequence[Rule]) -> str:
    return ", ".join(
        f"{rule.index}" + (f" ({rule.rule_id})" if rule.rule_id else "") for rule in rules
    )


def _apply_policy(
    table: DecisionTable, matched: list[Rule], rows: list[Any], ev: Evaluation
) -> Any:
    policy = table.hit_policy
    if policy is HitPolicy.UNIQUE:
        _record(table, matched, ev)
        if len(matched) > 1:
            ev.warn(
                f"{_name(table, ev)}: hit policy UNIQUE violated: "
                f"rules {_rule_names(matched)} all match"
            )
            return None
        return rows[0]
    if policy is HitPolicy.ANY:
        _record(table, matched, ev)
        if any(equals(row, rows[0]) is not True for row in rows[1:]):
            ev.warn(
                f"{_name(table, ev)}: hit policy ANY violated: "
                f"rules {_rule_names(matched)} match with different outputs"
            )
            return None
        return rows[0]
    if policy is HitPolicy.FIRST:
        _record(table, matched[:1], ev)
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
