"""Translating Camunda 7 JUEL expressions to FEEL."""

from __future__ import annotations

from typing import Any

import pytest

from legato import feel
from legato.bpmn.juel import JuelTranslationError, is_juel, translate_juel


def evaluate(juel: str, **variables: Any) -> Any:
    return feel.compile(translate_juel(juel)).evaluate(variables)


@pytest.mark.parametrize(
    ("juel", "variables", "expected"),
    [
        ("${a == 1}", {"a": 1}, True),
        ("${a eq 2}", {"a": 1}, False),
        ("${a != 1}", {"a": 2}, True),
        ("${a ne 1}", {"a": 1}, False),
        ("${a && b}", {"a": True, "b": False}, False),
        ("${a and b}", {"a": True, "b": True}, True),
        ("${a || b}", {"a": False, "b": True}, True),
        ("${a or b}", {"a": False, "b": False}, False),
        ("${!a}", {"a": False}, True),
        ("${not a}", {"a": True}, False),
        ("${a lt 2 && a gt 0}", {"a": 1}, True),
        ("${a le 1 and a ge 1}", {"a": 1}, True),
        ("${a < b || a >= 10}", {"a": 5, "b": 3}, False),
        ("${name == 'ann'}", {"name": "ann"}, True),
        ('${name == "it\'s"}', {"name": "it's"}, True),
        ("${x.contains('a')}", {"x": "cat"}, True),
        ('${x.startsWith("ca") && x.endsWith("t")}', {"x": "cat"}, True),
        ("${x.equals('dog')}", {"x": "cat"}, False),
        ("${x.size() == 2}", {"x": [1, 2]}, True),
        ("${x.length() > 2}", {"x": "cats"}, True),
        ("${x.toUpperCase()}", {"x": "cat"}, "CAT"),
        ("${empty x}", {"x": ""}, True),
        ("${empty x}", {"x": None}, True),
        ("${empty x}", {"x": [1]}, False),
        ("${not empty x}", {"x": "a"}, True),
        ("${a + b * 2}", {"a": 1, "b": 3}, 7),
        ("${(a + b) * 2}", {"a": 1, "b": 3}, 8),
        ("${a mod 3}", {"a": 7}, 1),
        ("${a % 3 == 1}", {"a": 7}, True),
        ("${a div 2}", {"a": 7}, 3.5),
        ("${-a}", {"a": 7}, -7),
        ("${a > 1 ? 'big' : 'small'}", {"a": 2}, "big"),
        ("${items[0]}", {"items": ["first", "second"]}, "first"),
        ("${order.customer.name}", {"order": {"customer": {"name": "Ann"}}}, "Ann"),
        ("${map['k']}", {"map": {"k": 1}}, 1),
        ('${execution.getVariable("amount") > 5}', {"amount": 10}, True),
        ("${true && !false}", {}, True),
        ("${x == null}", {"x": None}, True),
        ("#{approved}", {"approved": True}, True),
        ("Hello ${name}!", {"name": "Ann"}, "Hello Ann!"),
    ],
)
def test_translated_expressions_evaluate_as_in_juel(
    juel: str, variables: dict[str, Any], expected: Any
) -> None:
    assert evaluate(juel, **variables) == expected


@pytest.mark.parametrize(
    ("juel", "customer", "expected"),
    [
        ('${customer.prop("age").numberValue() >= 21}', {"age": 30}, True),
        ('${customer.prop("age").numberValue() < 21}', {"age": 30}, False),
        ('${customer.prop("address").prop("city").stringValue()}', {"address": {"city": "B"}}, "B"),
        ('${customer.prop("vip").boolValue()}', {"vip": True}, True),
        ('${customer.prop("age").numberValue()}', {"age": "thirty"}, None),
        ('${customer.prop("name").stringValue()}', {}, None),
    ],
)
def test_spin_json_methods_read_a_json_variable(
    juel: str, customer: dict[str, Any], expected: Any
) -> None:
    assert evaluate(juel, customer=customer) == expected


def test_spin_json_methods_take_their_arguments_only() -> None:
    for juel in ('${c.prop("a", 1)}', "${c.prop()}", "${c.numberValue(1)}"):
        with pytest.raises(JuelTranslationError):
            translate_juel(juel)


def test_the_translation_keeps_precedence_explicit() -> None:
    assert translate_juel("${a || b && !c}") == "(a or (b and not(c)))"
    assert translate_juel('${x.contains("a")}') == 'contains(x, "a")'


@pytest.mark.parametrize(
    "juel",
    [
        "${bean.doSomething()}",
        "${myFunction(1)}",
        "${a instanceof b}",
        "${a +}",
        "${a",
        "${}",
        "${a ~ b}",
        '${execution.getVariable("x", 1)}',
    ],
)
def test_what_has_no_translation_is_refused(juel: str) -> None:
    with pytest.raises(JuelTranslationError):
        translate_juel(juel)


def test_is_juel_recognises_both_delimiters() -> None:
    assert is_juel("${a}") and is_juel("#{a}") and is_juel("x ${a} y")
    assert not is_juel("= a > 1") and not is_juel("a > 1")
