"""``unknown_functions``: the names an expression calls that are neither built-ins nor bound
by the expression itself (what a model checks at deployment)."""

from __future__ import annotations

import pytest

from legato import feel


@pytest.mark.parametrize(
    ("expression", "unknown"),
    [
        ("foo(1)", {"foo"}),
        ("is definde(x) or bar baz(2)", {"is definde", "bar baz"}),
        ("upper case(x) + trim(y)", set()),
        ("get or else(x, 1)", set()),
        ("f(g(1))", {"f", "g"}),
        ("{double: function(n) n * 2, r: double(3)}.r", set()),
        ("{r: double(3), double: function(n) n * 2}.r", set()),  # entries see one another
        ("{a: {f: function() 1}, b: f()}", {"f"}),  # not the entries of a nested context
        ("(function(h) h(1))(function(n) n)", set()),
        ("function(h) h(1) + k(2)", {"k"}),
        ("for g in fs return g(1)", set()),
        ("for i in [1] return partial(i)", set()),
        ("some q in qs satisfies q(1)", set()),
        ("every q in qs, r in q(1) satisfies r(2) and s(3)", {"s"}),
        ("xs[g(item)]", set()),  # a filter condition sees each item's entries
        ("h(xs[g(item)])", {"h"}),
        ("m.f(1)", set()),  # a path: what m holds is known only at run time
        ("if c(1) then d(2) else e(3)", {"c", "d", "e"}),
        ("x in (f(1), g(2))", {"f", "g"}),
        ("[a(1), {k: b(2)}]", {"a", "b"}),
    ],
)
def test_unknown_functions(expression: str, unknown: set[str]) -> None:
    assert feel.compile(expression).unknown_functions == unknown


def test_unary_tests_report_unknown_functions_too() -> None:
    assert feel.compile_unary_tests("< foo(1), bar(?), abs(?) > 1").unknown_functions == {
        "foo",
        "bar",
    }
    assert feel.compile_unary_tests("-").unknown_functions == frozenset()


def test_an_unknown_function_still_gives_null_with_a_warning_at_run_time() -> None:
    result = feel.compile("foo(1)").evaluate_detailed({})
    assert result.value is None and result.warnings == ["no function named 'foo'"]
