"""Limits on one evaluation: runaway expressions stop early, with bounded memory.

Memory is measured with tracemalloc (the peak of what Python allocated while evaluating), so
the bounds hold on any machine; time is never asserted.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from legato import feel
from legato.feel import FeelLimitError, FeelLimits

MB = 1024 * 1024
OVERFLOW = "number overflow: the result is beyond the range of FEEL numbers"


def peak_memory(action: Callable[[], Any]) -> int:
    """The most memory allocated at once while ``action`` ran."""
    tracemalloc.start()
    try:
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def refused(text: str, context: dict[str, Any] | None = None, **limits: int) -> FeelLimitError:
    """The error of evaluating ``text``, which must pass a limit."""
    with pytest.raises(FeelLimitError) as caught:
        feel.evaluate(text, context, limits=FeelLimits(**limits) if limits else None)
    return caught.value


def refused_within(megabytes: int, text: str, **limits: int) -> FeelLimitError:
    """The error of evaluating ``text``, which must pass a limit having allocated at most
    ``megabytes`` at once."""
    errors: list[FeelLimitError] = []

    def evaluate() -> None:
        errors.append(refused(text, **limits))

    peak = peak_memory(evaluate)
    assert peak < megabytes * MB, f"{peak / MB:.1f} MB"
    return errors[0]


# -- the bombs of the issue: refused within the limits, memory bounded ---------------------------

NESTED_FOR = "for a in 1..1000, b in 1..1000, c in 1..1000 return a"


def test_a_nested_for_stops_at_the_iteration_limit() -> None:
    error = refused_within(32, NESTED_FOR)

    assert error.limit == "iterations"
    assert error.maximum == 1_000_000
    assert str(error) == (
        f"expression `{NESTED_FOR}` exceeded the iteration limit "
        "(1,000,000 loop iterations and function calls)"
    )


def test_a_range_beyond_the_iteration_limit_is_refused_before_it_starts() -> None:
    text = "for i in 1..100000000 return i"

    assert refused_within(1, text).limit == "iterations"


JOIN = 'string join(for i in 1..250000 return "0123456789abcdefghijklmnopqrstuvwxyz0123456789ab")'


def test_a_huge_string_join_is_refused_before_it_is_built() -> None:
    # The list of 250,000 references is built; the 12-million-character string is not.
    error = refused_within(16, JOIN)

    assert error.limit == "string_length"
    assert "exceeded the string length limit (10,000,000 characters)" in str(error)
    assert "string join(for i in 1..250000" in str(error)


DOUBLING = (
    '{f: function(s, n) if n = 0 then s else f(s + s, n - 1), r: string length(f("x", 40))}.r'
)


def test_repeated_concatenation_stops_at_the_string_length_limit() -> None:
    assert refused_within(48, DOUBLING).limit == "string_length"


def test_many_long_strings_built_in_a_loop_stop_at_the_memory_limit() -> None:
    # Each string is within the length limit; together they are not.
    text = (
        '{f: function(s, n) if n = 0 then s else f(s + s, n - 1), s: f("x", 20),'
        " r: string length(string join(for i in 1..1000 return s + string(i)))}.r"
    )

    assert refused_within(48, text, memory=20_000_000).limit == "memory"


def test_small_lists_and_contexts_built_in_a_loop_count_against_the_memory_limit() -> None:
    small = ", ".join(f"{key}: [i, i, i, i, i, i, i, i]" for key in "abcd")
    text = f"count(for i in 1..1000000 return {{{small}}})"

    # Each literal is small, but a million iterations would keep 36 million items.
    assert refused_within(32, text, memory=25_000_000).limit == "memory"


def test_a_huge_exponent_is_null_with_a_readable_warning_at_once() -> None:
    results: list[feel.EvaluationResult] = []
    peak = peak_memory(lambda: results.append(feel.compile("10 ** 1000000").evaluate_detailed()))

    assert results[0].value is None
    assert results[0].warnings == [OVERFLOW]
    assert peak < 1 * MB


RECURSION = "{f: function(n) if n = 0 then 0 else 1 + f(n - 1), r: f(1000000)}.r"


def test_deep_recursion_stops_at_the_nesting_limit() -> None:
    error = refused_within(16, RECURSION)

    assert error.limit == "depth"
    assert "nesting limit (200 levels)" in str(error)


def test_the_nesting_limit_counts_calls_of_user_functions() -> None:
    error = refused(RECURSION, depth=50)

    assert not error.stack
    assert str(error).endswith("exceeded the nesting limit (50 levels)")
    assert feel.evaluate(RECURSION.replace("1000000", "49"), limits=FeelLimits(depth=50)) == 49


def test_deeply_nested_contexts_built_by_recursion_stop_at_the_nesting_limit() -> None:
    text = "{f: function(n) if n = 0 then {} else {a: f(n - 1)}, r: f(100000)}.r"

    assert refused(text).limit == "depth"


def test_branching_recursion_stops_at_the_iteration_limit() -> None:
    # Shallow but exponential: two billion calls.
    text = "{fib: function(n) if n < 2 then n else fib(n - 1) + fib(n - 2), r: fib(45)}.r"

    assert refused_within(1, text, iterations=10_000).limit == "iterations"


# -- values that share parts --------------------------------------------------------------------


def test_a_result_too_large_once_written_out_is_refused() -> None:
    # One string of a million characters, a hundred thousand times: built cheaply, but a
    # hundred gigabytes for whoever stores the result.
    text = (
        '{s: string join(for i in 1..100000 return "0123456789"), r: for i in 1..100000 return s}.r'
    )

    assert refused(text).limit == "memory"


def test_a_result_doubling_through_context_entries_is_refused() -> None:
    entries = ", ".join(f"a{i + 1}: [a{i}, a{i}]" for i in range(40))
    text = f'{{a0: "0123456789", {entries}}}.a40'

    assert refused(text).limit == "memory"


def test_a_result_nested_too_deeply_is_refused() -> None:
    text = "for i in 1..1000 return if i = 1 then [] else [partial[i - 1]]"

    assert refused(text).limit == "depth"


def test_flatten_of_shared_lists_stops_at_the_collection_size_limit() -> None:
    text = (
        "{l: for i in 1..1000 return i, m: for i in 1..1000 return l,"
        " r: count(flatten(for i in 1..1000 return m))}.r"
    )

    assert refused(text).limit == "collection_size"
    assert refused_within(4, text, collection_size=100_000).maximum == 100_000


def test_string_of_shared_values_is_refused_before_it_is_built() -> None:
    text = (
        '{s: string join(for i in 1..10000 return "0123456789"),'
        " r: string length(string(for i in 1..1000 return s))}.r"
    )

    assert refused_within(16, text).limit == "string_length"


def test_replace_stops_as_the_result_grows() -> None:
    text = 'string length(replace(s, "x", s))'

    assert refused(text, {"s": "x" * 10_000}).limit == "string_length"
    assert feel.evaluate(text, {"s": "x" * 100}) == 10_000


def test_concatenate_of_many_large_lists_is_refused_before_it_is_built() -> None:
    lists = ", ".join(["l"] * 20)
    text = f"{{l: for i in 1..100000 return i, r: count(concatenate({lists}))}}.r"

    assert refused(text).limit == "collection_size"
    assert feel.evaluate(text.replace("100000", "1000")) == 20_000


def test_context_merge_of_many_contexts_is_refused_before_it_is_built() -> None:
    text = "{c: context(for i in 1..1000 return {key: string(i), value: i}),"
    text += " r: context merge(for i in 1..2000 return c)}.r"

    assert refused(text).limit == "collection_size"


# -- limits are checked as the evaluation runs, and stop it -------------------------------------


def test_a_breach_is_not_hidden_by_an_expression_that_ignores_the_value() -> None:
    # A failure inside a context entry that is never used would be invisible if it were null.
    error = refused("{bomb: count(" + NESTED_FOR + "), r: 1}.r", iterations=10_000)

    assert error.limit == "iterations"


def test_quantifiers_spend_only_the_iterations_they_use() -> None:
    limits = FeelLimits(iterations=100)
    many = {"xs": list(range(60))}

    text = "(some x in xs satisfies x = 0) and (some x in xs satisfies x = 1)"
    assert feel.evaluate(text, many, limits=limits) is True
    with pytest.raises(FeelLimitError):
        feel.evaluate("every x in xs satisfies every y in xs satisfies true", many, limits=limits)


def test_filters_spend_an_iteration_per_item() -> None:
    limits = FeelLimits(iterations=100)

    assert feel.evaluate("xs[item > 50]", {"xs": list(range(100))}, limits=limits) == list(
        range(51, 100)
    )
    with pytest.raises(FeelLimitError, match="iteration limit"):
        feel.evaluate("xs[item > 50]", {"xs": list(range(101))}, limits=limits)


def test_warnings_of_a_long_evaluation_are_bounded() -> None:
    result = feel.compile('for i in 1..10000 return date("not a date " + string(i))')

    warnings = result.evaluate_detailed().warnings

    assert len(warnings) == 101
    assert warnings[-1] == "... (more left out)"


# -- configuring the limits ---------------------------------------------------------------------


def test_lowered_limits_refuse_what_the_defaults_allow() -> None:
    assert feel.evaluate("count(for x in 1..10 return x)", limits=FeelLimits(iterations=10)) == 10
    assert refused("count(for x in 1..11 return x)", iterations=10).limit == "iterations"
    assert refused("count(for x in 1..11 return x)", collection_size=10).limit == (
        "collection_size"
    )
    long = {"s": "x" * 60}
    assert feel.evaluate("string length(s + s)", long) == 120
    assert refused("string length(s + s)", long, string_length=100).limit == "string_length"


def test_raised_limits_allow_what_the_defaults_refuse() -> None:
    items = {"items": ["0123456789ab"] * 1_000_000}
    text = "string length(string join(items))"
    assert refused(text, items).limit == "string_length"

    raised = FeelLimits(string_length=20_000_000, memory=200_000_000)

    assert feel.evaluate(text, items, limits=raised) == 12_000_000


def test_use_limits_applies_to_evaluations_in_the_block() -> None:
    text = "count(for x in 1..11 return x)"

    with feel.use_limits(FeelLimits(iterations=10)):
        assert feel.current_limits().iterations == 10
        with pytest.raises(FeelLimitError):
            feel.evaluate(text)
        assert feel.evaluate(text, limits=FeelLimits()) == 11  # given limits come first
    assert feel.current_limits() == feel.DEFAULT_LIMITS
    assert feel.evaluate(text) == 11


def test_limits_must_be_positive_integers() -> None:
    with pytest.raises(ValueError, match="iterations"):
        FeelLimits(iterations=0)
    with pytest.raises(ValueError, match="depth"):
        FeelLimits(depth=1.5)  # type: ignore[arg-type]


def test_the_defaults_suit_real_expressions() -> None:
    orders = [{"id": i, "amount": i % 97, "tags": ["a", "b"]} for i in range(10_000)]
    text = """{
        big: orders[amount > 50],
        total: sum(for o in big return o.amount),
        labels: string join(for o in big return "order " + string(o.id), ", "),
        ranked: sort(big, function(x, y) x.amount > y.amount)
    }"""

    result = feel.evaluate(text, {"orders": orders})

    assert result["total"] == sum(o["amount"] for o in orders if o["amount"] > 50)
    assert len(result["ranked"]) == len(result["big"])


@pytest.fixture(autouse=True)
def _default_limits() -> Iterator[None]:
    assert feel.current_limits() == feel.DEFAULT_LIMITS
    yield
    assert feel.current_limits() == feel.DEFAULT_LIMITS
