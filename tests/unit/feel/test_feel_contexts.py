"""Contexts, paths, multi-word names and the context built-ins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legato import feel

D = Decimal


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{}", {}),
        ("{a: 1, b: a + 1}", {"a": D(1), "b": D(2)}),
        ('{"a b": 1}', {"a b": D(1)}),
        ('{first name: "Ann", greeting: "Hi " + first name}.greeting', "Hi Ann"),
        ("{a: {b: {c: 3}}}.a.b.c", D(3)),
        ("{a: [1, 2]}.a[2]", D(2)),
        ("[{a: 1}, {a: 2}].a", [D(1), D(2)]),
        ("{a: 1}.a + {b: 2}.b", D(3)),
        ("{f: function(x) x * 2, r: f(21)}.r", D(42)),
        ('{🐎: "bar"}', {"🐎": "bar"}),
        ("{a: 1} = {a: 1}", True),
        ("{a: 1} = {a: 2}", False),
        ("{a: 1} = {b: 1}", False),
    ],
)
def test_contexts(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_missing_context_entry_warns() -> None:
    result = feel.compile("{a: 1}.b").evaluate_detailed()

    assert result.value is None
    assert result.warnings == ["no entry 'b' in context"]


def test_duplicate_key_is_an_error() -> None:
    result = feel.compile("{a: 1, a: 2}").evaluate_detailed()

    assert result.value is None
    assert result.warnings


def test_path_into_variables() -> None:
    variables = {"order": {"customer": {"first name": "Ann"}, "total": 12.5}}

    assert feel.evaluate("order.customer.first name", variables) == "Ann"
    assert feel.evaluate("order.total > 10", variables) is True


def test_multi_word_variable_next_to_keywords() -> None:
    variables = {"Loan Amount": 100, "Credit Score": 700}

    result = feel.evaluate("if Credit Score > 600 and Loan Amount < 200 then 1 else 2", variables)

    assert result == 1


def test_longest_known_name_wins() -> None:
    compiled = feel.compile("Applicant Age + 1", names=["Applicant", "Applicant Age"])

    assert compiled.evaluate({"Applicant Age": 30, "Applicant": 1}) == 31


def test_builtin_multi_word_names_shadowed_by_variables() -> None:
    assert feel.evaluate("string length", {"string length": 7}) == 7


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('get value({a: 1}, "a")', D(1)),
        ('get value({a: 1}, "b")', None),
        ('get value({a: {b: 2}}, ["a", "b"])', D(2)),
        ("get entries({a: 1, b: 2})", [{"key": "a", "value": D(1)}, {"key": "b", "value": D(2)}]),
        ('context put({a: 1}, "b", 2)', {"a": D(1), "b": D(2)}),
        ('context put({a: 1}, "a", 2)', {"a": D(2)}),
        ('context put({a: {b: 1}}, ["a", "b"], 2)', {"a": {"b": D(2)}}),
        ("context merge([{a: 1}, {b: 2}, {a: 3}])", {"a": D(3), "b": D(2)}),
        ('context([{key: "a", value: 1}])', {"a": D(1)}),
        ('context(entries: [{key: "a", value: 1}, {key: "b", value: 2}]).b', D(2)),
    ],
)
def test_context_functions(expression: str, expected: object) -> None:
    assert feel.evaluate(expression) == expected


def test_context_function_rejects_duplicates() -> None:
    result = feel.compile('context([{key: "a", value: 1}, {key: "a", value: 2}])')

    assert result.evaluate_detailed().value is None
    assert result.evaluate_detailed().warnings


def test_unknown_multi_word_name_may_contain_non_breaking_keywords() -> None:
    assert feel.compile("Age of Applicant + 1").evaluate({"Age of Applicant": 3}) == 4


def test_unknown_multi_word_name_stops_at_operators_keywords() -> None:
    compiled = feel.compile("if Is Adult and Has Id then 1 else 2")

    assert compiled.evaluate({"Is Adult": True, "Has Id": True}) == 1
